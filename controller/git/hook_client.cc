#include "controller/git/hook_client.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process.h"
#include "controller/git/wire.h"

namespace dflow::git {
namespace {

void Say(const std::string& line) { std::cout << line << "\n" << std::flush; }

int Reject(const std::string& why) {
  std::cout << "dflow: push rejected: " << why << "\n" << std::flush;
  return 1;
}

int Dial(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return -1;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// The app is the repository's directory name without ".git".
std::string AppOfRepo() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof(buf)) == nullptr) return "";
  std::string dir = buf;
  std::string base = dir.substr(dir.rfind('/') + 1);
  if (!absl::EndsWith(base, ".git")) return "";
  return base.substr(0, base.size() - 4);
}

// One ref: 0 when it may be stored, else the exit code that rejects the push.
int OneRef(const std::string& socket_path, const std::string& app, const std::string& ref,
           const std::string& old_sha, const std::string& new_sha) {
  int fd = Dial(socket_path);
  if (fd < 0) {
    if (errno == EACCES) {
      return Reject(absl::StrCat("permission denied on the dflow controller's git socket ",
                                 socket_path,
                                 ": only the controller's user and its git group may "
                                 "push; nothing was stored"));
    }
    return Reject(absl::StrCat("cannot reach the dflow controller at ", socket_path, " (",
                               std::strerror(errno),
                               "; is `dflow-controller run` up?); nothing was stored"));
  }
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  const char* pusher = getenv("DFLOW_PUSHER");
  // A refused caller is answered before the controller reads: read on.
  WriteAll(fd, Line({"push", app, ref, old_sha, new_sha, pusher ? pusher : ""}));
  std::string line;
  std::vector<std::string> f;
  for (;;) {
    if (!ReadLine(fd, &line)) return Reject("the controller closed the hook socket");
    f = absl::StrSplit(absl::string_view(line), absl::MaxSplits('\t', 1));
    if (f[0] != "say") break;
    Say(f.size() > 1 ? f[1] : "");
  }
  if (f[0] == "skip") {
    Say(f.size() > 1 ? f[1] : "");
    return 0;
  }
  if (f[0] != "send") return Reject(f.size() > 1 ? f[1] : line);
  // git archive runs from the hook: it sees the quarantined objects.
  ProcessSpec spec;
  spec.argv = {"git", "archive", "--format=tar.gz", new_sha};
  spec.deadline = std::chrono::minutes(10);
  spec.output_cap_bytes = 64 << 10;
  bool sent = true;
  spec.on_output = [&](int stream, std::string_view chunk) {
    if (stream != 1 || !sent || chunk.empty()) return;
    sent = WriteAll(fd, absl::StrCat(chunk.size(), "\n")) && WriteAll(fd, chunk);
  };
  PosixProcessRunner runner;
  auto r = runner.Run(spec);
  if (!r.ok() || r->exit_code != 0) {
    return Reject(absl::StrCat(
        "`git archive ", new_sha.substr(0, 12),
        "` failed: ", r.ok() ? absl::StripAsciiWhitespace(r->stderr_data) : r.status().message()));
  }
  if (!sent || !WriteAll(fd, "0\n")) {
    if (ReadLine(fd, &line) && absl::StartsWith(line, "fail\t")) return Reject(line.substr(5));
    return Reject("the controller closed the hook socket while the archive was sent");
  }
  while (ReadLine(fd, &line)) {
    f = absl::StrSplit(absl::string_view(line), absl::MaxSplits('\t', 1));
    std::string text = f.size() > 1 ? f[1] : "";
    if (f[0] == "say") {
      Say(text);
    } else if (f[0] == "ok") {
      Say(text);
      return 0;
    } else {
      return Reject(text);
    }
  }
  return Reject(
      "the controller closed the hook socket before the deploy ended; `dflow ops ls` "
      "shows how it went");
}

}  // namespace

int RunPreReceive() {
  std::string app = AppOfRepo();
  if (app.empty()) return Reject("the hook does not run in an app repository (<app>.git)");
  PosixProcessRunner runner;
  ProcessSpec cfg;
  cfg.argv = {"git", "config", "--get", "dflow.socket"};
  auto socket_path = runner.Run(cfg);
  if (!socket_path.ok() || socket_path->exit_code != 0) {
    return Reject(
        "the repository has no dflow.socket setting; restart the controller to repair it");
  }
  std::string path(absl::StripAsciiWhitespace(socket_path->stdout_data));
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() != 3) continue;
    if (int code = OneRef(path, app, f[2], f[0], f[1]); code != 0) return code;
  }
  return 0;
}

}  // namespace dflow::git
