// Heartbeat ingest and controller memory, over real gRPC + mTLS on loopback.
//
//   heartbeat_bench [--seconds 10] [--agents 50] [--registered 1000] [--idle 60]
//
// 1. Registers `registered` servers in a fresh controller store, `agents` of
//    them with real certificates issued by the controller's CA.
// 2. Throughput: `agents` client threads, one mTLS channel each, send Heartbeat
//    in a closed loop against (a) a real dflow-controller process and (b) a
//    baseline process serving the same RPC as a no-op with the same TLS setup.
//    The ratio controller/baseline is what the figures report.
// 3. Memory: a fresh controller, measured idle with no agent connected, then
//    after `idle` seconds with `agents` agents heartbeating every second.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/loopback.h"
#include "common/process.h"
#include "common/tls.h"
#include "controller/store/store.h"
#include "dflow/controller/v1/agent_gateway.grpc.pb.h"

namespace {

namespace v1 = dflow::controller::v1;
using Clock = std::chrono::steady_clock;

struct Options {
  int seconds = 10;
  int agents = 50;
  int registered = 1000;
  int idle = 60;
};

class NoopGateway final : public v1::AgentGateway::Service {
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse* r) override {
    r->set_interval_ms(5000);
    return grpc::Status::OK;
  }
};

// The baseline server process: same credentials and options as the controller.
int ServeBaseline(const std::string& dir, const std::string& listen) {
  auto ca = dflow::ReadFile(dir + "/ca.pem");
  auto key = dflow::ReadFile(dir + "/controller.key");
  auto cert = dflow::ReadFile(dir + "/controller.pem");
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = *ca;
  o.pem_key_cert_pairs.push_back({*key, *cert + *ca});
  NoopGateway service;
  grpc::ServerBuilder b;
  b.AddListeningPort(listen, grpc::SslServerCredentials(o));
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  server->Wait();
  return 0;
}

// A "Field:   123 kB" line of /proc/PID/status: VmRSS (all resident pages) or
// RssAnon (the process's private memory, without shared library pages).
long StatusKib(int pid, const std::string& field) {
  auto status = dflow::ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return -1;
  auto pos = status->find(field + ":");
  if (pos == std::string::npos) return -1;
  return std::strtol(status->c_str() + pos + field.size() + 1, nullptr, 10);
}

struct AgentCreds {
  std::string key, cert;
};

// Registers servers directly in the store (as joins would) and returns the
// credentials of the first `agents`.
std::vector<AgentCreds> Register(const std::string& dir, const Options& o) {
  dflow::tls::KeyAndCert ca{*dflow::ReadFile(dir + "/ca.key"), *dflow::ReadFile(dir + "/ca.pem")};
  auto store = std::move(*dflow::store::Store::Open(dir + "/store.db", dflow::SystemClock::Get()));
  std::vector<AgentCreds> creds;
  for (int i = 0; i < o.registered; ++i) {
    std::string name = absl::StrCat("srv-", i);
    std::string fingerprint = absl::StrCat("unused-", i);
    if (i < o.agents) {
      AgentCreds c;
      c.key = *dflow::tls::GenerateKey();
      std::string cn = absl::StrCat(dflow::tls::kAgentCommonNamePrefix, name);
      c.cert =
          *dflow::tls::IssueCertificate(ca, *dflow::tls::CreateCsr(c.key, cn), cn, "127.0.0.1", 30);
      fingerprint = *dflow::tls::Fingerprint(c.cert);
      creds.push_back(c);
    }
    std::string token = absl::StrCat("bench-token-", i);
    (void)store->CreateJoinToken(token, dflow::SystemClock::Get()->NowMs() + 3600000);
    dflow::store::JoinRecord r{
        token, name,       absl::StrCat("127.0.0.1:", 20000 + i), "local", {{"bench", "yes"}},
        {},    fingerprint};
    r.facts.cpus = 2;
    if (auto s = store->JoinServer(r); !s.ok()) {
      std::cerr << "register: " << s << "\n";
      std::exit(1);
    }
  }
  return creds;
}

// Closed-loop heartbeats from every agent for `seconds`; returns calls per second.
double Hammer(const std::string& target, const std::string& ca,
              const std::vector<AgentCreds>& creds, int seconds, int* errors) {
  std::atomic<long> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (const auto& c : creds) {
    threads.emplace_back([&, c] {
      grpc::SslCredentialsOptions o{ca, c.key, c.cert};
      auto stub = v1::AgentGateway::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(o)));
      v1::HeartbeatRequest req;
      req.mutable_facts()->set_cpus(2);
      req.mutable_facts()->set_runtime("local");
      req.mutable_facts()->set_memory_total_bytes(1LL << 33);
      while (!stop) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        v1::HeartbeatResponse resp;
        if (stub->Heartbeat(&ctx, req, &resp).ok()) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  // Warm up (handshakes), then measure.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  long start_ok = ok;
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  long n = ok - start_ok;
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  for (auto& t : threads) t.join();
  *errors = static_cast<int>(failed);
  return n / elapsed;
}

int Spawn(const std::vector<std::string>& argv, const std::string& log) {
  dflow::SpawnSpec s;
  s.argv = argv;
  s.log_path = log;
  return *dflow::SpawnDetached(s);
}

void WaitPort(const std::string& target, const std::string& ca) {
  auto ch = grpc::CreateChannel(target, grpc::SslCredentials({ca, "", ""}));
  ch->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

void Stop(int pid) {
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--baseline-server") return ServeBaseline(argv[i + 1], argv[i + 2]);
    int v = std::atoi(argv[i + 1]);
    if (f == "--seconds") o.seconds = v;
    if (f == "--agents") o.agents = v;
    if (f == "--registered") o.registered = v;
    if (f == "--idle") o.idle = v;
  }
  std::string dir = "/tmp/dflow-bench-hb";
  std::filesystem::remove_all(dir);
  std::string controller = DFLOW_CONTROLLER_BIN;
  dflow::PosixProcessRunner runner;
  dflow::ProcessSpec init;
  init.argv = {controller, "init", "--data-dir", dir + "/c"};
  if (runner.Run(init)->exit_code != 0) return 1;
  std::string cdir = dir + "/c";
  auto creds = Register(cdir, o);
  std::string ca = *dflow::ReadFile(cdir + "/ca.pem");

  // (a) the controller.
  std::string listen = absl::StrCat("127.0.0.1:", dflow::FreeLoopbackPort());
  int pid = Spawn({controller, "run", "--data-dir", cdir, "--listen", listen,
                   "--heartbeat-interval", "1s", "--lease", "15s", "--http-listen", "127.0.0.1:0"},
                  dir + "/controller.log");
  WaitPort(listen, ca);
  int controller_errors = 0;
  double controller_rate = Hammer(listen, ca, creds, o.seconds, &controller_errors);
  Stop(pid);

  // (b) the baseline: the same RPC as a no-op, same TLS.
  std::string base_listen = absl::StrCat("127.0.0.1:", dflow::FreeLoopbackPort());
  int base_pid = Spawn({argv[0], "--baseline-server", cdir, base_listen}, dir + "/baseline.log");
  WaitPort(base_listen, ca);
  int base_errors = 0;
  double base_rate = Hammer(base_listen, ca, creds, o.seconds, &base_errors);
  Stop(base_pid);

  // Memory: a fresh controller, idle with nobody connected, then with agents.
  pid = Spawn({controller, "run", "--data-dir", cdir, "--listen", listen, "--heartbeat-interval",
               "1s", "--lease", "15s", "--http-listen", "127.0.0.1:0"},
              dir + "/controller2.log");
  WaitPort(listen, ca);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  long rss_idle = StatusKib(pid, "VmRSS");
  long anon_idle = StatusKib(pid, "RssAnon");
  std::atomic<bool> stop{false};
  std::vector<std::thread> beats;
  for (const auto& c : creds) {
    beats.emplace_back([&, c] {
      grpc::SslCredentialsOptions so{ca, c.key, c.cert};
      auto stub = v1::AgentGateway::NewStub(grpc::CreateChannel(listen, grpc::SslCredentials(so)));
      while (!stop) {
        grpc::ClientContext ctx;
        v1::HeartbeatRequest req;
        v1::HeartbeatResponse resp;
        req.mutable_facts()->set_cpus(2);
        stub->Heartbeat(&ctx, req, &resp);
        for (int i = 0; i < 10 && !stop; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.idle));
  long rss_connected = StatusKib(pid, "VmRSS");
  long anon_connected = StatusKib(pid, "RssAnon");
  stop = true;
  for (auto& t : beats) t.join();
  Stop(pid);

  std::printf("| metric | value |\n|---|---|\n");
  std::printf("| heartbeats/s, controller (%d agents, mTLS, %d registered) | %.0f |\n", o.agents,
              o.registered, controller_rate);
  std::printf("| unary calls/s, baseline no-op server (same RPC, same TLS) | %.0f |\n", base_rate);
  std::printf("| ratio controller / baseline | %.2f |\n", controller_rate / base_rate);
  std::printf("| failed calls (controller / baseline) | %d / %d |\n", controller_errors,
              base_errors);
  std::printf("| controller RSS, idle, %d registered, none connected | %.1f MiB |\n", o.registered,
              rss_idle / 1024.0);
  std::printf("| controller RSS after %d s with %d agents heartbeating every 1 s | %.1f MiB |\n",
              o.idle, o.agents, rss_connected / 1024.0);
  std::printf("| of which private (RssAnon), idle / connected | %.1f / %.1f MiB |\n",
              anon_idle / 1024.0, anon_connected / 1024.0);
  std::printf("| added RSS per connected agent | %.1f KiB |\n",
              static_cast<double>(rss_connected - rss_idle) / o.agents);
  return 0;
}
