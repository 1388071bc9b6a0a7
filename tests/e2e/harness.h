// A small harness for cross-process tests: temp dirs, free loopback ports,
// spawned controller/agent processes, CLI runs and waiting on conditions with
// deadlines (never fixed sleeps).
#ifndef DFLOW_TESTS_E2E_HARNESS_H_
#define DFLOW_TESTS_E2E_HARNESS_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "common/loopback.h"
#include "common/process.h"

namespace dflow::testing {

// A fresh directory under /tmp, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `cond` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// A spawned long-running process (own session), logging to a file.
class Proc {
 public:
  Proc() = default;
  Proc(std::vector<std::string> argv, std::string log_path,
       std::map<std::string, std::string> extra_env = {});
  Proc(Proc&& o) noexcept;
  Proc& operator=(Proc&& o) noexcept;
  ~Proc();

  int pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit code (or 128+signal), -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

// A controller data dir plus its running process, and the CLI pointed at it.
class Fleet {
 public:
  explicit Fleet(const std::string& root);
  ~Fleet();

  const std::string& controller_dir() const { return controller_dir_; }
  std::string socket() const { return controller_dir_ + "/controller.sock"; }
  int controller_port() const { return controller_port_; }

  void InitController();
  // Starts `dflow-controller run` and waits until the CLI gets an answer.
  // `env` is added to the controller's environment (fault-injection points).
  void StartController(const std::map<std::string, std::string>& env = {});
  // Starts the controller without waiting for it (it may be meant to crash).
  void SpawnController(const std::map<std::string, std::string>& env = {});
  void StopController(int sig);
  Proc& controller() { return controller_; }
  // Extra `dflow-controller run` flags for the next (re)starts.
  void set_controller_flags(std::vector<std::string> flags) {
    controller_flags_ = std::move(flags);
  }

  CliResult Cli(const std::vector<std::string>& args);
  std::string JoinToken();
  // `dflow-agent join --runtime dokku` of `name` (a failure is a test failure);
  // returns the argv that runs it against `dokku_bin`, the Dokku test double.
  std::vector<std::string> JoinDokkuAgent(const std::string& name, const std::string& dokku_bin);
  // Joins (with a fresh token) and starts an agent named `name`, listening on
  // `host` (a loopback address such as 127.0.0.2 for a server of its own).
  void AddAgent(const std::string& name, const std::vector<std::string>& labels = {},
                const std::string& host = "127.0.0.1");
  void StartAgent(const std::string& name);
  Proc& agent(const std::string& name) { return agents_.at(name); }
  // Agents added from now on run a router (`--router-listen`) on a free loopback port.
  void set_routers(bool on) { routers_ = on; }
  int router_port(const std::string& name) const { return router_ports_.at(name); }
  // The router's HTTPS port (`--router-tls-listen`), for agents added with routers on.
  int router_tls_port(const std::string& name) const { return router_tls_ports_.at(name); }
  // SIGKILLs the process group of every agent's router (nginx outlives a killed agent).
  void KillRouters() const;
  std::string agent_dir(const std::string& name) const { return root_ + "/agents/" + name; }
  int agent_port(const std::string& name) const { return agent_ports_.at(name); }

  // The server's entry from `dflow servers ls --json`, or null.
  nlohmann::json Server(const std::string& name);
  bool WaitStatus(const std::string& name, const std::string& status,
                  std::chrono::milliseconds timeout);

  // Pids of the app's instance processes on this machine started under this
  // fleet's directory (found by their DFLOW_APP environment and working dir).
  std::vector<int> InstancePids(const std::string& app) const;
  // SIGKILLs every instance process started under this fleet's directory.
  void KillInstances() const;

  static constexpr const char* kHeartbeat = "200ms";
  static constexpr const char* kGrace = "4s";
  static constexpr std::chrono::milliseconds kLease{1500};

 private:
  std::string root_;
  std::string controller_dir_;
  int controller_port_ = 0;
  Proc controller_;
  std::vector<std::string> controller_flags_;
  std::map<std::string, Proc> agents_;
  std::map<std::string, int> agent_ports_;
  bool routers_ = false;
  std::map<std::string, int> router_ports_;
  std::map<std::string, int> router_tls_ports_;
};

CliResult RunProgram(const std::vector<std::string>& argv,
                     std::map<std::string, std::string> extra_env = {});

// GET http://127.0.0.1:PORT/PATH with curl (2 s timeout): the body, or
// "ERROR: …" when it did not answer with 200.
std::string HttpGet(int port, const std::string& path = "/");

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_HARNESS_H_
