#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace dflow {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

ProcessResult RunOk(ProcessSpec spec) {
  absl::StatusOr<ProcessResult> result = PosixProcessRunner().Run(spec);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : ProcessResult{};
}

// Polls `condition` until it holds or `limit` passes.
bool WaitUntil(const std::function<bool()>& condition, milliseconds limit = milliseconds(5000)) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

std::string MakeTempDir() {
  std::string pattern = absl::StrCat(testing::TempDir(), "/process_test.XXXXXX");
  char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  char resolved[PATH_MAX];
  EXPECT_NE(realpath(pattern.c_str(), resolved), nullptr);
  return resolved;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Gone, or a zombie waiting for whoever inherited it.
bool ProcessIsDead(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
}

TEST(PosixProcessRunnerTest, ExitCodesPassThrough) {
  struct Case {
    std::vector<std::string> argv;
    int exit_code;
  };
  for (const Case& c :
       std::vector<Case>{{{"true"}, 0}, {{"false"}, 1}, {{"sh", "-c", "exit 7"}, 7}}) {
    ProcessResult result = RunOk({.argv = c.argv});
    EXPECT_EQ(result.exit_code, c.exit_code) << c.argv.back();
    EXPECT_EQ(result.term_signal, 0);
    EXPECT_FALSE(result.timed_out);
  }
}

TEST(PosixProcessRunnerTest, ReportsTerminatingSignal) {
  ProcessResult result = RunOk({.argv = {"sh", "-c", "kill -TERM $$"}});
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGTERM);
}

TEST(PosixProcessRunnerTest, CapturesStdoutAndStderrSeparately) {
  ProcessResult result = RunOk({.argv = {"sh", "-c", "echo out; echo err >&2; echo out2"}});
  EXPECT_EQ(result.stdout_data, "out\nout2\n");
  EXPECT_EQ(result.stderr_data, "err\n");
  EXPECT_FALSE(result.truncated);
}

TEST(PosixProcessRunnerTest, DeliversStdin) {
  ProcessResult result = RunOk({.argv = {"cat"}, .stdin_data = "hello\nworld"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_data, "hello\nworld");
}

TEST(PosixProcessRunnerTest, EmptyStdinIsClosed) {
  ProcessResult result = RunOk({.argv = {"cat"}, .deadline = milliseconds(10000)});
  EXPECT_FALSE(result.timed_out);
  EXPECT_EQ(result.stdout_data, "");
}

TEST(PosixProcessRunnerTest, LargeStdinAndStdoutDoNotDeadlock) {
  std::string input(5 << 20, '\0');
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<char>('a' + i % 26);
  ProcessResult result = RunOk({.argv = {"cat"},
                                .stdin_data = input,
                                .deadline = milliseconds(60000),
                                .output_cap_bytes = 8 << 20});
  EXPECT_FALSE(result.timed_out);
  EXPECT_FALSE(result.truncated);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_data.size(), input.size());
  EXPECT_TRUE(result.stdout_data == input);
}

TEST(PosixProcessRunnerTest, ChildIgnoringStdinDoesNotRaiseSigpipe) {
  ProcessResult result = RunOk({.argv = {"true"}, .stdin_data = std::string(1 << 20, 'x')});
  EXPECT_EQ(result.exit_code, 0);
}

TEST(PosixProcessRunnerTest, OutputCapTruncatesButKeepsDraining) {
  size_t seen = 0;
  ProcessResult result =
      RunOk({.argv = {"head", "-c", "100000", "/dev/zero"},
             .output_cap_bytes = 1000,
             .on_output = [&](int stream, std::string_view chunk) { seen += chunk.size(); }});
  // The child was never blocked or killed by a full pipe.
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.truncated);
  EXPECT_EQ(result.stdout_data, std::string(1000, '\0'));
  EXPECT_EQ(seen, 100000u);
}

TEST(PosixProcessRunnerTest, DeadlineKillsProcess) {
  const Clock::time_point start = Clock::now();
  ProcessResult result = RunOk({.argv = {"sleep", "30"}, .deadline = milliseconds(200)});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.term_signal, SIGKILL);
}

TEST(PosixProcessRunnerTest, DeadlineKillsGrandchildren) {
  const Clock::time_point start = Clock::now();
  ProcessResult result =
      RunOk({.argv = {"sh", "-c", "sleep 30 & echo $!; wait"}, .deadline = milliseconds(3000)});
  // 3 s, so that a loaded machine still lets sh fork and print the pid first.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(result.timed_out);
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(result.stdout_data), &grandchild))
      << result.stdout_data;
  EXPECT_TRUE(WaitUntil([&] { return ProcessIsDead(grandchild); })) << grandchild;
}

TEST(PosixProcessRunnerTest, EnvReplacesEnvironment) {
  ProcessResult result = RunOk({.argv = {"env"}, .env = {{{"A", "1"}, {"B", "two words"}}}});
  EXPECT_EQ(result.stdout_data, "A=1\nB=two words\n");
}

TEST(PosixProcessRunnerTest, ProgramIsLookedUpInEnvPath) {
  const std::string dir = MakeTempDir();
  const std::string tool = dir + "/dflow-test-tool";
  std::ofstream(tool) << "#!/bin/sh\necho from-tool\n";
  ASSERT_EQ(chmod(tool.c_str(), 0755), 0);
  ProcessResult result = RunOk({.argv = {"dflow-test-tool"}, .env = {{{"PATH", dir}}}});
  EXPECT_EQ(result.stdout_data, "from-tool\n");

  absl::StatusOr<ProcessResult> missing =
      PosixProcessRunner().Run({.argv = {"true"}, .env = {{{"PATH", dir}}}});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(PosixProcessRunnerTest, CwdIsApplied) {
  const std::string dir = MakeTempDir();
  ProcessResult result = RunOk({.argv = {"pwd"}, .cwd = dir});
  EXPECT_EQ(result.stdout_data, dir + "\n");
}

TEST(PosixProcessRunnerTest, MissingCwdIsNotFound) {
  absl::StatusOr<ProcessResult> result =
      PosixProcessRunner().Run({.argv = {"pwd"}, .cwd = "/nonexistent/dflow-dir"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(result.status().message(), "/nonexistent/dflow-dir"))
      << result.status();
}

TEST(PosixProcessRunnerTest, ArgumentsArriveVerbatim) {
  const std::string arg = "a b  'c' \"d\" $HOME `id` ; | & * \\n";
  ProcessResult result = RunOk({.argv = {"printf", "%s", arg}});
  EXPECT_EQ(result.stdout_data, arg);
}

TEST(PosixProcessRunnerTest, MissingProgramIsNotFound) {
  for (const std::string name : {"dflow-no-such-program", "/nonexistent/dflow-no-such-program"}) {
    absl::StatusOr<ProcessResult> result = PosixProcessRunner().Run({.argv = {name}});
    EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
    EXPECT_TRUE(absl::StrContains(result.status().message(), absl::StrCat("\"", name, "\"")))
        << result.status();
  }
  absl::StatusOr<ProcessResult> result = PosixProcessRunner().Run({.argv = {"dflow-nope"}});
  EXPECT_TRUE(
      absl::StartsWith(result.status().message(), "program \"dflow-nope\" not found in PATH"))
      << result.status();
}

TEST(PosixProcessRunnerTest, EmptyArgvIsInvalid) {
  EXPECT_EQ(PosixProcessRunner().Run({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PosixProcessRunnerTest, OnOutputSeesEachStream) {
  std::string out, err;
  ProcessResult result = RunOk({.argv = {"sh", "-c", "echo out; echo err >&2"},
                                .on_output = [&](int stream, std::string_view chunk) {
                                  ASSERT_TRUE(stream == 1 || stream == 2);
                                  (stream == 1 ? out : err).append(chunk);
                                }});
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_EQ(result.stdout_data, out);
}

TEST(PosixProcessRunnerTest, ChildDoesNotInheritBlockedSignals) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  ProcessResult result = RunOk({.argv = {"sh", "-c", "kill -TERM $$; exit 3"}});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(result.term_signal, SIGTERM);
}

TEST(PosixProcessRunnerTest, ConcurrentRunsKeepTheirOwnOutput) {
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([i, &outputs] {
      absl::StatusOr<ProcessResult> r =
          PosixProcessRunner().Run({.argv = {"printf", "%s", absl::StrCat("run-", i)}});
      if (r.ok()) outputs[i] = r->stdout_data;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(outputs[i], absl::StrCat("run-", i));
}

TEST(FindProgramTest, LooksUpPath) {
  std::optional<std::string> sh = FindProgram("sh");
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(sh->front(), '/');
  EXPECT_EQ(access(sh->c_str(), X_OK), 0);
  EXPECT_EQ(FindProgram("./relative/tool"), "./relative/tool");
  EXPECT_EQ(FindProgram("dflow-no-such-program"), std::nullopt);
}

TEST(SpawnDetachedTest, AppendsOutputToLogInOwnSession) {
  const std::string log = MakeTempDir() + "/child.log";
  std::ofstream(log) << "earlier\n";
  absl::StatusOr<int> pid = SpawnDetached(
      {.argv = {"sh", "-c", "echo detached-out; echo detached-err >&2; exec sleep 30"},
       .log_path = log});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(WaitUntil([&] { return getsid(*pid) == *pid; }));
  EXPECT_TRUE(WaitUntil([&] {
    std::string contents = ReadFile(log);
    return absl::StrContains(contents, "detached-out\n") &&
           absl::StrContains(contents, "detached-err\n");
  })) << ReadFile(log);
  EXPECT_TRUE(absl::StartsWith(ReadFile(log), "earlier\n"));
  kill(*pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);
}

TEST(SpawnDetachedTest, WithoutNewSessionGetsOwnGroup) {
  absl::StatusOr<int> pid = SpawnDetached({.argv = {"sleep", "30"}, .new_session = false});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_TRUE(WaitUntil([&] { return getpgid(*pid) == *pid; }));
  EXPECT_EQ(getsid(*pid), getsid(0));
  kill(*pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, 0), *pid);
}

TEST(SpawnDetachedTest, ReportsMissingProgramAndBadLogPath) {
  absl::StatusOr<int> pid = SpawnDetached({.argv = {"dflow-no-such-program"}});
  EXPECT_EQ(pid.status().code(), absl::StatusCode::kNotFound);
  pid = SpawnDetached({.argv = {"true"}, .log_path = "/nonexistent/dir/x.log"});
  EXPECT_FALSE(pid.ok());
  EXPECT_TRUE(absl::StrContains(pid.status().message(), "/nonexistent/dir/x.log")) << pid.status();
}

}  // namespace
}  // namespace dflow
