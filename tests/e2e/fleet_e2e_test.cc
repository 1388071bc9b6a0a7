// End to end: a real controller and real agents as processes on loopback.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include "common/files.h"
#include "common/join_token.h"
#include "common/tls.h"
#include "dflow/agent/v1/agent.grpc.pb.h"
#include "dflow/controller/v1/agent_gateway.grpc.pb.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class FleetE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_ = std::make_unique<Fleet>(tmp_.path());
    fleet_->InitController();
    fleet_->StartController();
  }

  TempDir tmp_;
  std::unique_ptr<Fleet> fleet_;
};

TEST_F(FleetE2E, AgentsHealthyThenUnreachableThenHealthy) {
  fleet_->AddAgent("local-1", {"tier=small"});
  fleet_->AddAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));

  auto s = fleet_->Server("local-1");
  EXPECT_EQ(s["runtime"], "local");
  EXPECT_EQ(s["labels"]["tier"], "small");
  EXPECT_EQ(s["address"], "127.0.0.1:" + std::to_string(fleet_->agent_port("local-1")));
  EXPECT_GT(s["cpus"].get<int>(), 0);
  EXPECT_GT(s["memory_total_bytes"].get<int64_t>(), 0);
  EXPECT_GT(s["memory_available_bytes"].get<int64_t>(), 0);
  EXPECT_GT(s["disk_free_bytes"].get<int64_t>(), 0);
  EXPECT_FALSE(s["last_heartbeat"].get<std::string>().empty());

  fleet_->agent("local-2").Signal(SIGKILL);
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "unreachable", seconds(10)));
  // Within the lease, plus the controller's tick and the CLI's own latency.
  EXPECT_LT(std::chrono::steady_clock::now() - killed, Fleet::kLease + seconds(3));
  EXPECT_EQ(fleet_->Server("local-1")["status"], "healthy");

  fleet_->StartAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));

  auto events = fleet_->Cli({"events", "--json"});
  ASSERT_EQ(events.exit_code, 0);
  EXPECT_TRUE(Contains(events.out, "server.unreachable"));
  EXPECT_TRUE(Contains(events.out, "server.healthy"));
}

TEST_F(FleetE2E, ControllerRestartKeepsInventoryAndLeases) {
  fleet_->AddAgent("local-1", {"zone=a"});
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  fleet_->StopController(SIGTERM);
  EXPECT_EQ(fleet_->controller().Wait(seconds(1)), 0) << fleet_->controller().Log();
  EXPECT_FALSE(FileExists(fleet_->socket()));
  fleet_->StartController();
  auto s = fleet_->Server("local-1");
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["status"], "healthy");  // the lease restarted; nobody was declared dead
  EXPECT_EQ(s["labels"]["zone"], "a");
  // The agent reconnects on its own and stays healthy past a whole lease.
  ASSERT_TRUE(
      WaitFor([&] { return fleet_->Server("local-1")["last_heartbeat"] != s["last_heartbeat"]; },
              seconds(10)));
}

TEST_F(FleetE2E, ControllerKilledHardRestartsCleanly) {
  fleet_->AddAgent("local-1");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  fleet_->StopController(SIGKILL);
  fleet_->StartController();  // stale socket and lock from the dead process do not matter
  EXPECT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(10)));
}

// After a long controller outage the agent is back within about a second of
// the controller, not after gRPC's default reconnect backoff, which outlasts
// the lease (1 s growing 1.6x to 120 s, ±20%: attempts near 16, 26 and 43 s
// into an outage; the agent came back 9 s late here without the fix).
TEST_F(FleetE2E, AnAgentIsBackSoonAfterALongControllerOutage) {
  fleet_->AddAgent("local-1");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  fleet_->StopController(SIGKILL);
  // The outage itself is what is tested: 28 s of it, during which the agent
  // warns once (then every 30 s), not at every heartbeat.
  auto down = std::chrono::steady_clock::now();
  WaitFor([&] { return std::chrono::steady_clock::now() - down > seconds(28); }, seconds(29));
  std::string log = fleet_->agent("local-1").Log();
  size_t warnings = 0;
  for (size_t at = log.find("heartbeat to controller"); at != std::string::npos;
       at = log.find("heartbeat to controller", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << log;
  EXPECT_TRUE(Contains(log, "retrying every 200 ms (1 attempt(s) so far)")) << log;

  fleet_->StartController();
  auto up = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Contains(fleet_->agent("local-1").Log(), "reachable again"); },
                      seconds(20)))
      << fleet_->agent("local-1").Log();
  EXPECT_LT(std::chrono::steady_clock::now() - up, seconds(3)) << fleet_->agent("local-1").Log();
  EXPECT_TRUE(Contains(fleet_->agent("local-1").Log(), "reachable again after "))
      << fleet_->agent("local-1").Log();
  EXPECT_EQ(fleet_->Server("local-1")["status"], "healthy");
}

TEST_F(FleetE2E, SecondControllerOnSameDataDirRefused) {
  auto r = RunProgram({DFLOW_CONTROLLER_BIN, "run", "--data-dir", fleet_->controller_dir(),
                       "--listen", "127.0.0.1:" + std::to_string(FreeLoopbackPort())});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "another dflow-controller (pid ")) << r.err;
  EXPECT_TRUE(Contains(r.err, "is already running on data dir")) << r.err;
  EXPECT_EQ(fleet_->Cli({"status"}).exit_code, 0);  // the first still serves its socket
}

TEST_F(FleetE2E, RemovedAgentIsRefused) {
  fleet_->AddAgent("local-1");
  fleet_->AddAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));
  auto rm = fleet_->Cli({"servers", "rm", "local-2"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_TRUE(fleet_->Server("local-2").is_null());
  // The running agent's next heartbeat is refused and it stops with a clear message.
  EXPECT_EQ(fleet_->agent("local-2").Wait(seconds(10)), 3);
  // Restarted with its old certificate: PERMISSION_DENIED again.
  fleet_->StartAgent("local-2");
  EXPECT_EQ(fleet_->agent("local-2").Wait(seconds(10)), 3);
  std::string log = fleet_->agent("local-2").Log();
  EXPECT_TRUE(Contains(log, "PERMISSION_DENIED")) << log;
  EXPECT_TRUE(Contains(log, "revoked")) << log;
  EXPECT_TRUE(fleet_->Server("local-2").is_null());
  EXPECT_EQ(fleet_->Server("local-1")["status"], "healthy");
}

TEST_F(FleetE2E, JoinTokenRules) {
  std::string token = fleet_->JoinToken();
  int attempt = 0;
  auto join = [&](const std::string& tok, const std::string& name) {
    return RunProgram({DFLOW_AGENT_BIN, "join", "--token", tok, "--name", name, "--listen",
                       "127.0.0.1:" + std::to_string(FreeLoopbackPort()), "--data-dir",
                       tmp_.path() + "/agents/" + std::to_string(++attempt)});
  };
  ASSERT_EQ(join(token, "a-1").exit_code, 0);
  auto reused = join(token, "a-2");
  EXPECT_EQ(reused.exit_code, 1);
  EXPECT_TRUE(Contains(reused.err, "already used (by server \"a-1\"")) << reused.err;

  auto dup = join(fleet_->JoinToken(), "a-1");
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_TRUE(Contains(dup.err, "a server named \"a-1\" is already registered")) << dup.err;

  auto garbage = join("not-a-token", "a-3");
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_TRUE(Contains(garbage.err, "join token is malformed")) << garbage.err;

  // Expiry: a 1 s token used after it ran out.
  auto created = std::chrono::system_clock::now();
  auto short_token = fleet_->Cli({"servers", "join-token", "--ttl", "1s"});
  ASSERT_EQ(short_token.exit_code, 0);
  std::string t = short_token.out.substr(0, short_token.out.find('\n'));
  WaitFor([&] { return std::chrono::system_clock::now() > created + milliseconds(1100); },
          seconds(5));
  auto expired = join(t, "a-4");
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_TRUE(Contains(expired.err, "join token expired at")) << expired.err;

  // A token naming another controller's CA: nothing is sent to this one.
  auto decoded = DecodeJoinToken(fleet_->JoinToken());
  ASSERT_TRUE(decoded.ok());
  decoded->ca_fingerprint = std::string(64, '0');
  auto foreign = join(decoded->Encode(), "a-5");
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_TRUE(Contains(foreign.err, "did not present the CA named in the join token"))
      << foreign.err;
}

// The agent accepts only the controller's certificate; the controller accepts
// only certificates its CA issued and it has not revoked.
TEST_F(FleetE2E, PeersCheckEachOthersIdentity) {
  fleet_->AddAgent("local-1");
  fleet_->AddAgent("local-2");
  ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
  const std::string& cdir = fleet_->controller_dir();
  std::string ca = *ReadFile(cdir + "/ca.pem");
  auto agent_stub = [&](const std::string& key, const std::string& cert) {
    grpc::SslCredentialsOptions o{ca, key, cert};
    return agent::v1::Agent::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(fleet_->agent_port("local-1")), grpc::SslCredentials(o)));
  };
  auto describe = [&](agent::v1::Agent::Stub* stub, agent::v1::DescribeResponse* r) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    return stub->Describe(&ctx, {}, r);
  };
  agent::v1::DescribeResponse r;
  auto as_controller =
      agent_stub(*ReadFile(cdir + "/controller.key"), *ReadFile(cdir + "/controller.pem"));
  ASSERT_TRUE(describe(as_controller.get(), &r).ok());
  EXPECT_EQ(r.name(), "local-1");
  EXPECT_GT(r.facts().cpus(), 0);

  std::string other = fleet_->agent_dir("local-2");
  auto as_agent = agent_stub(*ReadFile(other + "/key.pem"), *ReadFile(other + "/cert.pem"));
  EXPECT_EQ(describe(as_agent.get(), &r).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // A certificate from a foreign CA gets nothing from the controller.
  std::string foreign_ca_key = *tls::GenerateKey();
  tls::KeyAndCert foreign{foreign_ca_key, *tls::SelfSignedCa(foreign_ca_key, "evil", 1)};
  std::string key = *tls::GenerateKey();
  std::string cert = *tls::IssueCertificate(foreign, *tls::CreateCsr(key, "agent:local-1"),
                                            "agent:local-1", "127.0.0.1", 1);
  grpc::SslCredentialsOptions o{ca, key, cert};
  auto gateway = controller::v1::AgentGateway::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(fleet_->controller_port()), grpc::SslCredentials(o)));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(5));
  controller::v1::HeartbeatResponse hr;
  EXPECT_FALSE(gateway->Heartbeat(&ctx, {}, &hr).ok());

  // No client certificate at all: only Join is reachable.
  auto anonymous = controller::v1::AgentGateway::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(fleet_->controller_port()),
                          grpc::SslCredentials({ca, "", ""})));
  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + seconds(5));
  EXPECT_EQ(anonymous->Heartbeat(&ctx2, {}, &hr).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(FleetE2E, BadInputGetsClearMessagesAndExitCodes) {
  fleet_->AddAgent("local-1");
  auto unknown = fleet_->Cli({"servers", "show", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(Contains(unknown.err, "server \"nope\" is not registered")) << unknown.err;

  auto bad_label = fleet_->Cli({"servers", "label", "local-1", "Tier=x"});
  EXPECT_EQ(bad_label.exit_code, 2);
  EXPECT_TRUE(Contains(bad_label.err, "label key \"Tier\" is not allowed")) << bad_label.err;

  auto no_equals = fleet_->Cli({"servers", "label", "local-1", "tier"});
  EXPECT_EQ(no_equals.exit_code, 2);

  auto bad_ttl = fleet_->Cli({"servers", "join-token", "--ttl", "forever"});
  EXPECT_EQ(bad_ttl.exit_code, 2);
  EXPECT_TRUE(Contains(bad_ttl.err, "duration \"forever\" is not valid")) << bad_ttl.err;

  auto unknown_flag = fleet_->Cli({"servers", "ls", "--bogus"});
  EXPECT_EQ(unknown_flag.exit_code, 2);

  auto label = fleet_->Cli({"servers", "label", "local-1", "tier=beefy"});
  EXPECT_EQ(label.exit_code, 0) << label.err;
  auto removed = fleet_->Cli({"servers", "label", "local-1", "--remove", "tier"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_TRUE(fleet_->Server("local-1")["labels"].empty());

  EXPECT_EQ(fleet_->Cli({"servers", "drain", "local-1"}).exit_code, 0);
  EXPECT_TRUE(fleet_->WaitStatus("local-1", "draining", seconds(10)));
  EXPECT_EQ(fleet_->Cli({"servers", "undrain", "local-1"}).exit_code, 0);
  EXPECT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(10)));
  EXPECT_EQ(fleet_->Cli({"servers", "drain", "nope"}).exit_code, 1);
}

TEST(FleetE2EStandalone, CliSaysWhereItLookedWhenControllerIsDown) {
  TempDir tmp;
  auto r = RunProgram({DFLOW_CLI_BIN, "servers", "ls"},
                      {{"DFLOW_HOME", tmp.path()}, {"DFLOW_CONTROLLER", ""}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(
      r.err, "cannot reach the controller at unix:" + tmp.path() + "/controller/controller.sock"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "dflow-controller run --data-dir " + tmp.path() + "/controller"))
      << r.err;
}

TEST(FleetE2EStandalone, SocketPathLimitIsChecked) {
  TempDir tmp;
  std::string deep = tmp.path() + "/" + std::string(100, 'x');
  auto r = RunProgram({DFLOW_CONTROLLER_BIN, "init", "--data-dir", deep});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "Unix sockets allow at most 107")) << r.err;
}

TEST(FleetE2EStandalone, InitTwiceRefusedAndDirIsPrivate) {
  TempDir tmp;
  std::string dir = tmp.path() + "/c";
  ASSERT_EQ(RunProgram({DFLOW_CONTROLLER_BIN, "init", "--data-dir", dir}).exit_code, 0);
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir + "/ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = RunProgram({DFLOW_CONTROLLER_BIN, "init", "--data-dir", dir});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "already initialized")) << again.err;
}

}  // namespace
}  // namespace dflow::testing
