// The controller's git repositories: one bare repository per app under
// REPOS/<app>.git (`--repos-dir`, default DATA/repos), created with the app.
// With a git group (default `dflow`, see deploy/git-user.sh) the repositories
// are shared with it: REPOS is 02770 root:GROUP, every repository is
// core.sharedRepository=group with setgid, group-writable directories, and
// nothing is world-writable; the repository's config and hooks/ stay writable
// by the controller's user only (the controller runs git in them). Its `pre-receive` hook is a
// symlink to the dflow-controller binary (which acts as the hook when called
// by that name, see hook_client.h), so a push over SSH and a push to the local
// path run the same hook. The repository's config names the hook socket
// (`dflow.socket`); the app's git settings (deploy branch, forge URL, webhook
// secret) live in the store (store/git.h).
// Git always runs through argv (common/process.h), never a shell.
#ifndef DFLOW_CONTROLLER_GIT_REPOS_H_
#define DFLOW_CONTROLLER_GIT_REPOS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/git.h"

namespace dflow::git {

class Repos {
 public:
  // `repos_dir`: where the repositories live; `hook_binary`: absolute path of
  // dflow-controller; `hook_socket`: the socket the hook dials; `group`: the
  // git group the repositories are shared with ("" or a missing group: not
  // shared, the directory is 0700).
  Repos(std::string repos_dir, std::string hook_binary, std::string hook_socket, std::string group);

  // Creates the repositories' directory with its owner and mode, and makes its
  // path absolute. Call once before anything else.
  absl::Status Prepare();
  // Whether the repositories are shared with the git group.
  bool shared() const { return have_group_; }
  // `--git-safe-config PATH`: a git config file the controller keeps listing
  // every repository as a safe.directory (written at Prepare, Ensure and
  // Remove, 0644). Included from the system gitconfig (deploy/git-user.sh), it
  // lets members of the git group push to the local path although the
  // repositories are the controller's. Set before Prepare; "" (default): none.
  void set_safe_config(std::string path) { safe_config_ = std::move(path); }

  std::string Dir() const { return repos_dir_; }
  std::string Path(const std::string& app) const { return Dir() + "/" + app + ".git"; }

  // Creates the app's repository when missing and (re)installs its hook.
  absl::Status Ensure(const std::string& app);
  bool Exists(const std::string& app) const;
  // Deletes the app's repository (once the app is destroyed), so a new app of
  // the same name starts with an empty one. OK when there is none.
  absl::Status Remove(const std::string& app);

  // A per-app setting an earlier controller kept in the repository's config
  // (dflow.branch, dflow.url; "" when unset), and its removal once the store
  // holds it.
  absl::StatusOr<std::string> LegacyConfig(const std::string& app, const std::string& key) const {
    return GetConfig(app, key);
  }
  absl::Status ClearLegacyConfig(const std::string& app, const std::string& key);

 private:
  absl::StatusOr<std::string> GetConfig(const std::string& app, const std::string& key) const;
  absl::Status SetConfig(const std::string& app, const std::string& key,
                         const std::string& value) const;

  // Gives every file of the repository to the git group, group-writable where
  // its owner may write, setgid directories, nothing world-writable.
  absl::Status ShareWithGroup(const std::string& path) const;
  // config and hooks/: the controller's user alone may change them.
  absl::Status LockDown(const std::string& path) const;
  // Rewrites safe_config_ from the repositories there are (no-op when unset).
  absl::Status WriteSafeConfig() const;

  std::string repos_dir_;
  std::string hook_binary_;
  std::string hook_socket_;
  std::string group_;
  std::string safe_config_;
  bool have_group_ = false;
  gid_t gid_ = 0;
};

// Branch names dflow accepts: [A-Za-z0-9._/-], 1..100 bytes, no "..", not
// starting with '-' or '/', not ending with '/' or ".lock".
absl::Status ValidateBranch(const std::string& branch);

// Runs git with `args` (argv, no shell) in `cwd`; stdout on success, else an
// error naming the command and git's stderr.
absl::StatusOr<std::string> RunGit(const std::vector<std::string>& args, const std::string& cwd,
                                   std::chrono::milliseconds deadline = std::chrono::seconds(60));

// Logs a warning when the repositories are shared with the git group but
// they or the git socket sit inside the controller's 0700 data dir, where the
// group's members (the SSH git user) cannot reach them.
void WarnIfGroupLockedOut(const std::string& data_dir, const Repos& repos,
                          const std::string& socket);

// The absolute path of the running program (/proc/self/exe).
std::string SelfExe();

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_REPOS_H_
