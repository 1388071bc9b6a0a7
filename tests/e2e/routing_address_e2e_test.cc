// End to end: a server whose address is not 127.0.0.1 (local-2 on 127.0.0.2,
// a loopback address of its own): its instances listen there (HOST), pass
// their health checks there, and both routers reach them there.
#include "common/files.h"
#include "tests/e2e/routing_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

class RoutingAddressE2E : public RoutingE2E {
 protected:
  void SetUp() override { StartRoutedFleet("127.0.0.2"); }

  // GET http://HOST:PORT/health with curl; true when it answers 200.
  static bool Answers(const std::string& host, int port) {
    auto r = RunProgram({"curl", "-sS", "-f", "-m", "3",
                         "http://" + host + ":" + std::to_string(port) + "/health"});
    return r.exit_code == 0;
  }
};

TEST_F(RoutingAddressE2E, InstancesListenOnTheirServersAddressAndTheRoutersUseIt) {
  DeployHello("hello", 2);
  std::map<std::string, nlohmann::json> by_server;
  for (const auto& i : Ps("hello")) by_server[i.value("server", "")] = i;
  ASSERT_EQ(by_server.size(), 2u) << Ps("hello").dump();
  const int port_1 = by_server["local-1"].value("port", 0);
  const int port_2 = by_server["local-2"].value("port", 0);
  EXPECT_EQ(by_server["local-1"].value("address", ""), "127.0.0.1:" + std::to_string(port_1));
  EXPECT_EQ(by_server["local-2"].value("address", ""), "127.0.0.2:" + std::to_string(port_2));

  // The instance on local-2 was given HOST=127.0.0.2 and listens there only.
  bool found = false;
  for (int pid : fleet_->InstancePids("hello")) {
    auto env = ReadFile("/proc/" + std::to_string(pid) + "/environ").value_or("");
    for (auto& c : env) c = c == '\0' ? '\n' : c;
    if (!Contains(env, "DFLOW_INSTANCE_ID=" + by_server["local-2"].value("id", ""))) continue;
    found = true;
    EXPECT_TRUE(Contains(env, "\nHOST=127.0.0.2\n")) << env;
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(Answers("127.0.0.2", port_2));
  EXPECT_FALSE(Answers("127.0.0.1", port_2));
  EXPECT_TRUE(Answers("127.0.0.1", port_1));

  // Both routers hold local-2's instance at 127.0.0.2 and reach it there.
  for (const char* server : {"local-1", "local-2"}) {
    // Pushed by the controller's route pusher, after the scale op ends.
    std::string conf;
    EXPECT_TRUE(WaitFor(
        [&] {
          conf = ReadFile(fleet_->agent_dir(server) + "/router/nginx.conf").value_or("");
          return Contains(conf, "server 127.0.0.2:" + std::to_string(port_2) + " ");
        },
        seconds(15)))
        << conf;
    std::set<std::string> seen;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto a = Answering(server, 6);
          seen.insert(a.begin(), a.end());
          return seen == RunningIds("hello");
        },
        seconds(15)))
        << server;
  }
  // The DNS records name each server's own address.
  std::string dns = CliOk({"domains", "dns", "hello"});
  EXPECT_TRUE(Contains(dns, "hello.localhost.\t300\tIN\tA\t127.0.0.2\t; local-2, 1 instance\n"))
      << dns;
  EXPECT_TRUE(Contains(dns, "hello.localhost.\t300\tIN\tA\t127.0.0.1\t; local-1, 1 instance\n"))
      << dns;
}

}  // namespace
}  // namespace dflow::testing
