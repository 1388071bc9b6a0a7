#include "tests/e2e/harness.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/files.h"

namespace dflow::testing {

extern "C" char** environ;

namespace {

std::map<std::string, std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = "/tmp/dflow-e2e-XXXXXX";
  path_ = mkdtemp(tmpl.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

Proc::Proc(std::vector<std::string> argv, std::string log_path,
           std::map<std::string, std::string> extra_env)
    : log_path_(std::move(log_path)) {
  SpawnSpec spec;
  spec.argv = std::move(argv);
  spec.env = Environment(extra_env);
  spec.log_path = log_path_;
  auto pid = SpawnDetached(spec);
  EXPECT_TRUE(pid.ok()) << pid.status();
  pid_ = pid.ok() ? *pid : -1;
}

Proc::Proc(Proc&& o) noexcept
    : pid_(o.pid_), status_(o.status_), log_path_(std::move(o.log_path_)) {
  o.pid_ = -1;
}

Proc& Proc::operator=(Proc&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && Running()) {
      Signal(SIGKILL);
      Wait(std::chrono::seconds(10));
    }
    pid_ = o.pid_;
    status_ = o.status_;
    log_path_ = std::move(o.log_path_);
    o.pid_ = -1;
  }
  return *this;
}

Proc::~Proc() {
  if (pid_ > 0 && Running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Proc::Running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

void Proc::Signal(int sig) {
  if (pid_ > 0 && status_ == -1) kill(pid_, sig);
}

int Proc::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  WaitFor([this] { return !Running(); }, timeout);
  return status_;
}

std::string Proc::Log() const { return ReadFile(log_path_).value_or(""); }

CliResult RunProgram(const std::vector<std::string>& argv,
                     std::map<std::string, std::string> extra_env) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = argv;
  spec.env = Environment(extra_env);
  spec.deadline = std::chrono::seconds(60);
  auto r = runner.Run(spec);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {-1, "", std::string(r.status().message())};
  return {r->exit_code, r->stdout_data, r->stderr_data};
}

std::string HttpGet(int port, const std::string& path) {
  auto r = RunProgram({"curl", "-sS", "-m", "2", "-o", "-", "-w", "\n%{http_code}",
                       "http://127.0.0.1:" + std::to_string(port) + path});
  auto nl = r.out.rfind('\n');
  std::string code = nl == std::string::npos ? "" : r.out.substr(nl + 1);
  if (r.exit_code != 0 || code != "200") return "ERROR: " + code + " " + r.err;
  return r.out.substr(0, nl);
}

Fleet::Fleet(const std::string& root) : root_(root), controller_dir_(root + "/controller") {
  controller_port_ = FreeLoopbackPort();
}

Fleet::~Fleet() {
  // A failed test's directory is removed with it: keep the end of each log,
  // so that a failure seen only in CI can be read.
  if (::testing::Test::HasFailure()) {
    auto tail = [](const std::string& log) {
      return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
    };
    std::cerr << "--- controller.log (end) ---\n" << tail(controller_.Log()) << "\n";
    for (const auto& [name, proc] : agents_) {
      std::cerr << "--- agent-" << name << ".log (end) ---\n" << tail(proc.Log()) << "\n";
    }
  }
  for (auto& [name, proc] : agents_) proc.Signal(SIGKILL);
  controller_.Signal(SIGKILL);
  KillInstances();
  KillRouters();
}

void Fleet::KillRouters() const {
  for (const auto& [name, port] : router_ports_) {
    auto pid = ReadFile(agent_dir(name) + "/router/nginx.pid");
    int n = pid.ok() ? std::atoi(pid->c_str()) : 0;
    if (n > 0) kill(-n, SIGKILL);  // the master leads its own group, with its workers
  }
}

namespace {

// Processes whose working directory lies under `root`, with their environment.
std::vector<std::pair<int, std::map<std::string, std::string>>> ProcessesUnder(
    const std::string& root) {
  std::vector<std::pair<int, std::map<std::string, std::string>>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code cwd_ec;
    std::string cwd = std::filesystem::read_symlink(entry.path() / "cwd", cwd_ec);
    if (cwd_ec || cwd.rfind(root + "/", 0) != 0) continue;
    auto environ_text = ReadFile(entry.path().string() + "/environ");
    if (!environ_text.ok()) continue;
    std::map<std::string, std::string> env;
    size_t start = 0;
    while (start < environ_text->size()) {
      size_t end = environ_text->find('\0', start);
      if (end == std::string::npos) end = environ_text->size();
      std::string kv = environ_text->substr(start, end - start);
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
      start = end + 1;
    }
    out.emplace_back(std::stoi(name), std::move(env));
  }
  return out;
}

}  // namespace

std::vector<int> Fleet::InstancePids(const std::string& app) const {
  std::vector<int> pids;
  for (const auto& [pid, env] : ProcessesUnder(root_)) {
    auto it = env.find("DFLOW_APP");
    if (it != env.end() && it->second == app && env.count("DFLOW_INSTANCE_ID")) {
      pids.push_back(pid);
    }
  }
  return pids;
}

void Fleet::KillInstances() const {
  for (const auto& [pid, env] : ProcessesUnder(root_)) {
    if (env.count("DFLOW_INSTANCE_ID")) kill(pid, SIGKILL);
  }
}

void Fleet::InitController() {
  auto r = RunProgram({DFLOW_CONTROLLER_BIN, "init", "--data-dir", controller_dir_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void Fleet::SpawnController(const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv = {DFLOW_CONTROLLER_BIN,
                                   "run",
                                   "--data-dir",
                                   controller_dir_,
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(controller_port_),
                                   "--heartbeat-interval",
                                   kHeartbeat,
                                   "--lease",
                                   std::to_string(kLease.count()) + "ms",
                                   "--grace",
                                   kGrace};
  // Not the default 127.0.0.1:7480, which tests running in parallel would share.
  if (std::find(controller_flags_.begin(), controller_flags_.end(), "--http-listen") ==
      controller_flags_.end()) {
    argv.insert(argv.end(), {"--http-listen", "127.0.0.1:0"});
  }
  argv.insert(argv.end(), controller_flags_.begin(), controller_flags_.end());
  controller_ = Proc(argv, root_ + "/controller.log", env);
}

void Fleet::StartController(const std::map<std::string, std::string>& env) {
  SpawnController(env);
  bool up = WaitFor([&] { return Cli({"status"}).exit_code == 0; }, std::chrono::seconds(30));
  ASSERT_TRUE(up) << "controller did not come up:\n" << controller_.Log();
}

void Fleet::StopController(int sig) {
  controller_.Signal(sig);
  controller_.Wait(std::chrono::seconds(20));
}

CliResult Fleet::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {DFLOW_CLI_BIN, "--controller", socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv);
}

std::string Fleet::JoinToken() {
  auto r = Cli({"servers", "join-token", "--ttl", "10m"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string token = r.out;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  return token;
}

void Fleet::AddAgent(const std::string& name, const std::vector<std::string>& labels,
                     const std::string& host) {
  int port = FreeLoopbackPort();
  agent_ports_[name] = port;
  if (routers_) {
    router_ports_[name] = FreeLoopbackPort();
    router_tls_ports_[name] = FreeLoopbackPort();
  }
  std::vector<std::string> argv = {
      DFLOW_AGENT_BIN, "join",         "--token",  JoinToken(),
      "--name",        name,           "--listen", host + ":" + std::to_string(port),
      "--data-dir",    agent_dir(name)};
  for (const auto& l : labels) {
    argv.push_back("--label");
    argv.push_back(l);
  }
  auto r = RunProgram(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  StartAgent(name);
}

std::vector<std::string> Fleet::JoinDokkuAgent(const std::string& name,
                                               const std::string& dokku_bin) {
  auto join = RunProgram({DFLOW_AGENT_BIN, "join", "--token", JoinToken(), "--name", name,
                          "--listen", "127.0.0.1:" + std::to_string(FreeLoopbackPort()),
                          "--data-dir", agent_dir(name), "--runtime", "dokku"});
  if (join.exit_code != 0) ADD_FAILURE() << "dflow-agent join " << name << ": " << join.err;
  return {DFLOW_AGENT_BIN, "run",   "--data-dir",  agent_dir(name),
          "--runtime",     "dokku", "--dokku-bin", dokku_bin};
}

void Fleet::StartAgent(const std::string& name) {
  std::vector<std::string> argv = {DFLOW_AGENT_BIN, "run", "--data-dir", agent_dir(name)};
  if (router_ports_.count(name)) {
    argv.push_back("--router-listen");
    argv.push_back("127.0.0.1:" + std::to_string(router_ports_.at(name)));
    argv.push_back("--router-tls-listen");
    argv.push_back("127.0.0.1:" + std::to_string(router_tls_ports_.at(name)));
  }
  agents_[name] = Proc(argv, root_ + "/agent-" + name + ".log");
}

nlohmann::json Fleet::Server(const std::string& name) {
  auto r = Cli({"servers", "ls", "--json"});
  if (r.exit_code != 0) return nullptr;
  auto arr = nlohmann::json::parse(r.out, nullptr, false);
  if (!arr.is_array()) return nullptr;
  for (const auto& s : arr) {
    if (s.value("name", "") == name) return s;
  }
  return nullptr;
}

bool Fleet::WaitStatus(const std::string& name, const std::string& status,
                       std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        auto s = Server(name);
        return !s.is_null() && s.value("status", "") == status;
      },
      timeout);
}

}  // namespace dflow::testing
