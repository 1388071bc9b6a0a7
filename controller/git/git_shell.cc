#include "controller/git/git_shell.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/names.h"
#include "controller/git/keys.h"
#include "controller/git/wire.h"

namespace dflow::git {
namespace {

int Refuse(const std::string& why) {
  std::cerr << "dflow: " << why << "\n";
  return 1;
}

// Why connecting to the socket was refused: the user is not in its group.
std::string SocketDenied(const std::string& socket_path) {
  std::string user = absl::StrCat("uid ", getuid());
  if (struct passwd* pw = getpwuid(getuid()); pw != nullptr) user = pw->pw_name;
  // The socket's group, when this user may even see the file.
  std::string group = "its git group (--git-group)";
  struct stat st;
  if (stat(socket_path.c_str(), &st) == 0) {
    if (struct group* g = getgrgid(st.st_gid); g != nullptr) {
      group = absl::StrCat("group ", g->gr_name);
    }
  }
  return absl::StrCat("user ", user, " may not use the controller's git socket ", socket_path,
                      ": only the controller's user and members of ", group,
                      " may (deploy/git-user.sh sets that user up)");
}

}  // namespace

absl::StatusOr<ShellRequest> ParseShellCommand(const std::string& command) {
  ShellRequest r;
  auto space = command.find(' ');
  r.service = command.substr(0, space);
  if (r.service != "git-receive-pack" && r.service != "git-upload-pack") {
    return absl::InvalidArgumentError(absl::StrCat(
        "this SSH account only serves git push and clone of dflow apps (git-receive-pack or "
        "git-upload-pack '<app>'), not \"",
        command.substr(0, 60), "\""));
  }
  std::string arg = space == std::string::npos ? "" : command.substr(space + 1);
  if (arg.size() < 2 || arg.front() != '\'' || arg.back() != '\'') {
    return absl::InvalidArgumentError(
        "give the app as the repository path, e.g. `git remote add dflow dflow@HOST:web`");
  }
  std::string app = arg.substr(1, arg.size() - 2);
  if (absl::StartsWith(app, "/")) app = app.substr(1);
  if (absl::EndsWith(app, ".git")) app = app.substr(0, app.size() - 4);
  if (auto s = ValidateAppName(app); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("refused: \"", arg.substr(1, std::min<size_t>(arg.size() - 2, 60)),
                     "\" is not an app name (lower-case letters, digits and '-', e.g. web)"));
  }
  r.app = app;
  return r;
}

int RunGitShell(const std::string& socket_path, const std::string& key) {
  if (auto s = ValidateKeyName(key); !s.ok()) return Refuse(std::string(s.message()));
  const char* original = getenv("SSH_ORIGINAL_COMMAND");
  if (original == nullptr) {
    return Refuse("this SSH account has no shell; it serves git push and clone of dflow apps only");
  }
  auto req = ParseShellCommand(original);
  if (!req.ok()) return Refuse(std::string(req.status().message()));
  sockaddr_un addr{};
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || socket_path.size() >= sizeof(addr.sun_path))
    return Refuse("cannot reach the dflow controller");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EACCES) return Refuse(SocketDenied(socket_path));
    return Refuse(absl::StrCat("the dflow controller is not running (its git socket ", socket_path,
                               ": ", std::strerror(errno), "); try again once it is up"));
  }
  std::string line;
  // A refused caller is answered before the controller reads: read even when
  // the write failed.
  WriteAll(fd, Line({"auth", key, req->app, req->service}));
  if (!ReadLine(fd, &line)) {
    return Refuse("the dflow controller closed the connection");
  }
  close(fd);
  std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 1));
  if (f[0] != "ok" || f.size() != 2) return Refuse(f.size() > 1 ? f[1] : "refused");
  std::string pusher = "key " + key;
  setenv("DFLOW_PUSHER", pusher.c_str(), 1);
  // The repository belongs to the controller's user, not to this one: git
  // serves it only when told it is safe (command-line scope, which the hook's
  // own git runs inherit through GIT_CONFIG_PARAMETERS).
  std::string safe = "safe.directory=" + f[1];
  std::string sub = req->service.substr(4);  // receive-pack | upload-pack
  std::vector<char*> argv = {const_cast<char*>("git"),
                             const_cast<char*>("-c"),
                             safe.data(),
                             sub.data(),
                             f[1].data(),
                             nullptr};
  execvp(argv[0], argv.data());
  return Refuse(absl::StrCat("cannot run ", req->service, ": ", std::strerror(errno)));
}

}  // namespace dflow::git
