// Plain records of the store's git state (git_store.cc): per-app git
// settings, the SSH keys that may push, and webhook deliveries.
#ifndef DFLOW_CONTROLLER_STORE_GIT_H_
#define DFLOW_CONTROLLER_STORE_GIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dflow::store {

inline constexpr const char* kDefaultBranch = "main";

// An app's git settings. Empty strings are unset (branch: the default, main).
struct AppGit {
  std::string app;
  std::string branch;
  std::string git_url;
  // The webhook secret itself: HMAC verification needs it. It leaves the
  // controller only in the answer that generated it.
  std::string webhook_secret;

  std::string DeployBranch() const { return branch.empty() ? kDefaultBranch : branch; }
};

// The fields to change; unset ones stay.
struct AppGitUpdate {
  std::optional<std::string> branch;
  std::optional<std::string> git_url;
  std::optional<std::string> webhook_secret;
};

struct PushKey {
  std::string name;
  std::string type;         // ssh-ed25519, ...
  std::string blob;         // base64, as in the .pub file
  std::string fingerprint;  // SHA256:<base64>, as ssh-keygen -l prints it
  std::vector<std::string> apps;
  bool all_apps = false;
  int64_t added_at_ms = 0;
};

// Delivery states: received (claimed, not yet deploying), deploying (its op
// runs), deployed, failed, ignored (not a push to the deploy branch).
struct WebhookDelivery {
  std::string forge;  // github | gitlab
  std::string app;
  std::string id;  // the forge's delivery id
  std::string sha;
  std::string state;
  int64_t op_id = 0;
  int64_t release = 0;
  std::string message;
  int64_t received_at_ms = 0;
  int64_t updated_at_ms = 0;
};

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_GIT_H_
