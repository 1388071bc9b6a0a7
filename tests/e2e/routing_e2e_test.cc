// End to end: the routers (real nginx) on both agents of a real fleet, apps
// reached at http://APP.localhost:<router port> through either server.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/files.h"
#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Reply {
  int code = 0;  // 0: no HTTP answer
  std::string body;
};

// One HTTP/1.0 GET to 127.0.0.1:port with a Host header (raw socket: a client
// loop of hundreds of requests without a process each).
Reply Get(int port, const std::string& host, const std::string& path = "/") {
  Reply r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string resp;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12) return r;
  r.code = std::atoi(resp.substr(9, 3).c_str());
  auto body = resp.find("\r\n\r\n");
  if (body != std::string::npos) r.body = resp.substr(body + 4);
  return r;
}

class RoutingE2E : public AppsE2E {
 protected:
  void SetUp() override {
    fleet_ = std::make_unique<Fleet>(tmp_.path());
    fleet_->InitController();
    fleet_->set_controller_flags({"--wait-to-retire", "1s"});
    fleet_->StartController();
    fleet_->set_routers(true);
    fleet_->AddAgent("local-1");
    fleet_->AddAgent("local-2");
    ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", seconds(20)));
    ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", seconds(20)));
  }

  int Router(const std::string& server) { return fleet_->router_port(server); }

  // The instance ids that answered through a router in `n` requests.
  std::set<std::string> Answering(const std::string& server, int n) {
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) {
      Reply r = Get(Router(server), "hello.localhost", "/?format=json");
      if (r.code != 200) continue;
      auto j = nlohmann::json::parse(r.body, nullptr, false);
      if (j.is_object()) ids.insert(j.value("instance", ""));
    }
    return ids;
  }

  std::set<std::string> RunningIds(const std::string& app) {
    std::set<std::string> ids;
    auto ps = Ps(app);
    if (!ps.is_array()) return ids;
    for (const auto& i : ps) {
      if (i.value("state", "") == "running") ids.insert(i.value("id", ""));
    }
    return ids;
  }
};

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
  // The lease, plus a fleet tick and a routing poll and the reload.
  EXPECT_LT(took, Fleet::kLease + milliseconds(1500));
  EXPECT_FALSE(Contains(ReadFile(conf).value_or(""), ":" + std::to_string(port_1) + " "));
  // Every request through the surviving router answers.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Get(Router("local-2"), "hello.localhost").code, 200);
}

}  // namespace
}  // namespace dflow::testing
