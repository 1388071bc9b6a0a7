#include "controller/http/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/blob_store.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/names.h"
#include "common/process.h"
#include "controller/git/deploy.h"

namespace dflow::http {
namespace {

Response Text(int status, const std::string& text) {
  return {status, "text/plain; charset=utf-8", text + "\n"};
}

// A tool's multi-line error as one line (events and the forge's delivery log).
std::string OneLine(absl::string_view text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    absl::StrAppend(&out, out.empty() ? "" : "; ", line);
  }
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  // The end says what still serves and what to do: shorten the middle.
  if (out.size() > 700) out = out.substr(0, 350) + " … " + out.substr(out.size() - 300);
  return out;
}

// What git said, without RunGit's "`git ...` failed: " (the command line).
absl::string_view GitSaid(absl::string_view error) {
  auto at = error.find("` failed: ");
  return at == absl::string_view::npos ? error : error.substr(at + 10);
}

Response Json(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

}  // namespace

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return HexEncode(std::string(reinterpret_cast<char*>(out), len));
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Webhooks::Webhooks(api::ControllerContext* ctx, git::Repos* repos,
                   std::chrono::milliseconds reject_every)
    : ctx_(ctx), repos_(repos), reject_every_(reject_every) {}

Webhooks::~Webhooks() { Stop(); }

void Webhooks::Stop() {
  stopping_ = true;
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(deploys_);
  }
  for (auto& t : threads) t.join();
}

void Webhooks::Register(Server* server) {
  server->Post("/hooks/github", [this](const Request& r) { return Github(r); });
  server->Post("/hooks/gitlab", [this](const Request& r) { return Gitlab(r); });
}

Response Webhooks::Github(const Request& r) {
  std::string app = r.query.count("app") ? r.query.at("app") : "";
  if (auto s = ValidateAppName(app); !s.ok()) {
    return Text(400, absl::StrCat("add ?app=NAME to the webhook URL: ", s.message()));
  }
  auto git = ctx_->store->GetAppGit(app);
  if (!git.ok() || git->webhook_secret.empty()) {
    Rejected("github", app, r.Header("x-github-delivery"), "the app has no webhook secret set");
    return Text(401, "unknown app or no webhook secret set (`dflow apps set " + app +
                         " --webhook-secret-generate`)");
  }
  std::string sig = r.Header("x-hub-signature-256");
  std::string want = "sha256=" + HmacSha256Hex(git->webhook_secret, r.body);
  if (!ConstantTimeEquals(sig, want)) {
    Rejected("github", app, r.Header("x-github-delivery"), "bad or missing X-Hub-Signature-256");
    return Text(401, "bad or missing X-Hub-Signature-256");
  }
  std::string event = r.Header("x-github-event");
  if (event == "ping") return Text(200, "pong");
  if (event != "push") return Text(202, "ignored: event " + event + " is not a push");
  std::string delivery = r.Header("x-github-delivery");
  if (delivery.empty()) return Text(400, "missing X-GitHub-Delivery");
  return Accept("github", app, delivery, r.body);
}

Response Webhooks::Gitlab(const Request& r) {
  std::string app = r.query.count("app") ? r.query.at("app") : "";
  if (auto s = ValidateAppName(app); !s.ok()) {
    return Text(400, absl::StrCat("add ?app=NAME to the webhook URL: ", s.message()));
  }
  auto git = ctx_->store->GetAppGit(app);
  std::string uuid = r.Header("x-gitlab-event-uuid");
  if (!git.ok() || git->webhook_secret.empty()) {
    Rejected("gitlab", app, uuid, "the app has no webhook secret set");
    return Text(401, "unknown app or no webhook secret set (`dflow apps set " + app +
                         " --webhook-secret-generate`)");
  }
  if (!ConstantTimeEquals(r.Header("x-gitlab-token"), git->webhook_secret)) {
    Rejected("gitlab", app, uuid, "bad or missing X-Gitlab-Token");
    return Text(401, "bad or missing X-Gitlab-Token");
  }
  std::string event = r.Header("x-gitlab-event");
  if (event != "Push Hook") return Text(202, "ignored: event " + event + " is not a push");
  std::string delivery = uuid;
  if (delivery.empty()) delivery = r.Header("idempotency-key");
  if (delivery.empty()) return Text(400, "missing X-Gitlab-Event-UUID");
  return Accept("gitlab", app, delivery, r.body);
}

Response Webhooks::Accept(const std::string& forge, const std::string& app,
                          const std::string& delivery, const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object()) return Text(400, "the body is not a JSON object");
  // json::value throws on a field of another type; a forge payload is untrusted.
  auto text_field = [&json](const char* key) {
    auto it = json.find(key);
    return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string ref = text_field("ref");
  std::string sha = text_field("after");
  bool hex = (sha.size() == 40 || sha.size() == 64) &&
             sha.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex) return Text(400, "the push has no commit SHA in \"after\"");
  store::WebhookDelivery d;
  d.forge = forge;
  d.app = app;
  d.id = delivery;
  d.sha = sha;
  auto claimed = ctx_->store->ClaimDelivery(d);
  if (!claimed.ok()) return Text(500, std::string(claimed.status().message()));
  if (!*claimed) return Text(200, "ignored: delivery " + delivery + " was received before");
  auto git = ctx_->store->GetAppGit(app);
  if (!git.ok()) return Text(500, std::string(git.status().message()));
  std::string branch = git->DeployBranch();
  if (ref != "refs/heads/" + branch || sha.find_first_not_of('0') == std::string::npos) {
    d.state = "ignored";
    d.message = ref + " is not the deploy branch " + branch;
    ctx_->store->UpdateDelivery(d, "", "").IgnoreError();
    return Text(202, "ignored: " + d.message);
  }
  if (git->git_url.empty()) {
    std::string why =
        absl::StrCat("app ", app, " has no git URL to fetch from; run `dflow apps set ", app,
                     " --git-url URL`, then redeliver ", delivery, " from the forge");
    Fail(d, why);
    return Text(409, why);
  }
  auto job = std::make_shared<Job>();
  job->delivery = d;
  job->url = git->git_url;
  job->branch = branch;
  std::future<Started> started = job->started.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      Fail(d, "the controller was shutting down; redeliver it from the forge");
      return Text(503, "the controller is shutting down; redeliver later");
    }
    deploys_.emplace_back(&Webhooks::Deploy, this, job);
  }
  // Forges give up on a delivery after about 10 s: answer with the op when the
  // fetch is that quick (it usually is), else say where the result will be.
  nlohmann::json out = {{"app", app}, {"delivery", delivery}, {"sha", sha}};
  if (started.wait_for(reply_wait_) != std::future_status::ready) {
    out["state"] = "received";
    out["op_id"] = nullptr;
    out["message"] =
        absl::StrCat("fetching ", sha.substr(0, 12), " from ", job->url,
                     "; the result goes to `dflow events` and `dflow apps show ", app, "`");
    return Json(202, out);
  }
  Started s = started.get();
  if (!s.error.empty()) return Text(s.status, s.error);
  out["state"] = "deploying";
  out["op_id"] = s.ref.id;
  out["release"] = s.ref.release;
  out["message"] =
      absl::StrCat("deploying ", sha.substr(0, 12), " of ", app, " as release v", s.ref.release,
                   " (op ", s.ref.id, "); follow it with `dflow ops show ", s.ref.id, "`");
  return Json(202, out);
}

void Webhooks::Rejected(const std::string& forge, const std::string& app,
                        const std::string& delivery, const std::string& why) {
  // The delivery id is the sender's: only its plain characters go into the log.
  std::string id;
  for (char c : delivery.substr(0, 80)) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.') id.push_back(c);
  }
  if (id.empty()) id = "(none)";
  spdlog::warn("webhook delivery {} ({}) for {}: 401, {}", id, forge, app, why);
  if (!ctx_->store->GetApp(app).ok()) return;
  int64_t now = ctx_->clock->NowMs();
  int64_t left_out = 0;
  {
    std::lock_guard<std::mutex> lock(reject_mu_);
    RejectWindow& w = rejects_[app];
    if (w.last_event_ms != 0 && now - w.last_event_ms < reject_every_.count()) {
      ++w.left_out;
      return;
    }
    left_out = w.left_out;
    w = {now, 0};
  }
  std::string more =
      left_out == 0
          ? ""
          : absl::StrCat("; ", left_out, " more rejected deliver", left_out == 1 ? "y" : "ies",
                         " for ", app, " since the last such event were not recorded one by one");
  ctx_->store
      ->AppendEvent("git.webhook_rejected", "", app,
                    absl::StrCat("webhook delivery ", id, " (", forge, ") for app ", app,
                                 " rejected with 401: ", why, more,
                                 ". If the forge is yours, give it the app's secret again "
                                 "(`dflow apps set ",
                                 app, " --webhook-secret-generate` makes a new one)"))
      .IgnoreError();
}

void Webhooks::Fail(store::WebhookDelivery d, const std::string& why) {
  spdlog::warn("webhook delivery {} ({}) for {}: {}", d.id, d.forge, d.app, why);
  d.state = "failed";
  d.message = why;
  ctx_->store
      ->UpdateDelivery(d, "git.webhook_failed",
                       absl::StrCat("webhook delivery ", d.id, " (", d.forge, ") for app ", d.app,
                                    " failed: ", why))
      .IgnoreError();
}

void Webhooks::Deploy(std::shared_ptr<Job> job) {
  store::WebhookDelivery& d = job->delivery;
  const std::string& app = d.app;
  const std::string& sha = d.sha;
  std::string repo = repos_->Path(app);
  std::string pusher = d.forge + " webhook, delivery " + d.id;
  bool told = false;
  // Before the op exists: fail the delivery (it may be redelivered) and, if
  // the forge still waits, answer it with `status`.
  auto fail = [&](int status, const std::string& why) {
    Fail(d, why);
    if (!told) job->started.set_value({status, why, {}});
    told = true;
  };
  auto redeliver = absl::StrCat("; then redeliver ", d.id, " from the forge");
  auto fetched =
      git::RunGit({"-c", "protocol.ext.allow=never", "fetch", "--quiet", "--no-tags", "--",
                   job->url, "+refs/heads/" + job->branch + ":refs/dflow/forge/" + job->branch},
                  repo, std::chrono::minutes(5));
  if (!fetched.ok()) {
    return fail(502,
                absl::StrCat("fetching ", job->branch, " from ", job->url,
                             " failed: ", OneLine(GitSaid(fetched.status().message())),
                             ". Check the URL (`dflow apps set ", app,
                             " --git-url URL`) and that the controller may read it", redeliver));
  }
  if (auto c = git::RunGit({"cat-file", "-e", sha + "^{commit}"}, repo); !c.ok()) {
    return fail(422, absl::StrCat("commit ", sha.substr(0, 12), " is not on ", job->branch, " of ",
                                  job->url, " (force-pushed away?); push it again"));
  }
  BlobStore blobs(ctx_->archive_dir);
  auto writer = blobs.NewWriter(ctx_->max_upload_bytes);
  if (!writer.ok()) return fail(500, std::string(writer.status().message()));
  absl::Status appended;
  ProcessSpec spec;
  spec.argv = {"git", "archive", "--format=tar.gz", sha};
  spec.cwd = repo;
  spec.deadline = std::chrono::minutes(10);
  spec.output_cap_bytes = 64 << 10;
  spec.on_output = [&](int stream, std::string_view chunk) {
    if (stream == 1 && appended.ok())
      appended = (*writer)->Append(absl::string_view(chunk.data(), chunk.size()));
  };
  PosixProcessRunner runner;
  auto r = runner.Run(spec);
  if (!r.ok() || r->exit_code != 0) {
    return fail(500,
                absl::StrCat("`git archive ", sha.substr(0, 12), "` failed: ",
                             OneLine(r.ok() ? r->stderr_data : r.status().message()), redeliver));
  }
  if (!appended.ok()) {
    return fail(413, absl::StrCat("the archive of ", sha.substr(0, 12), " is over the ",
                                  MiB(ctx_->max_upload_bytes),
                                  " limit; leave build outputs out of the repository, or run "
                                  "the controller with a larger --max-upload",
                                  redeliver));
  }
  auto digest = (*writer)->Commit();
  if (!digest.ok()) return fail(500, std::string(digest.status().message()));
  auto ref = git::StartDeploy(ctx_, app, *digest, sha, pusher, d.forge + " delivery " + d.id);
  if (!ref.ok()) {
    return fail(422, absl::StrCat("cannot deploy ", sha.substr(0, 12), ": ", ref.status().message(),
                                  "; fix the commit and push again"));
  }
  d.state = "deploying";
  d.op_id = ref->id;
  d.release = ref->release;
  d.message = absl::StrCat("deploying as release v", ref->release, " (op ", ref->id, ")");
  ctx_->store->UpdateDelivery(d, "", "").IgnoreError();
  job->started.set_value({202, "", *ref});
  auto done = git::FollowDeploy(
      ctx_, *ref,
      [&](const std::string& line) { spdlog::info("webhook deploy of {}: {}", app, line); },
      stopping_);
  if (!done.ok()) {
    if (absl::IsUnavailable(done.status())) return;  // shutting down: the op resumes at start
    Fail(d, absl::StrCat(OneLine(done.status().message()), "; fix the commit and push again"));
    return;
  }
  spdlog::info("webhook deploy of {}: {}", app, *done);
  git::RunGit({"update-ref", "refs/heads/" + job->branch, sha}, repo).IgnoreError();
  d.state = "deployed";
  d.message = *done;
  ctx_->store
      ->UpdateDelivery(d, "git.webhook_deployed",
                       absl::StrCat("webhook delivery ", d.id, " (", d.forge, ") for app ", app,
                                    " deployed ", sha.substr(0, 12), ": ", *done))
      .IgnoreError();
}

}  // namespace dflow::http
