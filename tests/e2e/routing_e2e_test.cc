// End to end: the routers (real nginx) on both agents of a real fleet, apps
// reached at http://APP.localhost:<router port> through either server.
#include <signal.h>

#include <atomic>
#include <thread>

#include "common/files.h"
#include "tests/e2e/routing_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_F(RoutingE2E, AnAppAnswersThroughEitherServersRouter) {
  DeployHello("hello", 2);
  ASSERT_EQ(RunningByServer("hello"), (std::map<std::string, int>{{"local-1", 1}, {"local-2", 1}}));
  const std::set<std::string> ids = RunningIds("hello");
  for (const char* server : {"local-1", "local-2"}) {
    std::set<std::string> seen;
    // Each router balances over the instances on both servers.
    EXPECT_TRUE(WaitFor(
        [&] {
          auto a = Answering(server, 6);
          seen.insert(a.begin(), a.end());
          return seen == ids;
        },
        seconds(15)))
        << server;
  }
  // The URL a user types, with curl (NAME.localhost resolves to loopback).
  auto curl = RunProgram({"curl", "-sS", "-m", "5",
                          "http://hello.localhost:" + std::to_string(Router("local-1")) + "/"});
  EXPECT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_TRUE(Contains(curl.out, "hello from")) << curl.out;
  // A host no app owns.
  Reply none = Get(Router("local-2"), "nobody.localhost");
  EXPECT_EQ(none.code, 404);
  EXPECT_TRUE(Contains(none.body, "no app is routed for host nobody.localhost")) << none.body;
}

TEST_F(RoutingE2E, CustomDomainsAreRoutedAndBadOnesRefusedWhileOldRoutesServe) {
  DeployHello("hello", 1);
  CliOk({"apps", "create", "other"});
  const std::string url = "http://hello.localhost:" + std::to_string(Router("local-1"));
  EXPECT_TRUE(Contains(CliOk({"apps", "show", "hello"}), url)) << CliOk({"apps", "show", "hello"});
  EXPECT_EQ(Json({"apps", "show", "hello", "--json"}).value("url", ""), url);

  auto added = Json({"domains", "add", "hello", "Shop.Example.COM", "--json"});
  ASSERT_TRUE(added.is_object());
  EXPECT_EQ(added["domains"], nlohmann::json::array({"shop.example.com"}));
  for (const char* server : {"local-1", "local-2"}) {
    EXPECT_TRUE(
        WaitFor([&] { return Get(Router(server), "shop.example.com").code == 200; }, seconds(10)))
        << server;
  }
  // Refused with a clear message; the routes in place keep serving.
  auto bad = Cli({"domains", "add", "hello", "shop_1.example.com"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(Contains(bad.err, "\"shop_1.example.com\" is not a valid DNS name")) << bad.err;
  auto taken = Cli({"domains", "add", "other", "shop.example.com"});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_TRUE(Contains(taken.err, "domain shop.example.com is already used by app hello"))
      << taken.err;
  auto own = Cli({"domains", "add", "other", "hello.localhost"});
  EXPECT_NE(own.exit_code, 0);
  EXPECT_TRUE(Contains(own.err, "is app hello's own address")) << own.err;
  EXPECT_EQ(Get(Router("local-2"), "shop.example.com").code, 200);
  EXPECT_EQ(Get(Router("local-2"), "hello.localhost").code, 200);
  EXPECT_TRUE(Contains(CliOk({"domains", "ls", "hello"}), "shop.example.com"));

  CliOk({"domains", "rm", "hello", "shop.example.com"});
  EXPECT_EQ(Get(Router("local-1"), "shop.example.com").code, 404);
  EXPECT_EQ(Get(Router("local-1"), "hello.localhost").code, 200);
  // An app without instances answers 503 with why.
  Reply empty = Get(Router("local-1"), "other.localhost");
  EXPECT_EQ(empty.code, 503);
  EXPECT_TRUE(Contains(empty.body, "app other has no healthy instances")) << empty.body;
}

TEST_F(RoutingE2E, NoRequestFailsDuringDeployScaleDownAndRollback) {
  DeployHello("hello", 2);
  ASSERT_TRUE(WaitFor([&] { return Answering("local-1", 4).size() == 2; }, seconds(15)));
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> clients;
  for (const char* server : {"local-1", "local-2"}) {
    clients.emplace_back([&, port = Router(server)] {
      while (!stop) {
        Reply r = Get(port, "hello.localhost");
        if (r.code == 200 && Contains(r.body, "hello from")) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(mu);
          if (failures.size() < 5) failures.push_back(std::to_string(r.code) + " " + r.body);
        }
      }
    });
  }
  CliOk({"deploy", "hello", "--path", Example("hello")});
  ASSERT_TRUE(WaitSettled("hello", 2));
  const int after_deploy = ok;
  CliOk({"scale", "hello", "web=1"});
  ASSERT_TRUE(WaitSettled("hello", 1));
  CliOk({"rollback", "hello"});
  ASSERT_TRUE(WaitSettled("hello", 1));
  const int before_stop = ok;
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0) << (failures.empty() ? "" : failures.front());
  EXPECT_GT(after_deploy, 20);
  EXPECT_GT(before_stop, after_deploy);
  // Every answer now comes from the one instance of the rolled-back release.
  auto ps = Ps("hello");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].value("release", 0), 3);
  EXPECT_EQ(Answering("local-2", 4), RunningIds("hello"));
}

TEST_F(RoutingE2E, AKilledServersInstancesLeaveTheOtherRouterWithinTheLease) {
  DeployHello("hello", 2);
  ASSERT_TRUE(WaitFor([&] { return Answering("local-2", 6).size() == 2; }, seconds(15)));
  std::string on_1;
  int port_1 = 0;
  for (const auto& i : Ps("hello")) {
    if (i.value("server", "") == "local-1") {
      on_1 = i.value("id", "");
      port_1 = i.value("port", 0);
    }
  }
  ASSERT_FALSE(on_1.empty());
  const std::string conf = fleet_->agent_dir("local-2") + "/router/nginx.conf";
  ASSERT_TRUE(Contains(ReadFile(conf).value_or(""), on_1));
  // The server dies: its agent and its instances.
  fleet_->agent("local-1").Signal(SIGKILL);
  for (int pid : fleet_->InstancePids("hello")) {
    auto env = ReadFile("/proc/" + std::to_string(pid) + "/environ").value_or("");
    if (Contains(env, "DFLOW_INSTANCE_ID=" + on_1)) kill(pid, SIGKILL);
  }
  auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return !Contains(ReadFile(conf).value_or(""), on_1); }, seconds(10)));
  auto took = std::chrono::steady_clock::now() - killed;
  // The lease, plus a fleet tick, a routing poll and the reload: seconds, not
  // the grace or a reschedule (a bound for a loaded CI machine, not a figure;
  // bench/router_bench measures the reload).
  EXPECT_LT(took, Fleet::kLease + seconds(4));
  EXPECT_FALSE(Contains(ReadFile(conf).value_or(""), ":" + std::to_string(port_1) + " "));
  // Every request through the surviving router answers.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Get(Router("local-2"), "hello.localhost").code, 200);
}

TEST_F(RoutingE2E, DnsRecordsNameEveryServerHoldingTheAppAndMarkUnreachableOnes) {
  DeployHello("hello", 2);
  CliOk({"domains", "add", "hello", "shop.example.com"});
  auto dns = Json({"domains", "dns", "hello", "--json"});
  ASSERT_TRUE(dns.is_object()) << dns;
  ASSERT_EQ(dns["records"].size(), 4u) << dns.dump();
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : dns["records"]) {
    EXPECT_EQ(r["type"], "A");
    EXPECT_EQ(r["value"], "127.0.0.1");
    EXPECT_EQ(r["status"], "healthy");
    EXPECT_EQ(r["instances"], 1);
    seen.insert({r["host"].get<std::string>(), r["server"].get<std::string>()});
  }
  EXPECT_EQ(seen, (std::set<std::pair<std::string, std::string>>{{"hello.localhost", "local-1"},
                                                                 {"hello.localhost", "local-2"},
                                                                 {"shop.example.com", "local-1"},
                                                                 {"shop.example.com", "local-2"}}));
  std::string text = CliOk({"domains", "dns", "hello"});
  EXPECT_TRUE(Contains(text, "hello.localhost.\t300\tIN\tA\t127.0.0.1\t; local-1, 1 instance\n"))
      << text;
  EXPECT_TRUE(Contains(text, "shop.example.com.\t300\tIN\tA\t127.0.0.1\t; local-2, 1 instance\n"))
      << text;

  // local-2 dies: its records stay, marked for removal, until its instance moves.
  fleet_->agent("local-2").Signal(SIGKILL);
  ASSERT_TRUE(fleet_->WaitStatus("local-2", "unreachable", seconds(10)));
  text = CliOk({"domains", "dns", "hello"});
  EXPECT_TRUE(
      Contains(text, "hello.localhost.\t300\tIN\tA\t127.0.0.1\t; local-2 unreachable since "))
      << text;
  EXPECT_TRUE(Contains(text, ", remove this record\n")) << text;
  EXPECT_TRUE(Contains(text, "; local-1, 1 instance\n")) << text;
  dns = Json({"domains", "dns", "hello", "--json"});
  for (const auto& r : dns["records"]) {
    EXPECT_EQ(r["status"], r["server"] == "local-2" ? "unreachable" : "healthy") << r;
    EXPECT_EQ(r["unreachable_since"].is_null(), r["server"] != "local-2") << r;
  }
  // A bad app name is a usage error; an unknown app says so.
  EXPECT_EQ(Cli({"domains", "dns", "Bad_Name"}).exit_code, 2);
  auto none = Cli({"domains", "dns", "nope"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(Contains(none.err, "nope")) << none.err;
}

}  // namespace
}  // namespace dflow::testing
