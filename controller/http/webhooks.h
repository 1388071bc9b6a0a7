// Push webhooks from forges, on the controller's HTTP listener:
//   POST /hooks/github?app=NAME   X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)
//   POST /hooks/gitlab?app=NAME   X-Gitlab-Token: secret
// The secret is the app's (`dflow apps set NAME --webhook-secret-generate`),
// compared in constant time; a bad or missing one gets 401 and nothing else
// happens. A delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID) seen before
// is answered 200 and ignored; deliveries are kept in the store
// (webhook_deliveries, the newest 10000). A push to the deploy branch makes
// the controller fetch the branch from the app's --git-url into its
// repository, check the pushed commit is there, and deploy its `git archive`
// through the same durable deploy op as `dflow deploy` (the release records
// the commit and the delivery). The answer is 202 with a JSON object naming the
// op once it exists (within 8 s; else 202 without it), or the failure's status
// and reason. Every outcome is kept as the app's last delivery (`dflow apps
// show`); a failure is also a git.webhook_failed event naming the app, the
// delivery and what to do, a success a git.webhook_deployed event. A delivery
// that failed before its op may be redelivered. On success the repository's
// branch is moved to the commit.
#ifndef DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_
#define DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/context.h"
#include "controller/git/repos.h"
#include "controller/http/server.h"
#include "controller/ops/engine.h"

namespace dflow::http {

// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string HmacSha256Hex(const std::string& key, const std::string& data);
// Equal contents, in time that depends only on the lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

class Webhooks {
 public:
  // `reject_every`: at most one git.webhook_rejected event per app this often.
  Webhooks(api::ControllerContext* ctx, git::Repos* repos,
           std::chrono::milliseconds reject_every = std::chrono::minutes(1));
  ~Webhooks();
  void Register(Server* server);
  // Waits for deploys started by deliveries.
  void Stop();

  Response Github(const Request& r);
  Response Gitlab(const Request& r);

 private:
  // A delivery being fetched and deployed on its own thread. `started` is
  // set once: with the op, or with the HTTP status and reason it failed with.
  struct Started {
    int status = 202;
    std::string error;
    ops::OpRef ref;
  };
  struct Job {
    store::WebhookDelivery delivery;
    std::string url;
    std::string branch;
    std::promise<Started> started;
  };
  // After authentication: dedupe, branch check, and the deploy.
  Response Accept(const std::string& forge, const std::string& app, const std::string& delivery,
                  const std::string& body);
  void Deploy(std::shared_ptr<Job> job);
  // Records the delivery as failed, with a git.webhook_failed event saying why.
  void Fail(store::WebhookDelivery d, const std::string& why);
  // A 401 (bad signature or token) for an app that exists: a
  // git.webhook_rejected event naming the forge and the delivery, at most one
  // per app per `reject_every_`; the next one counts those left out meanwhile.
  // Names of apps that do not exist are only logged (a flood could make them up).
  void Rejected(const std::string& forge, const std::string& app, const std::string& delivery,
                const std::string& why);

  api::ControllerContext* ctx_;
  git::Repos* repos_;
  std::mutex mu_;
  std::vector<std::thread> deploys_;
  std::atomic<bool> stopping_{false};
  std::chrono::milliseconds reply_wait_{8000};
  struct RejectWindow {
    int64_t last_event_ms = 0;
    int64_t left_out = 0;  // rejections since, without an event
  };
  std::chrono::milliseconds reject_every_;
  std::mutex reject_mu_;
  std::map<std::string, RejectWindow> rejects_;  // by app
};

}  // namespace dflow::http

#endif  // DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_
