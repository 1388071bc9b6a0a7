#include "agent/router/router.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Running (not a zombie waiting for its parent).
bool Alive(int pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  auto close = stat.ok() ? stat->rfind(')') : std::string::npos;
  return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

// What the router at host:port serves at /.dflow/config (the loaded config's
// marker), or "" when it does not answer.
std::string LoadedMarker(const std::string& host_port) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(host_port, &host, &port)) return "";
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 0.0.0.0 and names: probe loopback
  if (host != "0.0.0.0" && host != "localhost") inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /.dflow/config HTTP/1.0\r\nHost: dflow-router\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[1024];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0 && response.size() < 8192) {
        response.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return "";
  std::string marker = response.substr(body + 4);
  while (!marker.empty() && marker.back() == '\n') marker.pop_back();
  return marker;
}

// Pids of the master's worker processes.
std::vector<int> Workers(int master) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e.path().filename().string(), &pid)) continue;
    auto stat = ReadFile(e.path().string() + "/stat");
    if (!stat.ok()) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    // "PID (comm) S PPID ..."
    std::vector<std::string> f = absl::StrSplit(stat->substr(close + 2), ' ');
    if (f.size() > 1 && absl::SimpleAtoi(f[1], &ppid) && ppid == master) out.push_back(pid);
  }
  return out;
}

// True once a worker of the previous config no longer accepts connections.
bool Retired(int worker) {
  auto cmdline = ReadFile(absl::StrCat("/proc/", worker, "/cmdline"));
  return !cmdline.ok() || cmdline->find("shutting down") != std::string::npos ||
         cmdline->find("worker") == std::string::npos;
}

std::string ErrorLogTail(const std::string& dir) {
  auto log = ReadFile(dir + "/logs/error.log").value_or("");
  if (log.size() > 1500) log = log.substr(log.size() - 1500);
  while (!log.empty() && log.back() == '\n') log.pop_back();
  return log;
}

// Stops an nginx master left behind by an earlier agent (it would hold the port).
void StopStaleMaster(const std::string& dir) {
  auto text = ReadFile(dir + "/nginx.pid");
  int pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || !Alive(pid)) {
    return;
  }
  auto cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!cmdline.ok() || cmdline->find("nginx") == std::string::npos ||
      cmdline->find(dir) == std::string::npos) {
    return;  // the pid was reused by something else
  }
  spdlog::info("stopping the router (nginx pid {}) left by an earlier agent", pid);
  kill(pid, SIGQUIT);
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (Alive(pid) && steady_clock::now() < deadline) usleep(20000);
  // nginx runs in its own session (pgid = the master's pid): kill the group, or
  // workers of the killed master would keep the port and any inherited fds.
  if (Alive(pid)) kill(-pid, SIGKILL);
  while (Alive(pid) && steady_clock::now() < deadline + std::chrono::seconds(2)) usleep(20000);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Router>> Router::Start(RouterOptions options) {
  RETURN_IF_ERROR(ValidateHostPort(options.listen));
  if (!options.tls_listen.empty()) RETURN_IF_ERROR(ValidateHostPort(options.tls_listen));
  std::unique_ptr<Router> r(new Router(std::move(options)));
  const std::string& dir = r->options_.dir;
  for (const char* sub : {"", "/logs", "/tmp", "/certs"}) {
    RETURN_IF_ERROR(EnsureDir(dir + sub, 0700));
  }
  auto bin = FindProgram(r->options_.nginx);
  if (!bin && FileExists("/usr/sbin/" + r->options_.nginx)) bin = "/usr/sbin/" + r->options_.nginx;
  if (!bin) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the router needs nginx, which is not installed (looked for \"", r->options_.nginx,
        "\" in PATH and /usr/sbin): run deploy/deps.sh or "
        "`apt-get install nginx-light`, or start the agent without --router-listen"));
  }
  r->nginx_ = *bin;
  StopStaleMaster(dir);
  ASSIGN_OR_RETURN(std::string marker, r->Render(RouteTable{}, dir + "/next.conf"));
  RETURN_IF_ERROR(r->Check(dir + "/next.conf"));
  std::error_code ec;
  std::filesystem::rename(dir + "/next.conf", dir + "/nginx.conf", ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot install ", dir, "/nginx.conf: ", ec.message()));
  {
    std::lock_guard lock(r->mu_);
    RETURN_IF_ERROR(r->Spawn());
  }
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (LoadedMarker(r->options_.listen) != marker) {
    if (steady_clock::now() > deadline || !Alive(r->state().pid)) {
      return absl::UnavailableError(absl::StrCat("the router (nginx) did not start serving on ",
                                                 r->options_.listen,
                                                 " (is the port in use?): ", ErrorLogTail(dir)));
    }
    usleep(10000);
  }
  r->served_marker_ = marker;
  r->supervisor_ = std::thread([p = r.get()] { p->Supervise(); });
  spdlog::info("router (nginx pid {}) listening on {}", r->state().pid, r->options_.listen);
  return r;
}

Router::~Router() {
  int pid;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    pid = state_.pid;
    cv_.notify_all();
  }
  if (supervisor_.joinable()) supervisor_.join();
  if (pid <= 0) return;
  kill(pid, SIGQUIT);  // graceful: in-flight requests finish
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    usleep(10000);
  }
  // nginx runs in its own session (pgid = the master's pid): workers a killed
  // master leaves behind would keep serving the old config and hold the port.
  kill(-pid, SIGKILL);
}

std::string Router::CertPath(const AppRoute& app, bool key) const {
  std::string digest = Sha256Hex(app.cert_pem + app.key_pem);
  return absl::StrCat(options_.dir, "/certs/", app.app, "-", digest.substr(0, 16),
                      key ? ".key" : ".crt");
}

absl::StatusOr<std::string> Router::Render(const RouteTable& table, const std::string& path) {
  for (const auto& app : table.apps) {
    if (app.cert_pem.empty()) continue;
    RETURN_IF_ERROR(WriteFileAtomic(CertPath(app, false), app.cert_pem, 0600));
    RETURN_IF_ERROR(WriteFileAtomic(CertPath(app, true), app.key_pem, 0600));
  }
  RenderOptions ro;
  ro.prefix = options_.dir;
  ro.listen = options_.listen;
  ro.tls_listen = options_.tls_listen;
  ro.worker_processes = options_.worker_processes;
  ro.cert_path = [this](const AppRoute& app, bool key) { return CertPath(app, key); };
  // The marker is a digest of the config without its first (version) line.
  std::string plain = RenderNginxConfig(table, ro);
  ro.marker = Sha256Hex(plain.substr(plain.find('\n') + 1)).substr(0, 16);
  RETURN_IF_ERROR(WriteFileAtomic(path, RenderNginxConfig(table, ro), 0600));
  return ro.marker;
}

absl::Status Router::Check(const std::string& conf) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {
      nginx_, "-t", "-q", "-p", options_.dir, "-c", conf, "-e", options_.dir + "/logs/error.log"};
  spec.deadline = std::chrono::seconds(30);
  ASSIGN_OR_RETURN(ProcessResult r, runner.Run(spec));
  if (r.exit_code == 0) return absl::OkStatus();
  std::string why = r.stderr_data.empty() ? r.stdout_data : r.stderr_data;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return absl::FailedPreconditionError(
      absl::StrCat("nginx -t refused the new routing config (", why,
                   "); it was not loaded and the previous routes keep serving"));
}

absl::Status Router::Spawn() {
  SpawnSpec spec;
  spec.argv = {nginx_,
               "-p",
               options_.dir,
               "-c",
               options_.dir + "/nginx.conf",
               "-e",
               options_.dir + "/logs/error.log",
               "-g",
               "daemon off;"};
  spec.cwd = options_.dir;
  spec.log_path = options_.dir + "/logs/nginx.out";
  spec.new_session = true;
  ASSIGN_OR_RETURN(int pid, SpawnDetached(spec));
  state_.pid = pid;
  return absl::OkStatus();
}

absl::Status Router::Apply(const RouteTable& table) {
  std::lock_guard apply(apply_mu_);
  auto fail = [&](absl::Status s) {
    std::lock_guard lock(mu_);
    state_.last_error = std::string(s.message());
    spdlog::error("routing table v{} not applied: {}", table.version, std::string(s.message()));
    return s;
  };
  if (auto s = ValidateRouteTable(table); !s.ok()) {
    return fail(absl::InvalidArgumentError(absl::StrCat("routing table v", table.version,
                                                        " refused: ", s.message(),
                                                        "; the previous routes keep serving")));
  }
  const std::string next = options_.dir + "/next.conf";
  auto marker = Render(table, next);
  if (!marker.ok()) return fail(marker.status());
  {
    std::lock_guard lock(mu_);
    if (*marker == served_marker_) {  // nothing changed but the version
      state_.version = table.version;
      state_.last_error.clear();
      return absl::OkStatus();
    }
  }
  if (auto s = Check(next); !s.ok()) return fail(s);
  std::error_code ec;
  std::filesystem::rename(next, options_.dir + "/nginx.conf", ec);
  if (ec) {
    return fail(absl::InternalError(absl::StrCat("cannot install nginx.conf: ", ec.message())));
  }
  std::vector<int> old_workers;
  {
    std::lock_guard lock(mu_);
    old_workers = Workers(state_.pid);
    if (state_.pid > 0) kill(state_.pid, SIGHUP);  // what `nginx -s reload` sends
  }
  // Applied once nginx serves the new config's marker.
  auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (LoadedMarker(options_.listen) != *marker) {
    if (steady_clock::now() > deadline) {
      return fail(absl::UnavailableError(absl::StrCat(
          "nginx did not load routing table v", table.version,
          " within 10 s (the previous routes may still be serving); its error log ends: ",
          ErrorLogTail(options_.dir))));
    }
    usleep(5000);
  }
  // Old workers finish their requests but take no new connections.
  for (int w : old_workers) {
    while (!Retired(w) && steady_clock::now() < deadline) usleep(2000);
  }
  std::lock_guard lock(mu_);
  served_marker_ = *marker;
  state_.version = table.version;
  state_.last_error.clear();
  spdlog::info("routing table v{} applied ({} app(s))", table.version, table.apps.size());
  // Certificates no longer referenced are removed.
  std::set<std::string> keep;
  for (const auto& app : table.apps) {
    if (app.cert_pem.empty()) continue;
    keep.insert(CertPath(app, false));
    keep.insert(CertPath(app, true));
  }
  for (const auto& e : std::filesystem::directory_iterator(options_.dir + "/certs", ec)) {
    if (!keep.count(e.path().string())) std::filesystem::remove(e.path(), ec);
  }
  return absl::OkStatus();
}

RouterState Router::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void Router::Supervise() {
  std::unique_lock lock(mu_);
  int backoff_ms = 100;
  while (!stopping_) {
    cv_.wait_for(lock, milliseconds(200), [this] { return stopping_; });
    if (stopping_) break;
    if (state_.pid > 0) {
      int status = 0;
      if (waitpid(state_.pid, &status, WNOHANG) != state_.pid) continue;
      spdlog::error("router (nginx pid {}) exited ({}); starting it again in {} ms", state_.pid,
                    WIFEXITED(status) ? absl::StrCat("status ", WEXITSTATUS(status))
                                      : absl::StrCat("signal ", WTERMSIG(status)),
                    backoff_ms);
      kill(-state_.pid, SIGKILL);  // workers it left would hold the port
      state_.pid = 0;
    }
    cv_.wait_for(lock, milliseconds(backoff_ms), [this] { return stopping_; });
    if (stopping_) break;
    backoff_ms = std::min(backoff_ms * 2, 5000);
    if (auto s = Spawn(); !s.ok()) {
      state_.last_error = absl::StrCat("cannot restart nginx: ", s.message());
      continue;
    }
    ++state_.restarts;
  }
}

}  // namespace dflow::agent
