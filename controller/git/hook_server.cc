#include "controller/git/hook_server.h"

#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/blob_store.h"
#include "common/files.h"
#include "common/names.h"
#include "controller/git/deploy.h"
#include "controller/git/wire.h"

namespace dflow::git {
namespace {

constexpr size_t kMaxChunk = 1 << 20;
constexpr const char* kZeroSha = "0000000000000000000000000000000000000000";

bool IsSha(const std::string& s) {
  return (s.size() == 40 || s.size() == 64) && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The SHA the branch points at in the app's repository, or "".
std::string RefSha(const Repos& repos, const std::string& app, const std::string& branch) {
  auto out = RunGit({"rev-parse", "--verify", "--quiet", "refs/heads/" + branch}, repos.Path(app),
                    std::chrono::seconds(10));
  if (!out.ok()) return "";
  return std::string(absl::StripAsciiWhitespace(*out));
}

}  // namespace

std::string HookServer::Enter(int fd, const std::string& app, const std::string& branch,
                              const std::string& old_sha, const std::string& what) {
  std::string expect;
  {
    std::unique_lock<std::mutex> lock(gate_mu_);
    Gate& g = gates_[app];
    if (g.busy) {
      WriteAll(fd, Line({"say", absl::StrCat("waiting for ", g.holder, " to finish first")}));
    }
    gate_cv_.wait(lock, [&] { return !g.busy || stopping_.load(); });
    if (stopping_) return "the controller is shutting down; push again once it is back";
    g.busy = true;
    g.holder = what;
    expect = g.deployed;
  }
  // The previous push's ref update lands right after its hook exits.
  std::string current = RefSha(*repos_, app, branch);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!expect.empty() && current != expect && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    current = RefSha(*repos_, app, branch);
  }
  std::string old = old_sha == kZeroSha ? "" : old_sha;
  if (current != old) {
    Leave(app, "");
    return absl::StrCat(branch, " of ", app, " moved to ", current.substr(0, 12),
                        " while this push waited; nothing of it was deployed. `git pull` and push "
                        "again");
  }
  return "";
}

void HookServer::Leave(const std::string& app, const std::string& deployed_sha) {
  std::lock_guard<std::mutex> lock(gate_mu_);
  Gate& g = gates_[app];
  g.busy = false;
  g.holder.clear();
  g.deployed = deployed_sha;
  gate_cv_.notify_all();
}

HookServer::HookServer(api::ControllerContext* ctx, Repos* repos, HookServerOptions options)
    : ctx_(ctx), repos_(repos), options_(std::move(options)) {}

HookServer::~HookServer() { Stop(); }

absl::Status HookServer::Start() {
  if (struct group* g = getgrnam(options_.group.c_str()); g != nullptr) {
    have_group_ = true;
    gid_ = g->gr_gid;
  } else {
    spdlog::warn(
        "git group \"{}\" does not exist: only the controller's own user may push "
        "(see deploy/git-user.sh)",
        options_.group);
  }
  sockaddr_un addr{};
  if (options_.socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("the git hook socket path ",
                                                   options_.socket_path,
                                                   " is too long; choose a shorter --git-socket"));
  }
  // A socket outside the data dir (--git-socket) gets its directory made here,
  // reachable by the group only.
  std::string parent = options_.socket_path.substr(0, options_.socket_path.rfind('/'));
  if (!parent.empty() && !FileExists(parent)) {
    if (auto s = EnsureDir(parent, have_group_ ? 0750 : 0700); !s.ok()) return s;
    if (have_group_ && chown(parent.c_str(), static_cast<uid_t>(-1), gid_) != 0) {
      spdlog::warn("cannot give {} to group {}: {}", parent, options_.group, std::strerror(errno));
    }
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return absl::InternalError("cannot create the git hook socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, options_.socket_path.c_str(), options_.socket_path.size());
  unlink(options_.socket_path.c_str());  // stale from a crash; the data dir lock is ours
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on the git hook socket ",
                                               options_.socket_path, ": ", std::strerror(errno)));
  }
  chmod(options_.socket_path.c_str(), 0660);
  if (have_group_ && chown(options_.socket_path.c_str(), static_cast<uid_t>(-1), gid_) != 0) {
    spdlog::warn("cannot give {} to group {}: {}", options_.socket_path, options_.group,
                 std::strerror(errno));
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void HookServer::Stop() {
  if (listen_fd_ < 0) return;
  {
    std::lock_guard<std::mutex> lock(gate_mu_);
    stopping_ = true;
    gate_cv_.notify_all();
  }
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  close(listen_fd_);
  listen_fd_ = -1;
  unlink(options_.socket_path.c_str());
}

void HookServer::AcceptLoop() {
  while (!stopping_) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] {
      Serve(fd);
      std::lock_guard<std::mutex> l(mu_);
      open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
      close(fd);
    });
  }
}

std::string HookServer::CheckPeer(int fd, std::string* user) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return "cannot read the caller's credentials";
  }
  if (struct passwd* pw = getpwuid(cred.uid); pw != nullptr) {
    *user = pw->pw_name;
  } else {
    *user = absl::StrCat("uid ", cred.uid);
  }
  if (cred.uid == geteuid()) return "";
  if (have_group_) {
    if (cred.gid == gid_) return "";
    std::vector<gid_t> groups(256);
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      if (std::find(groups.begin(), groups.end(), gid_) != groups.end()) return "";
    }
  }
  return absl::StrCat(*user, " may not deploy: only the controller's user and the ", options_.group,
                      " group may use the git hook socket");
}

void HookServer::Authorize(int fd, const std::vector<std::string>& f) {
  auto fail = [fd](const std::string& msg) { WriteAll(fd, Line({"fail", msg})); };
  if (f.size() != 4 || options_.keys == nullptr) return fail("push over SSH is not set up");
  const std::string &key = f[1], &app = f[2];
  if (auto s = ValidateAppName(app); !s.ok()) return fail(std::string(s.message()));
  if (!ctx_->store->GetApp(app).ok() || !repos_->Exists(app)) {
    return fail(absl::StrCat("app ", app, " does not exist; `dflow apps ls` lists the apps"));
  }
  if (std::string why = options_.keys->Check(key, app); !why.empty()) return fail(why);
  WriteAll(fd, Line({"ok", repos_->Path(app)}));
}

void HookServer::Serve(int fd) {
  timeval tv{300, 0};  // a stalled hook does not hold a thread forever
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  auto fail = [fd](const std::string& msg) { WriteAll(fd, Line({"fail", msg})); };
  std::string user;
  if (std::string why = CheckPeer(fd, &user); !why.empty()) {
    spdlog::warn("git hook socket: refused {}", why);
    return fail(why);
  }
  std::string line;
  if (!ReadLine(fd, &line)) return;
  std::vector<std::string> f = absl::StrSplit(line, '\t');
  if (f[0] == "auth") return Authorize(fd, f);
  if (f.size() != 6 || f[0] != "push")
    return fail("the hook sent a request this controller does not know");
  const std::string &app = f[1], &ref = f[2], &sha = f[4];
  if (auto s = ValidateAppName(app); !s.ok()) return fail(std::string(s.message()));
  if (!ctx_->store->GetApp(app).ok()) {
    return fail(absl::StrCat("app ", app, " does not exist; `dflow apps ls` lists the apps"));
  }
  auto git = ctx_->store->GetAppGit(app);
  if (!git.ok()) return fail(std::string(git.status().message()));
  std::optional<std::string> branch = git->DeployBranch();
  if (ref != "refs/heads/" + *branch || sha == kZeroSha) {
    WriteAll(fd, Line({"skip", absl::StrCat(ref, " stored, not deployed: ", app,
                                            " deploys pushes to ", *branch, " (`dflow apps set ",
                                            app, " --branch B` changes it)")}));
    return;
  }
  if (!IsSha(sha)) return fail("the pushed object name is not a SHA");
  // f[5]: "key NAME" when the push came over SSH; else the local user pushed.
  std::string pushed_by = f[5].empty() ? absl::StrCat("user ", user) : f[5];
  std::string pusher =
      f[5].empty() ? absl::StrCat("git push by ", user) : absl::StrCat("git push by ", f[5]);
  std::string what = absl::StrCat("the push of ", sha.substr(0, 12), " (", pusher, ")");
  if (std::string why = Enter(fd, app, *branch, f[3], what); !why.empty()) return fail(why);
  std::string deployed;
  struct Leaver {
    HookServer* s;
    const std::string& app;
    const std::string& deployed;
    ~Leaver() { s->Leave(app, deployed); }
  } leaver{this, app, deployed};
  if (!WriteAll(fd, Line({"send"}))) return;
  BlobStore blobs(ctx_->archive_dir);
  auto writer = blobs.NewWriter(ctx_->max_upload_bytes);
  if (!writer.ok()) return fail(std::string(writer.status().message()));
  for (;;) {
    size_t n = 0;
    std::string chunk;
    if (!ReadLine(fd, &line) || !absl::SimpleAtoi(line, &n) || n > kMaxChunk) return;
    if (n == 0) break;
    if (!ReadExact(fd, n, &chunk)) return;
    if (auto s = (*writer)->Append(chunk); !s.ok()) {
      return fail(absl::StrCat("the archive of ", sha.substr(0, 12), " is over the ",
                               MiB(ctx_->max_upload_bytes),
                               " limit; leave build outputs out of the repository, or start the "
                               "controller with a larger --max-upload"));
    }
  }
  auto digest = (*writer)->Commit();
  if (!digest.ok()) return fail(std::string(digest.status().message()));
  auto ref_or = StartDeploy(ctx_, app, *digest, sha, pusher, pushed_by);
  if (!ref_or.ok())
    return fail(absl::StrCat("cannot deploy ", app, ": ", ref_or.status().message()));
  WriteAll(fd,
           Line({"say", absl::StrCat("deploying ", sha.substr(0, 12), " to ", app, " as release v",
                                     ref_or->release, " (op ", ref_or->id, ")")}));
  auto result = FollowDeploy(
      ctx_, *ref_or,
      [fd](const std::string& l) {
        WriteAll(fd, Line({"say", l}));
      },
      stopping_);
  if (result.ok()) {
    deployed = sha;
    WriteAll(fd, Line({"ok", *result}));
  } else {
    fail(std::string(result.status().message()));
  }
}

}  // namespace dflow::git
