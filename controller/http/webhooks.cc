#include "controller/http/webhooks.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

Webhooks::Webhooks(api::ControllerContext* ctx, git::Repos* repos) : ctx_(ctx), repos_(repos) {}

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
    return Text(401, "unknown app or no webhook secret set (`dflow apps set " + app +
                         " --webhook-secret-generate`)");
  }
  std::string sig = r.Header("x-hub-signature-256");
  std::string want = "sha256=" + HmacSha256Hex(git->webhook_secret, r.body);
  if (!ConstantTimeEquals(sig, want)) {
    spdlog::warn("webhook for {}: bad X-Hub-Signature-256 (delivery {}), ignored", app,
                 r.Header("x-github-delivery"));
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
  if (!git.ok() || git->webhook_secret.empty()) {
    return Text(401, "unknown app or no webhook secret set (`dflow apps set " + app +
                         " --webhook-secret-generate`)");
  }
  if (!ConstantTimeEquals(r.Header("x-gitlab-token"), git->webhook_secret)) {
    spdlog::warn("webhook for {}: bad X-Gitlab-Token, ignored", app);
    return Text(401, "bad or missing X-Gitlab-Token");
  }
  std::string event = r.Header("x-gitlab-event");
  if (event != "Push Hook") return Text(202, "ignored: event " + event + " is not a push");
  std::string delivery = r.Header("x-gitlab-event-uuid");
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
    return Text(202, "ignored: " + ref + " is not the deploy branch " + branch);
  }
  auto url = git->git_url;
  if (url.empty()) {
    return Text(409, "app " + app + " has no git URL to fetch from; `dflow apps set " + app +
                         " --git-url URL`");
  }
  std::string pusher = forge + " webhook, delivery " + delivery;
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return Text(503, "the controller is shutting down; redeliver later");
  deploys_.emplace_back(&Webhooks::Deploy, this, app, url, branch, sha, pusher);
  return Text(202,
              "deploying " + sha.substr(0, 12) + " of " + app + " (fetching from " + url + ")");
}

void Webhooks::Deploy(std::string app, std::string url, std::string branch, std::string sha,
                      std::string pusher) {
  std::string repo = repos_->Path(app);
  auto log_fail = [&](const std::string& what) {
    spdlog::warn("webhook deploy of {} {}: {}", app, sha.substr(0, 12), what);
    ctx_->store
        ->AppendEvent("git.webhook_failed", "", app,
                      absl::StrCat("webhook deploy of ", sha.substr(0, 12), " failed: ", what))
        .IgnoreError();
  };
  auto fetched = git::RunGit({"-c", "protocol.ext.allow=never", "fetch", "--quiet", "--no-tags",
                              "--", url, "+refs/heads/" + branch + ":refs/dflow/forge/" + branch},
                             repo, std::chrono::minutes(5));
  if (!fetched.ok()) return log_fail(std::string(fetched.status().message()));
  if (auto c = git::RunGit({"cat-file", "-e", sha + "^{commit}"}, repo); !c.ok()) {
    return log_fail("the pushed commit is not in " + url + " (force-pushed away?)");
  }
  BlobStore blobs(ctx_->archive_dir);
  auto writer = blobs.NewWriter(ctx_->max_upload_bytes);
  if (!writer.ok()) return log_fail(std::string(writer.status().message()));
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
  if (!r.ok() || r->exit_code != 0) return log_fail("git archive failed");
  if (!appended.ok())
    return log_fail(
        absl::StrCat("the archive is over the ", MiB(ctx_->max_upload_bytes), " limit"));
  auto digest = (*writer)->Commit();
  if (!digest.ok()) return log_fail(std::string(digest.status().message()));
  auto ref = git::StartDeploy(ctx_, app, *digest, sha, pusher);
  if (!ref.ok()) return log_fail(std::string(ref.status().message()));
  auto done = git::FollowDeploy(
      ctx_, *ref,
      [&](const std::string& line) { spdlog::info("webhook deploy of {}: {}", app, line); },
      stopping_);
  if (!done.ok()) return log_fail(std::string(done.status().message()));
  spdlog::info("webhook deploy of {}: {}", app, *done);
  git::RunGit({"update-ref", "refs/heads/" + branch, sha}, repo).IgnoreError();
}

}  // namespace dflow::http
