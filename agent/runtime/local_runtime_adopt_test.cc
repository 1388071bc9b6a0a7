// LocalRuntime re-adoption: instances outlive the runtime object (as they
// outlive a killed agent) and a new one on the same data dir takes them over.
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/local_runtime_test_fixture.h"
#include "agent/runtime/proc_info.h"
#include "common/files.h"
#include "common/process.h"

namespace dflow::agent::testing {
namespace {

constexpr char kWeb[] = "web: python3 app.py\n";

// Kills an instance the way a crash would, and reaps it (the test process is its parent).
void KillAndReap(int pid) {
  kill(-pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

class AdoptTest : public LocalRuntimeTest {
 protected:
  std::string PidfilePath(const std::string& id) {
    return tmp_.path() + "/data/instances/" + id + ".json";
  }
  nlohmann::json Pidfile(const std::string& id) {
    return nlohmann::json::parse(ReadFile(PidfilePath(id)).value_or("{}"));
  }
};

TEST_F(AdoptTest, ANewRuntimeAdoptsTheRunningInstanceInsteadOfStartingAnother) {
  Open();
  Prepare("keep", 1, kWeb);
  InstanceStatus st = Start(Spec("keep-web-1", "keep"));
  const nlohmann::json pidfile = Pidfile("keep-web-1");
  EXPECT_EQ(pidfile["pid"], st.pid);
  EXPECT_EQ(pidfile["pgid"], st.pid);
  EXPECT_EQ(pidfile["port"], st.port);
  EXPECT_EQ(pidfile["start_ticks"], ReadProcStat(st.pid)->start_ticks);

  rt_.reset();  // the agent goes away; its instances do not
  EXPECT_EQ(kill(st.pid, 0), 0);
  EXPECT_NE(Get(st.port), "");

  Open();
  auto adopted = Find("keep-web-1");
  ASSERT_TRUE(adopted.has_value());
  EXPECT_EQ(adopted->pid, st.pid);
  EXPECT_EQ(adopted->port, st.port);
  EXPECT_EQ(adopted->state, InstanceState::kRunning);
  for (int i = 0; i < 3; ++i) rt_->SuperviseOnce();
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=keep-web-1"), 1);
  ASSERT_EQ(rt_->ListInstances().size(), 1u);
  // Starting it again (a retried controller step) finds the adopted process.
  EXPECT_EQ(Start(Spec("keep-web-1", "keep")).pid, st.pid);

  // The adopted process is watched: when it dies it is restarted after its backoff.
  kill(st.pid, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return InState("keep-web-1", InstanceState::kBackoff); }));
  clock_.Advance(seconds(1));
  rt_->SuperviseOnce();
  ASSERT_TRUE(WaitFor([&] { return InState("keep-web-1", InstanceState::kRunning); }));
  auto restarted = Find("keep-web-1");
  EXPECT_NE(restarted->pid, st.pid);
  EXPECT_EQ(restarted->restarts, 1);
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=keep-web-1"), 1);

  // And the new runtime can stop what it adopted.
  ASSERT_TRUE(rt_->StopInstance("keep-web-1", seconds(2)).ok());
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=keep-web-1"), 0);
}

TEST_F(AdoptTest, ALivePidWithAnotherStartTimeIsNotAdopted) {
  Open();
  Prepare("recycled", 1, kWeb);
  InstanceStatus st = Start(Spec("recycled-web-1", "recycled"));
  rt_.reset();
  KillAndReap(st.pid);

  // Some unrelated process now has a pid the pidfile names (as after PID reuse).
  auto stranger = SpawnDetached({.argv = {"sleep", "60"}});
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  nlohmann::json pidfile = Pidfile("recycled-web-1");
  pidfile["pid"] = *stranger;
  pidfile["pgid"] = *stranger;  // its group would be signalled if it were mistaken
  ASSERT_NE(pidfile["start_ticks"], ReadProcStat(*stranger)->start_ticks);
  ASSERT_TRUE(WriteFileAtomic(PidfilePath("recycled-web-1"), pidfile.dump(), 0600).ok());

  Open();
  rt_->SuperviseOnce();  // the instance was desired: it is started anew
  ASSERT_TRUE(WaitFor([&] { return InState("recycled-web-1", InstanceState::kRunning); }));
  auto i = Find("recycled-web-1");
  EXPECT_NE(i->pid, *stranger);
  EXPECT_EQ(i->restarts, 1);
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=recycled-web-1"), 1);
  // The stranger was left alone.
  auto stat = ReadProcStat(*stranger);
  ASSERT_TRUE(stat.has_value());
  EXPECT_NE(stat->state, 'Z');
  KillAndReap(*stranger);
}

TEST_F(AdoptTest, DeadInstancesAreRestartedAndStoppedOnesStayStopped) {
  Open();
  Prepare("mixed", 1, kWeb);
  InstanceStatus up = Start(Spec("mixed-web-1", "mixed"));
  Start(Spec("mixed-web-2", "mixed"));
  ASSERT_TRUE(rt_->StopInstance("mixed-web-2", seconds(2)).ok());
  rt_.reset();
  KillAndReap(up.pid);  // dies while no agent watches

  Open();
  EXPECT_TRUE(InState("mixed-web-2", InstanceState::kStopped));
  rt_->SuperviseOnce();
  ASSERT_TRUE(WaitFor([&] { return InState("mixed-web-1", InstanceState::kRunning); }));
  auto restarted = Find("mixed-web-1");
  EXPECT_NE(restarted->pid, up.pid);
  EXPECT_EQ(restarted->port, up.port);
  EXPECT_NE(Get(up.port), "");
  for (int i = 0; i < 3; ++i) rt_->SuperviseOnce();
  EXPECT_TRUE(InState("mixed-web-2", InstanceState::kStopped));
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=mixed-web-2"), 0);
}

TEST(ProcInfoTest, SameProcessNeedsPidStartTimeAndBoot) {
  auto self = ReadProcStat(getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->pgid, getpgrp());
  EXPECT_TRUE(IsSameProcessAlive(getpid(), self->start_ticks, BootId()));
  EXPECT_FALSE(IsSameProcessAlive(getpid(), self->start_ticks + 1, BootId()));
  EXPECT_FALSE(IsSameProcessAlive(getpid(), self->start_ticks, "another-boot"));
  EXPECT_FALSE(ReadProcStat(0).has_value());
  EXPECT_FALSE(BootId().empty());
}

}  // namespace
}  // namespace dflow::agent::testing
