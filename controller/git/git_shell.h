// `dflow-controller git-shell --socket S --key NAME`: the forced command of
// every authorized_keys line (keys.h). It accepts only
//   git-receive-pack '<app>'   (push)     git-upload-pack '<app>'   (clone, fetch)
// from SSH_ORIGINAL_COMMAND (an optional leading '/' and trailing ".git" are
// allowed), asks the controller over the hook socket whether the key may use
// that app, and then runs git through argv with DFLOW_PUSHER="key NAME" so the
// release records the pusher. Anything else is refused with a one-line reason
// on stderr and exit code 1.
#ifndef DFLOW_CONTROLLER_GIT_GIT_SHELL_H_
#define DFLOW_CONTROLLER_GIT_GIT_SHELL_H_

#include <string>

#include "absl/status/statusor.h"

namespace dflow::git {

struct ShellRequest {
  std::string service;  // git-receive-pack | git-upload-pack
  std::string app;
};

// Parses SSH_ORIGINAL_COMMAND; InvalidArgument with the one-line reason.
absl::StatusOr<ShellRequest> ParseShellCommand(const std::string& command);

// Returns the exit code when it cannot exec git.
int RunGitShell(const std::string& socket_path, const std::string& key);

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_GIT_SHELL_H_
