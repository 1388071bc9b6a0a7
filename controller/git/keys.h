// SSH keys that may push, and the authorized_keys file the controller keeps
// for the git system user (default user `dflow`; see deploy/setup-git-user.sh).
// Keys live in DATA/git/keys.json (0600). Every authorized_keys line is
//   command="<dflow-controller> git-shell --socket <hook socket> --key NAME",restrict TYPE KEY
// so sshd runs only git-shell for that key, with no tty or forwarding.
// Thread-safe.
#ifndef DFLOW_CONTROLLER_GIT_KEYS_H_
#define DFLOW_CONTROLLER_GIT_KEYS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dflow::git {

struct PushKey {
  std::string name;
  std::string type;         // ssh-ed25519, ...
  std::string blob;         // base64, as in the .pub file
  std::string fingerprint;  // SHA256:<base64>, as ssh-keygen -l prints it
  std::vector<std::string> apps;
  bool all_apps = false;
  int64_t added_at_ms = 0;
};

// Key names: [a-z0-9][a-z0-9._-]{0,62}.
absl::Status ValidateKeyName(const std::string& name);
// One OpenSSH public key line ("TYPE BASE64 [comment]") into type and blob;
// InvalidArgument says what was wrong (options are not accepted).
absl::Status ParsePublicKey(const std::string& line, PushKey* key);

class Keys {
 public:
  Keys(std::string state_path, std::string authorized_keys_path, std::string shell_binary,
       std::string hook_socket);

  // Reads the keys and rewrites authorized_keys from them.
  absl::Status Load();
  absl::StatusOr<PushKey> Add(PushKey key);
  absl::Status Remove(const std::string& name);
  std::vector<PushKey> List();
  // Empty when the key may push to (and clone) the app, else why not.
  std::string Check(const std::string& key, const std::string& app);

  const std::string& authorized_keys_path() const { return authorized_keys_; }

 private:
  absl::Status SaveLocked();

  std::string state_path_;
  std::string authorized_keys_;
  std::string shell_binary_;
  std::string hook_socket_;
  std::mutex mu_;
  std::vector<PushKey> keys_;
};

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_KEYS_H_
