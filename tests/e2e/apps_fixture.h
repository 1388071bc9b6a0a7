// A fleet of one controller and two agents (local-1, local-2) on loopback, with
// helpers to drive apps through the CLI and look at what really runs.
#ifndef DFLOW_TESTS_E2E_APPS_FIXTURE_H_
#define DFLOW_TESTS_E2E_APPS_FIXTURE_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/e2e/controller_fixture.h"
#include "tests/e2e/harness.h"

namespace dflow::testing {

class AppsE2E : public ControllerE2E<> {
 protected:
  void SetUp() override {
    StartController();
    StartLocalAgents();
  }

  // Agents local-1 and local-2 (listening on `local2_host`), both healthy.
  void StartLocalAgents(const std::string& local2_host = "127.0.0.1") {
    fleet_->AddAgent("local-1");
    fleet_->AddAgent("local-2", {}, local2_host);
    ASSERT_TRUE(fleet_->WaitStatus("local-1", "healthy", std::chrono::seconds(20)));
    ASSERT_TRUE(fleet_->WaitStatus("local-2", "healthy", std::chrono::seconds(20)));
  }

  nlohmann::json Ps(const std::string& app) { return Json({"ps", app, "--json"}); }

  // Instances in state `running`, by server.
  std::map<std::string, int> RunningByServer(const std::string& app) {
    std::map<std::string, int> by_server;
    auto ps = Ps(app);
    if (!ps.is_array()) return by_server;
    for (const auto& i : ps) {
      if (i.value("state", "") == "running") by_server[i.value("server", "")]++;
    }
    return by_server;
  }

  int CountRunning(const std::string& app) {
    int n = 0;
    for (const auto& [server, count] : RunningByServer(app)) n += count;
    return n;
  }

  // Waits until exactly `n` instances are recorded and all are running, and
  // exactly `n` instance processes exist on the machine.
  bool WaitSettled(const std::string& app, int n,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return WaitFor(
        [&] {
          auto ps = Ps(app);
          if (!ps.is_array() || static_cast<int>(ps.size()) != n) return false;
          return CountRunning(app) == n && static_cast<int>(fleet_->InstancePids(app).size()) == n;
        },
        timeout);
  }

  // GET / of every running instance.
  std::vector<std::string> Answers(const std::string& app) {
    std::vector<std::string> bodies;
    auto ps = Ps(app);
    if (!ps.is_array()) return bodies;
    for (const auto& i : ps) {
      if (i.value("state", "") == "running") bodies.push_back(HttpGet(i.value("port", 0)));
    }
    return bodies;
  }

  // True when every running instance answers and each answer contains `text`.
  bool AllAnswer(const std::string& app, const std::string& text) {
    auto bodies = Answers(app);
    if (bodies.empty()) return false;
    for (const auto& b : bodies) {
      if (!Contains(b, text)) return false;
    }
    return true;
  }

  nlohmann::json Op(int64_t id) { return Json({"ops", "show", std::to_string(id), "--json"}); }

  // The newest operation of the app, or null.
  nlohmann::json LastOp(const std::string& app) {
    auto ops = Json({"ops", "ls", "--app", app, "--json"});
    if (!ops.is_array() || ops.empty()) return nullptr;
    nlohmann::json last = ops[0];
    for (const auto& o : ops) {
      if (o.value("id", 0) > last.value("id", 0)) last = o;
    }
    return last;
  }

  static bool Ended(const nlohmann::json& op) {
    static const std::set<std::string> kEnded = {"succeeded", "failed", "cancelled", "rolled_back"};
    return op.is_object() && kEnded.count(op.value("state", ""));
  }

  // Creates `app` and deploys examples/hello at `web` instances.
  void DeployHello(const std::string& app, int web) {
    CliOk({"apps", "create", app, "--health-path", "/health"});
    CliOk({"deploy", app, "--path", Example("hello")});
    if (web != 1) CliOk({"scale", app, "web=" + std::to_string(web)});
    ASSERT_TRUE(WaitSettled(app, web)) << Ps(app).dump();
  }
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_APPS_FIXTURE_H_
