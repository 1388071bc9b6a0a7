// What the agent adds to one Dokku command.
//
//   dokku_bench [--rounds 300] [--version 0.38.27]
//
// A dflow-agent runs with `--runtime dokku --dokku-bin fake_dokku` (the Dokku
// test double, compiled, Release) on loopback, joined to a real controller.
// Each round, in alternating order:
// - direct: spawn the double for `logs bench --num 100` (posix_spawn, as the
//   agent does), wait for it;
// - through the agent: the Logs RPC (mTLS, the controller's certificate), which
//   runs that same one command, parses the lines and maps them to instances.
// Both read the same state (one deployed app with two containers). Warm-up
// rounds are not counted. Reported: p50/p99 of each, their ratio, and the
// milliseconds the agent adds at p50 and p99.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/files.h"
#include "common/loopback.h"
#include "common/process.h"
#include "dflow/agent/v1/agent.grpc.pb.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
namespace av1 = dflow::agent::v1;

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

std::map<std::string, std::string> Env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

dflow::ProcessResult MustRun(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env,
                             const std::string& stdin_data = "") {
  dflow::PosixProcessRunner runner;
  auto r = runner.Run(
      {.argv = argv, .env = env, .stdin_data = stdin_data, .deadline = std::chrono::minutes(1)});
  if (!r.ok() || r->exit_code != 0) {
    std::cerr << "dokku_bench: " << absl::StrJoin(argv, " ")
              << " failed: " << (r.ok() ? r->stderr_data + r->stdout_data : r.status().ToString())
              << "\n";
    std::exit(1);
  }
  return *r;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 300;
  std::string version = "0.38.27";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--rounds") rounds = std::atoi(argv[i + 1]);
    if (std::string(argv[i]) == "--version") version = argv[i + 1];
  }
  char tmpl[] = "/tmp/dokku-bench-XXXXXX";
  const std::string root = mkdtemp(tmpl);
  const std::string ctl = root + "/controller", agent = root + "/agent", state = root + "/dokku";
  std::filesystem::create_directories(state);
  std::ofstream(state + "/VHOST") << "dokku.me\n";
  const auto dokku_env = Env({{"FAKE_DOKKU_STATE", state}, {"FAKE_DOKKU_VERSION", version}});

  // One app with two running containers in the double.
  std::filesystem::create_directories(root + "/src");
  std::ofstream(root + "/src/Procfile") << "web: python3 app.py\n";
  std::string tgz = MustRun({"tar", "-czf", "-", "-C", root + "/src", "."}, dokku_env).stdout_data;
  MustRun({FAKE_DOKKU_BIN, "apps:create", "bench"}, dokku_env);
  MustRun({FAKE_DOKKU_BIN, "ps:scale", "--skip-deploy", "bench", "web=2"}, dokku_env);
  MustRun({FAKE_DOKKU_BIN, "git:from-archive", "--archive-type", "tar.gz", "bench", "--"},
          dokku_env, tgz);

  const int ctl_port = dflow::FreeLoopbackPort(), agent_port = dflow::FreeLoopbackPort();
  MustRun({DFLOW_CONTROLLER_BIN, "init", "--data-dir", ctl}, Env({}));
  int ctl_pid = *dflow::SpawnDetached(
      {.argv = {DFLOW_CONTROLLER_BIN, "run", "--data-dir", ctl, "--listen",
                absl::StrCat("127.0.0.1:", ctl_port), "--http-listen", "127.0.0.1:0"},
       .log_path = root + "/controller.log"});
  const std::string cli_sock = ctl + "/controller.sock";
  std::string token;
  for (int i = 0; i < 500 && token.empty(); ++i) {
    dflow::PosixProcessRunner r;
    auto t = r.Run({.argv = {DFLOW_CLI_BIN, "--controller", cli_sock, "servers", "join-token"},
                    .deadline = std::chrono::seconds(10)});
    if (t.ok() && t->exit_code == 0) {
      token = std::string(absl::StripAsciiWhitespace(t->stdout_data));
      token = token.substr(token.rfind('\n') + 1);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  MustRun({DFLOW_AGENT_BIN, "join", "--token", token, "--name", "dokku-1", "--listen",
           absl::StrCat("127.0.0.1:", agent_port), "--data-dir", agent, "--runtime", "dokku"},
          Env({}));
  int agent_pid = *dflow::SpawnDetached(
      {.argv = {DFLOW_AGENT_BIN, "run", "--data-dir", agent, "--dokku-bin", FAKE_DOKKU_BIN},
       .env = dokku_env,
       .log_path = root + "/agent.log"});

  grpc::SslCredentialsOptions creds{*dflow::ReadFile(ctl + "/ca.pem"),
                                    *dflow::ReadFile(ctl + "/controller.key"),
                                    *dflow::ReadFile(ctl + "/controller.pem")};
  auto stub = av1::Agent::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", agent_port), grpc::SslCredentials(creds)));
  auto logs_rpc = [&]() {
    av1::LogsRequest req;
    req.set_app("bench");
    req.set_lines(100);
    av1::LogsResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->Logs(&ctx, req, &resp);
    if (!s.ok() || resp.lines_size() != 2) {
      std::cerr << "dokku_bench: Logs RPC: " << s.error_message() << " (" << resp.lines_size()
                << " lines)\n"
                << dflow::ReadFile(root + "/agent.log").value_or("") << "\n";
      std::exit(1);
    }
  };
  auto direct = [&]() { MustRun({FAKE_DOKKU_BIN, "logs", "bench", "--num", "100"}, dokku_env); };
  {  // until the agent serves (wait_for_ready rides out the channel's reconnect backoff)
    av1::DescribeResponse d;
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (grpc::Status s = stub->Describe(&ctx, av1::DescribeRequest(), &d); !s.ok()) {
      std::cerr << "dokku_bench: the agent did not answer: " << s.error_message() << "\n"
                << dflow::ReadFile(root + "/agent.log").value_or("") << "\n";
      return 1;
    }
  }
  for (int i = 0; i < 20; ++i) {
    logs_rpc();
    direct();
  }
  std::vector<double> rpc_ms, direct_ms;
  for (int i = 0; i < rounds; ++i) {
    for (int side = 0; side < 2; ++side) {
      const bool rpc_side = (i + side) % 2 == 0;
      auto t0 = SteadyClock::now();
      rpc_side ? logs_rpc() : direct();
      (rpc_side ? rpc_ms : direct_ms).push_back(MsSince(t0));
    }
  }
  kill(agent_pid, SIGTERM);
  kill(ctl_pid, SIGTERM);

  const double d50 = Percentile(direct_ms, 0.5), d99 = Percentile(direct_ms, 0.99);
  const double r50 = Percentile(rpc_ms, 0.5), r99 = Percentile(rpc_ms, 0.99);
  std::cout << "## bench/dokku_bench\n\n"
            << "One Dokku command (`logs bench --num 100` on the double, Dokku " << version << "), "
            << rounds << " rounds, build type " << DFLOW_BUILD_TYPE << "\n\n"
            << "| | p50 ms | p99 ms |\n|---|---|---|\n"
            << absl::StrFormat("| spawn the double directly | %.2f | %.2f |\n", d50, d99)
            << absl::StrFormat("| Logs RPC through the agent | %.2f | %.2f |\n", r50, r99)
            << absl::StrFormat("| added by the agent | %.2f | %.2f |\n", r50 - d50, r99 - d99)
            << absl::StrFormat("| ratio (target ≤ 5×) | %.2f× | %.2f× |\n", r50 / d50, r99 / d99);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  return 0;
}
