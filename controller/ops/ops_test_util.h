// Test fixture for the op engine and the reconciler: a real store in a temp
// directory, a fake clock, a fake fleet of agents, and helpers that run ops to
// their end on the test's thread (Engine::RunUntilIdle), so nothing waits.
#ifndef DFLOW_CONTROLLER_OPS_OPS_TEST_UTIL_H_
#define DFLOW_CONTROLLER_OPS_OPS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "controller/ops/engine.h"
#include "controller/ops/fake_agent_api.h"
#include "controller/store/store.h"
#include "controller/store/store_test_util.h"

namespace dflow::ops {

inline constexpr const char* kWebProcfile = "web: python3 app.py\n";
inline constexpr const char* kTwoTypeProcfile =
    "web: python3 app.py\nworker: python3 worker.py\nrelease: python3 migrate.py\n";

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::err);  // ops log every step; keep test output short
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-ops-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = store::Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    AddServers({"s1", "s2"});
    store::App app;
    app.name = "shop";
    ASSERT_TRUE(store_->CreateApp(app).ok());
    engine_ = NewEngine();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void AddServers(const std::vector<std::string>& names, const std::string& runtime = "local") {
    std::vector<store::FactsUpdate> facts;
    for (const auto& name : names) {
      ASSERT_NO_FATAL_FAILURE(
          store::JoinTestServer(*store_, clock_.NowMs(), name, runtime, "127.0.0.1:1"));
      store::FactsUpdate u;
      u.name = name;
      u.facts.cpus = 4;
      u.facts.memory_total_bytes = int64_t{8} << 30;
      u.heartbeat_ms = clock_.NowMs();
      facts.push_back(u);
    }
    ASSERT_TRUE(store_->RecordFacts(facts).ok());
  }

  EngineOptions Options() {
    EngineOptions o;
    o.archive_dir = dir_ + "/archives";
    o.retry_backoff = std::chrono::milliseconds(1);
    o.max_attempts = 2;
    return o;
  }

  std::unique_ptr<Engine> NewEngine(EngineOptions o) {
    return std::make_unique<Engine>(store_.get(), &agents_, &clock_, std::move(o));
  }
  std::unique_ptr<Engine> NewEngine() { return NewEngine(Options()); }

  // Runs every queued op to its end and returns the op `id` as it ended.
  store::Op Run(int64_t id) {
    engine_->RunUntilIdle();
    auto op = store_->GetOp(id);
    EXPECT_TRUE(op.ok()) << op.status();
    return op.ok() ? *op : store::Op{};
  }

  int64_t SubmitDeploy(const std::string& digest, const std::string& procfile = kWebProcfile,
                       const std::string& app = "shop") {
    auto ref = engine_->Deploy(app, digest, procfile, "test", "tester");
    EXPECT_TRUE(ref.ok()) << ref.status();
    return ref.ok() ? ref->id : 0;
  }

  store::Op Deploy(const std::string& digest, const std::string& procfile = kWebProcfile) {
    return Run(SubmitDeploy(digest, procfile));
  }

  store::Op Scale(const std::map<std::string, int>& scale) {
    auto ref = engine_->Scale("shop", scale);
    EXPECT_TRUE(ref.ok()) << ref.status();
    return Run(ref.ok() ? ref->id : 0);
  }

  store::App App(const std::string& name = "shop") {
    auto a = store_->GetApp(name);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : store::App{};
  }

  std::vector<store::Instance> Instances(const std::string& app = "shop") {
    auto list = store_->ListInstances(app);
    EXPECT_TRUE(list.ok()) << list.status();
    return list.ok() ? *list : std::vector<store::Instance>{};
  }

  // Instances on agents by server -> count, for one app.
  std::map<std::string, int> AgentSpread(const std::string& app = "shop") {
    std::map<std::string, int> out;
    for (const auto& server : {"s1", "s2", "s3"}) {
      for (const auto& [id, i] : agents_.Running(server)) {
        if (i.app == app) out[server]++;
      }
    }
    return out;
  }

  std::string ReleaseStatus(int64_t version) {
    auto r = store_->GetRelease("shop", version);
    return r.ok() ? r->status : std::string(r.status().message());
  }

  // The store and the agents agree: every live record runs on its server, on
  // the release it says, and nothing else of the app runs anywhere.
  void ExpectConsistent(const std::string& app = "shop") {
    std::map<std::string, std::string> recorded;  // id -> server
    for (const auto& i : Instances(app)) {
      EXPECT_EQ(i.state, "running") << i.id;
      recorded[i.id] = i.server;
    }
    std::map<std::string, std::string> running;
    for (const auto& i : agents_.AllRunning()) {
      if (i.app == app) running[i.id] = "";
    }
    for (const auto& server : {"s1", "s2", "s3"}) {
      for (const auto& [id, i] : agents_.Running(server)) {
        if (i.app == app) running[id] = server;
      }
    }
    EXPECT_EQ(recorded, running);
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  FakeAgentApi agents_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_OPS_TEST_UTIL_H_
