// Push webhooks from forges, on the controller's HTTP listener:
//   POST /hooks/github?app=NAME   X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)
//   POST /hooks/gitlab?app=NAME   X-Gitlab-Token: secret
// The secret is the app's (`dflow apps set NAME --webhook-secret-generate`),
// compared in constant time; a bad or missing one gets 401 and nothing else
// happens. A delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID) seen before
// is answered 200 and ignored; deliveries are kept in the store
// (webhook_deliveries, the newest 10000). A push to the deploy branch is answered 202; the
// controller then fetches the branch from the app's --git-url into its repository, checks the
// pushed commit is there, and deploys its `git archive` through the same
// durable deploy op as `dflow deploy` (the release records the commit and the
// delivery). On success the repository's branch is moved to the commit.
#ifndef DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_
#define DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/context.h"
#include "controller/git/repos.h"
#include "controller/http/server.h"

namespace dflow::http {

// HMAC-SHA256 of `data` under `key`, lower-case hex.
std::string HmacSha256Hex(const std::string& key, const std::string& data);
// Equal contents, in time that depends only on the lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

class Webhooks {
 public:
  Webhooks(api::ControllerContext* ctx, git::Repos* repos);
  ~Webhooks();
  void Register(Server* server);
  // Waits for deploys started by deliveries.
  void Stop();

  Response Github(const Request& r);
  Response Gitlab(const Request& r);

 private:
  // After authentication: dedupe, branch check, and the deploy.
  Response Accept(const std::string& forge, const std::string& app, const std::string& delivery,
                  const std::string& body);
  void Deploy(std::string app, std::string url, std::string branch, std::string sha,
              std::string pusher);

  api::ControllerContext* ctx_;
  git::Repos* repos_;
  std::mutex mu_;
  std::vector<std::thread> deploys_;
  std::atomic<bool> stopping_{false};
};

}  // namespace dflow::http

#endif  // DFLOW_CONTROLLER_HTTP_WEBHOOKS_H_
