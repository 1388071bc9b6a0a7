// Logs, one-off runs and operations: the RPCs that read agents or follow ops.
#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/blob_store.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/apps_convert.h"
#include "controller/api/apps_service.h"
#include "controller/ops/engine.h"
#include "controller/ops/plan.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;
using std::chrono::milliseconds;

constexpr int kDefaultLogLines = 100;
constexpr int kMaxLogLines = 10000;
constexpr milliseconds kFollowPoll{1000};
constexpr milliseconds kDefaultRunTimeout{3600 * 1000};

struct ServerLine {
  std::string server;
  agents::AgentLogLine line;
};

// Sleeps up to `d`, waking early when the client goes away; false then.
bool WaitUnlessCancelled(grpc::ServerContext* ctx, milliseconds d) {
  for (milliseconds waited{0}; waited < d; waited += milliseconds(100)) {
    if (ctx->IsCancelled()) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return !ctx->IsCancelled();
}

std::string Progress(const store::OpStep& s, size_t total) {
  std::string head = absl::StrCat("[", s.index + 1, "/", total, "] ", s.description);
  if (s.state == "running") return absl::StrCat(head, " …");
  if (s.state == "failed") return absl::StrCat(head, ": failed: ", s.error);
  if (s.state == "skipped") return absl::StrCat(head, ": skipped");
  std::string out = s.output;
  if (out.find('\n') != std::string::npos) return absl::StrCat(head, ": done");
  return absl::StrCat(head, ": done", out.empty() ? "" : absl::StrCat(" (", out, ")"));
}

}  // namespace

grpc::Status AppsService::Logs(grpc::ServerContext* ctx, const v1::LogsRequest* request,
                               grpc::ServerWriter<v1::LogLine>* writer) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (request->lines() < 0) {
    return ToGrpc(absl::InvalidArgumentError("-n must be 0 or more lines"));
  }
  int n = request->lines() == 0 ? kDefaultLogLines : std::min(request->lines(), kMaxLogLines);
  std::map<std::string, int64_t> last_ms;                // server -> newest line sent
  std::map<std::string, std::set<std::string>> at_last;  // lines sent at that ms
  for (bool first = true;; first = false) {
    auto instances = ctx_->store->ListInstances(app->name);
    if (!instances.ok()) return ToGrpc(instances.status());
    std::set<std::string> servers;
    for (const auto& i : *instances) servers.insert(i.server);
    std::vector<ServerLine> lines;
    for (const auto& server : servers) {
      auto got = ctx_->agents->Logs(server, app->name, request->process(), n);
      if (!got.ok()) {
        if (first) {
          agents::AgentLogLine note;
          note.time_ms = ctx_->clock->NowMs();
          note.text = absl::StrCat("(logs of ", app->name, " on ", server,
                                   " are unavailable: ", got.status().message(), ")");
          lines.push_back({server, note});
        }
        continue;
      }
      for (auto& l : *got) {
        std::string key = absl::StrCat(l.instance, "\n", l.text);
        auto seen = last_ms.find(server);
        if (seen != last_ms.end() &&
            (l.time_ms < seen->second ||
             (l.time_ms == seen->second && at_last[server].count(key) > 0))) {
          continue;
        }
        lines.push_back({server, std::move(l)});
      }
    }
    std::stable_sort(lines.begin(), lines.end(), [](const ServerLine& a, const ServerLine& b) {
      return a.line.time_ms < b.line.time_ms;
    });
    if (first && static_cast<int>(lines.size()) > n) lines.erase(lines.begin(), lines.end() - n);
    for (const auto& l : lines) {
      if (l.line.instance.empty()) continue;  // notes do not move the follow position
      if (l.line.time_ms > last_ms[l.server]) {
        last_ms[l.server] = l.line.time_ms;
        at_last[l.server].clear();
      }
      at_last[l.server].insert(absl::StrCat(l.line.instance, "\n", l.line.text));
    }
    for (const auto& l : lines) {
      v1::LogLine out;
      out.set_server(l.server);
      out.set_instance(l.line.instance);
      out.set_process(l.line.process);
      out.set_time_ms(l.line.time_ms);
      out.set_text(l.line.text);
      if (!writer->Write(out)) return grpc::Status::OK;
    }
    if (!request->follow() || !WaitUnlessCancelled(ctx, kFollowPoll)) return grpc::Status::OK;
  }
}

grpc::Status AppsService::Run(grpc::ServerContext*, const v1::RunRequest* request,
                              grpc::ServerWriter<v1::RunOutput>* writer) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (request->argv().empty()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("give the command to run, e.g. `dflow run ", app->name, " -- python3 -V`")));
  }
  if (app->current_release == 0) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("app ", app->name,
                     " has not been deployed yet; a one-off command runs with its current "
                     "release, so deploy it first")));
  }
  auto release = ctx_->store->GetRelease(app->name, app->current_release);
  if (!release.ok()) return ToGrpc(release.status());
  // A server that runs the release already, else one that fits the app (the
  // release is copied and prepared there first).
  std::string server;
  auto instances = ctx_->store->ListInstances(app->name);
  if (!instances.ok()) return ToGrpc(instances.status());
  for (const auto& i : *instances) {
    if (i.state == store::kInstanceRunning && i.release == app->current_release &&
        ctx_->fleet->Reachable(i.server) && (server.empty() || i.server < server)) {
      server = i.server;
    }
  }
  if (server.empty()) {
    auto servers = ctx_->store->ListServers();
    auto all = ctx_->store->ListAllInstances();
    auto apps = ctx_->store->ListApps();
    if (!servers.ok() || !all.ok() || !apps.ok()) {
      return ToGrpc(absl::InternalError("cannot read the fleet from the store"));
    }
    placement::PlacementRequest req;
    req.app = app->name;
    req.count = 1;
    req.constraints = app->constraints;
    if (!app->pinned_server.empty()) req.pinned_server = app->pinned_server;
    req.memory_bytes = app->memory_bytes;
    req.cpus = app->cpus;
    auto placed = placement::Place(ops::Snapshot(*servers, *all, *apps), req);
    if (!placed.ok()) {
      return ToGrpc(absl::Status(placed.status().code(),
                                 absl::StrCat("no server can run a one-off command of ", app->name,
                                              ": ", placed.status().message())));
    }
    server = placed->servers.front();
    std::string key =
        absl::StrCat("run-", app->name, "-v", release->version, "-", ctx_->clock->NowMs());
    BlobStore blobs(ctx_->archive_dir);
    if (auto s = release->image.empty()
                     ? ctx_->agents->EnsureArchive(server, release->source_digest,
                                                   blobs.Path(release->source_digest))
                     : absl::OkStatus();
        !s.ok()) {
      return ToGrpc(s);
    }
    agents::PrepareSpec spec{app->name,       release->version, release->source_digest,
                             release->config, app->health_path, app->memory_bytes,
                             app->cpus,       release->image};
    if (auto s = ctx_->agents->PrepareRelease(server, key, spec); !s.ok())
      return ToGrpc(s.status());
  }
  milliseconds timeout =
      request->timeout_ms() > 0 ? milliseconds(request->timeout_ms()) : kDefaultRunTimeout;
  std::vector<std::string> argv(request->argv().begin(), request->argv().end());
  auto code = ctx_->agents->RunOneOff(server, app->name, release->version, argv, timeout,
                                      [&](const std::string& data) {
                                        v1::RunOutput out;
                                        out.set_data(data);
                                        out.set_server(server);
                                        writer->Write(out);
                                      });
  if (!code.ok()) return ToGrpc(code.status());
  v1::RunOutput last;
  last.set_done(true);
  last.set_exit_code(*code);
  last.set_server(server);
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status AppsService::ListOps(grpc::ServerContext*, const v1::ListOpsRequest* request,
                                  v1::ListOpsResponse* response) {
  if (!request->app().empty()) {
    if (auto s = ValidateAppName(request->app()); !s.ok()) return ToGrpc(s);
  }
  int limit = request->limit() <= 0 ? 50 : std::min(request->limit(), 1000);
  auto ops = ctx_->store->ListOps(request->app(), limit);
  if (!ops.ok()) return ToGrpc(ops.status());
  for (const auto& op : *ops) ToProto(op, /*with_steps=*/false, response->add_ops());
  return grpc::Status::OK;
}

grpc::Status AppsService::GetOp(grpc::ServerContext*, const v1::GetOpRequest* request,
                                v1::Op* response) {
  auto op = ctx_->store->GetOp(request->id());
  if (!op.ok()) return ToGrpc(op.status());
  ToProto(*op, /*with_steps=*/true, response);
  return grpc::Status::OK;
}

grpc::Status AppsService::CancelOp(grpc::ServerContext*, const v1::CancelOpRequest* request,
                                   v1::Op* response) {
  auto op = ctx_->engine->Cancel(request->id());
  if (!op.ok()) return ToGrpc(op.status());
  ToProto(*op, /*with_steps=*/true, response);
  return grpc::Status::OK;
}

grpc::Status AppsService::WatchOp(grpc::ServerContext* ctx, const v1::WatchOpRequest* request,
                                  grpc::ServerWriter<v1::OpProgress>* writer) {
  uint64_t generation = ctx_->engine->Generation();
  std::map<int, std::string> seen;   // step index -> state already reported
  std::map<int, size_t> live_shown;  // step index -> live output lines sent
  bool queued_noted = false, cancel_noted = false;
  auto say = [&](const std::string& text) {
    v1::OpProgress p;
    p.set_text(text);
    return writer->Write(p);
  };
  while (true) {
    auto op = ctx_->store->GetOp(request->id());
    if (!op.ok()) return ToGrpc(op.status());
    if (op->state == "pending" && !queued_noted) {
      queued_noted = true;
      auto active = ctx_->store->ActiveOps();
      if (active.ok()) {
        for (const auto& other : *active) {
          if (other.app == op->app && other.id < op->id) {
            if (!say(absl::StrCat("op ", op->id, " waits in line behind op ", other.id, " (",
                                  other.kind, " of ", other.app, ")"))) {
              return grpc::Status::OK;
            }
            break;
          }
        }
      }
    }
    if (op->cancel_requested && !cancel_noted && !store::OpEnded(op->state)) {
      cancel_noted = true;
      say("cancel requested: the op stops at its next step and undoes what it did (once a "
          "release is serving it finishes instead; `dflow rollback` then goes back)");
    }
    for (const auto& s : op->steps) {
      if (s.state == "pending") continue;
      // A running step's output as it happens (a Dokku build), then its end.
      auto live = [&] {
        for (const auto& line : ctx_->engine->LiveOutput(op->id, s.index, live_shown[s.index])) {
          live_shown[s.index]++;
          if (!say(absl::StrCat("    ", line))) return false;
        }
        return true;
      };
      if (seen[s.index] == s.state) {
        if (s.state == "running" && !live()) return grpc::Status::OK;
        continue;
      }
      if (s.state != "running" && !live()) return grpc::Status::OK;
      seen[s.index] = s.state;
      if (!say(Progress(s, op->steps.size()))) return grpc::Status::OK;
      if (s.state == "done" && s.output.find('\n') != std::string::npos) {
        for (absl::string_view line : absl::StrSplit(s.output, '\n')) {
          if (!line.empty() && !say(absl::StrCat("    ", line))) return grpc::Status::OK;
          if (live_shown[s.index] > 0) break;  // the rest streamed already
        }
      }
    }
    if (store::OpEnded(op->state)) {
      v1::OpProgress done;
      done.set_done(true);
      done.set_state(op->state);
      done.set_error(op->error);
      writer->Write(done);
      return grpc::Status::OK;
    }
    if (ctx->IsCancelled()) return grpc::Status::OK;
    generation = ctx_->engine->WaitForChange(generation, milliseconds(500));
  }
}

}  // namespace dflow::api
