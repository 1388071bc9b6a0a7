#include "controller/git/deploy.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/source_archive.h"
#include "controller/ops/procfile.h"

namespace dflow::git {
namespace {

using std::chrono::milliseconds;

std::string StepLine(const store::OpStep& s, size_t total) {
  std::string head = absl::StrCat("[", s.index + 1, "/", total, "] ", s.description);
  if (s.state == "running") return absl::StrCat(head, " ...");
  if (s.state == "failed") return absl::StrCat(head, ": failed: ", s.error);
  if (s.state == "skipped") return absl::StrCat(head, ": skipped");
  if (s.state == "compensated") return absl::StrCat(head, ": undone");
  if (s.output.empty() || s.output.find('\n') != std::string::npos) {
    return absl::StrCat(head, ": done");
  }
  return absl::StrCat(head, ": done (", s.output, ")");
}

// "local-1 127.0.0.1:40123, local-2 127.0.0.1:40456" for the running instances.
std::string Answers(api::ControllerContext* ctx, const std::string& app, int64_t version) {
  auto instances = ctx->store->ListInstances(app);
  auto servers = ctx->store->ListServers();
  if (!instances.ok() || !servers.ok()) return "";
  std::map<std::string, std::string> host;
  for (const auto& s : *servers) {
    std::string h;
    int port = 0;
    SplitHostPort(s.address, &h, &port);
    host[s.name] = h;
  }
  std::vector<std::string> out;
  for (const auto& i : *instances) {
    if (i.release != version || i.state != store::kInstanceRunning || i.port == 0) continue;
    out.push_back(
        absl::StrCat(i.process, " on ", i.server, " at http://", host[i.server], ":", i.port, "/"));
  }
  return absl::StrJoin(out, ", ");
}

}  // namespace

absl::StatusOr<ops::OpRef> StartDeploy(api::ControllerContext* ctx, const std::string& app,
                                       const std::string& digest, const std::string& sha,
                                       const std::string& pusher, const std::string& pushed_by) {
  BlobStore blobs(ctx->archive_dir);
  auto procfile = api::ReadProcfile(blobs.Path(digest));
  absl::Status valid = procfile.status();
  if (valid.ok()) {
    auto types = ops::ParseProcfileTypes(*procfile);
    if (!types.ok()) {
      valid = absl::InvalidArgumentError(
          absl::StrCat("the commit's Procfile is not valid: ", types.status().message()));
    } else if (ops::ScalableTypes(*types).empty()) {
      valid = absl::InvalidArgumentError(
          "the commit's Procfile declares no process to run; add one, e.g. `web: python3 app.py`");
    }
  }
  if (!valid.ok()) {
    std::remove(blobs.Path(digest).c_str());
    return valid;
  }
  return ctx->engine->Deploy(app, digest, *procfile, absl::StrCat("git commit ", sha), pusher, sha,
                             pushed_by);
}

absl::StatusOr<std::string> FollowDeploy(api::ControllerContext* ctx, const ops::OpRef& ref,
                                         const std::function<void(const std::string&)>& say,
                                         const std::atomic<bool>& stop) {
  if (ref.queued_behind != 0) {
    std::string what = absl::StrCat("op ", ref.queued_behind);
    if (auto other = ctx->store->GetOp(ref.queued_behind); other.ok()) {
      what = absl::StrCat("op ", other->id, " (", other->kind,
                          other->description.empty() ? "" : ": ", other->description, ")");
    }
    say(absl::StrCat("waiting for ", what, " of the same app to finish; this deploy (op ", ref.id,
                     ", release v", ref.release, ") runs next"));
  }
  std::map<int, std::string> shown;  // step index -> state already said
  uint64_t seen = 0;
  for (;;) {
    if (stop.load()) return absl::UnavailableError("the controller is shutting down");
    ASSIGN_OR_RETURN(store::Op op, ctx->store->GetOp(ref.id));
    for (const auto& s : op.steps) {
      if (s.state == "pending" || shown[s.index] == s.state) continue;
      shown[s.index] = s.state;
      say(StepLine(s, op.steps.size()));
    }
    if (store::OpEnded(op.state)) {
      if (op.state == "succeeded") {
        std::string where = Answers(ctx, op.app, ref.release);
        return absl::StrCat("release v", ref.release, " of ", op.app, " is live",
                            where.empty() ? "" : absl::StrCat(": ", where));
      }
      std::string current = "no release serves yet";
      if (auto app = ctx->store->GetApp(op.app); app.ok() && app->current_release > 0) {
        current = absl::StrCat("release v", app->current_release, " keeps serving");
      }
      return absl::FailedPreconditionError(
          absl::StrCat("deploy of ", op.app, " (op ", op.id, ", release v", ref.release, ") ended ",
                       op.state, op.error.empty() ? "" : absl::StrCat(": ", op.error), "; ",
                       current, ". `dflow ops show ", op.id, "` has the details"));
    }
    seen = ctx->engine->WaitForChange(seen, milliseconds(500));
  }
}

}  // namespace dflow::git
