// LocalRuntime: release commands, one-off commands, logs and their rotation.
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/local_runtime_test_fixture.h"
#include "common/files.h"

namespace dflow::agent::testing {
namespace {

using ::testing::HasSubstr;

// Appends a line to ../runs.txt (outside the tree, so the test can count runs)
// and exits with $RELEASE_EXIT.
constexpr char kReleaseScript[] = R"PY(
import os, sys
with open(os.path.join(os.environ["RUNS_DIR"], "runs.txt"), "a") as f:
    f.write("run\n")
print("migrating", os.environ["DFLOW_APP"], os.environ["DFLOW_RELEASE"], flush=True)
print("to stderr", file=sys.stderr, flush=True)
sys.exit(int(os.environ.get("RELEASE_EXIT", "0")))
)PY";

class CommandsTest : public LocalRuntimeTest {
 protected:
  int CountRuns() {
    auto text = ReadFile(tmp_.path() + "/runs.txt");
    if (!text.ok()) return 0;
    return static_cast<int>(std::count(text->begin(), text->end(), '\n'));
  }
  std::map<std::string, std::string> Env(const std::string& exit_code) {
    return {{"RUNS_DIR", tmp_.path()}, {"RELEASE_EXIT", exit_code}};
  }
};

TEST_F(CommandsTest, ReleaseCommandRunsOncePerRelease) {
  Open();
  Prepare("db", 1, "web: python3 app.py\nrelease: python3 release.py\n",
          {{"release.py", kReleaseScript}}, Env("0"));
  std::string out;
  ASSERT_TRUE(
      rt_->RunReleaseCommand("db", 1, seconds(20), [&](const std::string& t) { out += t; }).ok());
  EXPECT_THAT(out, HasSubstr("migrating db v1"));
  EXPECT_THAT(out, HasSubstr("to stderr"));
  EXPECT_EQ(CountRuns(), 1);

  // A retry is a no-op that returns the first run's output.
  std::string retry;
  ASSERT_TRUE(
      rt_->RunReleaseCommand("db", 1, seconds(20), [&](const std::string& t) { retry += t; }).ok());
  EXPECT_EQ(CountRuns(), 1);
  EXPECT_EQ(retry, out);

  // Another release runs it again.
  Prepare("db", 2, "web: python3 app.py\nrelease: python3 release.py\n",
          {{"release.py", kReleaseScript}}, Env("0"));
  ASSERT_TRUE(rt_->RunReleaseCommand("db", 2, seconds(20), nullptr).ok());
  EXPECT_EQ(CountRuns(), 2);
}

TEST_F(CommandsTest, FailingReleaseCommandNamesTheExitCodeAndIsRetried) {
  Open();
  Prepare("bad", 1, "web: python3 app.py\nrelease: python3 release.py\n",
          {{"release.py", kReleaseScript}}, Env("4"));
  absl::Status s = rt_->RunReleaseCommand("bad", 1, seconds(20), nullptr);
  ASSERT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exited with code 4"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("migrating bad v1"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("app bad release v1 on server test-1"));
  // Not marked done: a retry runs it again.
  EXPECT_FALSE(rt_->RunReleaseCommand("bad", 1, seconds(20), nullptr).ok());
  EXPECT_EQ(CountRuns(), 2);
}

TEST_F(CommandsTest, ReleaseCommandDeadlineAndAbsentCommand) {
  Open();
  Prepare("slow", 1, "web: python3 app.py\nrelease: python3 -c \"import time; time.sleep(60)\"\n");
  absl::Status s = rt_->RunReleaseCommand("slow", 1, milliseconds(300), nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("did not finish within 300ms"));

  Prepare("plain", 1, "web: python3 app.py\n");
  EXPECT_TRUE(rt_->RunReleaseCommand("plain", 1, seconds(1), nullptr).ok());
  EXPECT_EQ(rt_->RunReleaseCommand("missing", 1, seconds(1), nullptr).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CommandsTest, OneOffRunsInTheReleaseWithoutAShell) {
  Open();
  Prepare("cli", 3, "web: python3 app.py\n", {}, {{"SECRET", "s3"}});
  std::string out;
  auto code = rt_->RunOneOff(
      "cli", 3,
      {"python3", "-c",
       "import os, sys; print(os.environ['DFLOW_APP'], os.environ['DFLOW_RELEASE'], "
       "os.environ['SECRET'], os.path.exists('Procfile'), sys.argv[1:]); sys.exit(7)",
       "a;b", "$HOME", "*"},
      seconds(20), [&](const std::string& t) { out += t; });
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 7);
  EXPECT_THAT(out, HasSubstr("cli v3 s3 True ['a;b', '$HOME', '*']"));

  code = rt_->RunOneOff("cli", 3, {"python3", "-c", "import os, signal; os.kill(os.getpid(), 9)"},
                        seconds(20), nullptr);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 128 + 9);

  code = rt_->RunOneOff("cli", 3, {"no-such-program-dflow"}, seconds(5), nullptr);
  EXPECT_EQ(code.status().code(), absl::StatusCode::kNotFound);
  code = rt_->RunOneOff("cli", 3, {"sleep", "30"}, milliseconds(200), nullptr);
  EXPECT_EQ(code.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(CommandsTest, LogsMergeInstancesOldestFirstAndFilterByProcess) {
  Open();
  Prepare("logs", 1, "web: python3 app.py\nworker: python3 app.py\n");
  InstanceStatus web = Start(Spec("logs-web-1", "logs"));
  InstanceStatus worker = Start(Spec("logs-worker-1", "logs", 1, "worker"));
  Get(web.port, "/from-web");
  Get(worker.port, "/from-worker");
  rt_->SuperviseOnce();
  auto all = rt_->Logs("logs", "", 100);
  ASSERT_TRUE(all.ok()) << all.status();
  bool saw_web = false, saw_worker = false;
  int64_t last = 0;
  for (const LogLine& line : *all) {
    EXPECT_GE(line.time_ms, last);
    last = line.time_ms;
    saw_web |=
        line.text == "request /from-web" && line.instance == "logs-web-1" && line.process == "web";
    saw_worker |= line.text == "request /from-worker" && line.instance == "logs-worker-1";
  }
  EXPECT_TRUE(saw_web);
  EXPECT_TRUE(saw_worker);
  auto only_worker = rt_->Logs("logs", "worker", 100);
  ASSERT_TRUE(only_worker.ok());
  ASSERT_FALSE(only_worker->empty());
  for (const LogLine& line : *only_worker) EXPECT_EQ(line.instance, "logs-worker-1");
  auto two = rt_->Logs("logs", "", 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST_F(CommandsTest, LogsRotateAndKeepTheNewestLines) {
  LocalRuntimeOptions o = Options();
  o.log_max_bytes = 4096;
  o.log_keep = 2;
  Open(o);
  Prepare("chatty", 1, "web: python3 app.py\n");
  InstanceStatus st = Start(Spec("chatty-web-1", "chatty"));
  const std::string log = tmp_.path() + "/data/logs/chatty/chatty-web-1.log";
  for (int round = 0; round < 4; ++round) {
    Get(st.port, "/spam?200");  // 200 lines of 31 bytes: over the limit
    rt_->SuperviseOnce();
  }
  EXPECT_TRUE(FileExists(log + ".1"));
  EXPECT_TRUE(FileExists(log + ".2"));
  EXPECT_FALSE(FileExists(log + ".3"));  // keep = 2
  EXPECT_LT(std::filesystem::file_size(log), 4096u);

  // The last spam round straddles the current file and .1; lines come back in order.
  Get(st.port, "/spam?50");
  auto lines = rt_->Logs("chatty", "web", 60);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 60u);
  std::vector<std::string> spam;
  for (const LogLine& l : *lines) {
    if (absl::StartsWith(l.text, "spam ")) spam.push_back(l.text.substr(5, 5));
  }
  ASSERT_FALSE(spam.empty());
  EXPECT_EQ(spam.back(), "00049");
  for (size_t i = 1; i < spam.size(); ++i) {
    if (spam[i] != "00000") {
      EXPECT_EQ(std::stoi(spam[i]), std::stoi(spam[i - 1]) + 1);
    }
  }
  // The instance kept writing through the rotations (O_APPEND, same file).
  EXPECT_EQ(Get(st.port).substr(0, 13), "chatty-web-1 ");
}

}  // namespace
}  // namespace dflow::agent::testing
