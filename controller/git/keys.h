// SSH keys that may push, and the authorized_keys file the controller keeps
// for the git system user (default user `dflow`; see deploy/setup-git-user.sh).
// Keys live in DATA/git/keys.json (0600). Every authorized_keys line is
//   command="<dflow-controller> git-shell --socket <hook socket> --key NAME",restrict TYPE KEY
// so sshd runs only git-shell for that key, with no tty or forwarding.
// Thread-safe.
#ifndef DFLOW_CONTROLLER_GIT_KEYS_H_
#define DFLOW_CONTROLLER_GIT_KEYS_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/git.h"

namespace dflow::store {
class Store;
}

namespace dflow::git {

using PushKey = store::PushKey;

// Key names: [a-z0-9][a-z0-9._-]{0,62}.
absl::Status ValidateKeyName(const std::string& name);
// One OpenSSH public key line ("TYPE BASE64 [comment]") into type and blob;
// InvalidArgument says what was wrong (options are not accepted).
absl::Status ParsePublicKey(const std::string& line, PushKey* key);

class Keys {
 public:
  Keys(store::Store* store, std::string authorized_keys_path, std::string shell_binary,
       std::string hook_socket);

  // Checks the paths that go into authorized_keys and writes it from the store.
  absl::Status Load();
  // Adds (with its event) and rewrites authorized_keys.
  absl::StatusOr<PushKey> Add(PushKey key);
  absl::Status Remove(const std::string& name);
  absl::StatusOr<std::vector<PushKey>> List();
  // Empty when the key may push to (and clone) the app, else why not.
  std::string Check(const std::string& key, const std::string& app);

  const std::string& authorized_keys_path() const { return authorized_keys_; }

 private:
  absl::Status WriteLocked();

  store::Store* store_;
  std::string authorized_keys_;
  std::string shell_binary_;
  std::string hook_socket_;
  std::mutex mu_;  // one writer of authorized_keys at a time
};

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_KEYS_H_
