// The fixture the LocalRuntime tests share: a data dir, a fake clock for
// backoff, a port range of its own, and helpers to prepare and start apps.
#ifndef DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_TEST_FIXTURE_H_
#define DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_TEST_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/runtime/health_check.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/runtime_test_support.h"
#include "common/clock.h"

namespace dflow::agent::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LocalRuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (rt_ != nullptr) {
      for (const InstanceStatus& i : rt_->ListInstances()) {
        EXPECT_TRUE(rt_->StopInstance(i.id, seconds(2)).ok());
      }
    }
    rt_.reset();
  }

  LocalRuntimeOptions Options() {
    LocalRuntimeOptions o;
    o.data_dir = tmp_.path() + "/data";
    o.server_name = "test-1";
    o.clock = &clock_;
    // Below the ephemeral range and away from the agent's default 20000-29999,
    // spread by pid so parallel test processes rarely meet.
    o.port_min = 30000 + static_cast<int>(getpid() % 100) * 25;
    o.port_max = o.port_min + 24;
    o.supervise_interval = milliseconds(50);
    return o;
  }

  void Open(LocalRuntimeOptions o) {
    auto rt = LocalRuntime::Open(std::move(o));
    ASSERT_TRUE(rt.ok()) << rt.status();
    rt_ = std::move(*rt);
  }
  void Open() { Open(Options()); }

  // Prepares `app` vN with the web app and `procfile`.
  ReleaseSpec Prepare(const std::string& app, int64_t version, const std::string& procfile,
                      std::map<std::string, std::string> extra_files = {},
                      std::map<std::string, std::string> env = {},
                      const std::string& health_path = "/health") {
    extra_files["Procfile"] = procfile;
    extra_files.emplace("app.py", kWebApp);
    ReleaseSpec spec = MakeRelease(tmp_.path(), app, version, extra_files);
    spec.env = std::move(env);
    spec.health_path = health_path;
    absl::Status s = rt_->PrepareRelease(spec, nullptr);
    EXPECT_TRUE(s.ok()) << s;
    return spec;
  }

  InstanceSpec Spec(const std::string& id, const std::string& app, int64_t release = 1,
                    const std::string& process = "web") {
    return InstanceSpec{.id = id, .app = app, .process = process, .release = release, .port = 0};
  }

  InstanceStatus Start(const InstanceSpec& spec) {
    auto st = rt_->StartInstance(spec, seconds(20));
    EXPECT_TRUE(st.ok()) << st.status();
    return st.ok() ? *st : InstanceStatus{};
  }

  std::optional<InstanceStatus> Find(const std::string& id) {
    for (const InstanceStatus& i : rt_->ListInstances()) {
      if (i.id == id) return i;
    }
    return std::nullopt;
  }

  bool InState(const std::string& id, InstanceState state) {
    auto i = Find(id);
    return i.has_value() && i->state == state;
  }

  // The body of GET `path` from the instance, "" when it does not answer.
  std::string Get(int port, const std::string& path = "/") {
    auto r = HttpGet("127.0.0.1", port, path, seconds(5));
    return r.ok() ? r->body : "";
  }

  TempDir tmp_;
  FakeClock clock_;
  std::unique_ptr<LocalRuntime> rt_;
};

}  // namespace dflow::agent::testing

#endif  // DFLOW_AGENT_RUNTIME_LOCAL_RUNTIME_TEST_FIXTURE_H_
