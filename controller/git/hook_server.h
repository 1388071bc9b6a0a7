// The hook socket: a Unix socket, separate from the CLI's, that the
// pre-receive hook dials to deploy a pushed commit. The socket file is 0660
// and belongs to the git group (default `dflow`), and every connection is
// checked again with SO_PEERCRED: only a process of the controller's own user
// or one in that group (primary or supplementary) is served. Each connection
// carries one ref (see wire.h) and is served on its own thread.
#ifndef DFLOW_CONTROLLER_GIT_HOOK_SERVER_H_
#define DFLOW_CONTROLLER_GIT_HOOK_SERVER_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "controller/api/context.h"
#include "controller/git/keys.h"
#include "controller/git/repos.h"

namespace dflow::git {

struct HookServerOptions {
  std::string socket_path;
  std::string group = "dflow";  // may be missing: then only the controller's user is served
  Keys* keys = nullptr;         // answers git-shell's "may KEY use APP?"
};

class HookServer {
 public:
  HookServer(api::ControllerContext* ctx, Repos* repos, HookServerOptions options);
  ~HookServer();
  HookServer(const HookServer&) = delete;
  HookServer& operator=(const HookServer&) = delete;

  absl::Status Start();
  void Stop();

 private:
  void AcceptLoop();
  void Serve(int fd);
  void Authorize(int fd, const std::vector<std::string>& request);
  // Empty when the peer may use the socket, else why not.
  std::string CheckPeer(int fd, std::string* user);
  // Takes the app's push gate (one deploying push per app at a time; later
  // ones wait and say so), then checks that the branch is still at `old`
  // (the previous push may have moved it). Empty when the push may go on.
  std::string Enter(int fd, const std::string& app, const std::string& branch,
                    const std::string& old_sha, const std::string& what);
  void Leave(const std::string& app, const std::string& deployed_sha);

  // Per app: a push is deploying; the SHA the last successful one deployed
  // (its ref update follows the hook's exit).
  struct Gate {
    bool busy = false;
    std::string holder;
    std::string deployed;
  };
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  std::map<std::string, Gate> gates_;

  api::ControllerContext* ctx_;
  Repos* repos_;
  HookServerOptions options_;
  bool have_group_ = false;
  gid_t gid_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_HOOK_SERVER_H_
