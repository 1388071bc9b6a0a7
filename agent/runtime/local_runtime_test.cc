#include "agent/runtime/local_runtime.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/local_runtime_test_fixture.h"
#include "common/files.h"

namespace dflow::agent::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kWeb[] = "web: python3 app.py\n";

int PidIn(const std::string& body) {
  std::vector<std::string> parts = absl::StrSplit(body, ' ');
  int pid = 0;
  if (parts.size() == 3) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(parts[2]), &pid);
  return pid;
}

TEST_F(LocalRuntimeTest, PreparesStartsAndPassesHttpHealth) {
  Open();
  ReleaseSpec spec = Prepare("shop", 1, "web: python3 app.py\nrelease: python3 -c pass\n", {},
                             {{"GREETING", "hi"}});
  auto processes = rt_->Processes("shop", 1);
  ASSERT_TRUE(processes.ok()) << processes.status();
  EXPECT_EQ(*processes, (std::map<std::string, std::string>{{"web", "python3 app.py"}}));

  InstanceStatus st = Start(Spec("shop-web-1", "shop"));
  EXPECT_EQ(st.state, InstanceState::kRunning);
  EXPECT_EQ(st.release, 1);
  EXPECT_GE(st.port, Options().port_min);
  EXPECT_LE(st.port, Options().port_max);
  EXPECT_GT(st.pid, 0);
  const std::string body = Get(st.port);
  EXPECT_EQ(body, absl::StrCat("shop-web-1 v1 ", st.pid, "\n"));

  // Idempotent: the same start again finds it; the same prepare is a no-op.
  InstanceStatus again = Start(Spec("shop-web-1", "shop"));
  EXPECT_EQ(again.pid, st.pid);
  EXPECT_EQ(again.port, st.port);
  EXPECT_TRUE(rt_->PrepareRelease(spec, nullptr).ok());
  ASSERT_EQ(rt_->ListInstances().size(), 1u);

  // A release number never comes back with other source.
  ReleaseSpec other = spec;
  other.source_digest = std::string(64, 'a');
  EXPECT_EQ(rt_->PrepareRelease(other, nullptr).code(), absl::StatusCode::kAlreadyExists);
  // The same id for something else is refused.
  auto clash = rt_->StartInstance(Spec("shop-web-1", "shop", 1, "worker"), seconds(1));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(LocalRuntimeTest, TcpHealthWhenNoPathIsSet) {
  Open();
  Prepare("tcp", 1, kWeb, {}, {}, /*health_path=*/"");
  InstanceStatus st = Start(Spec("tcp-web-1", "tcp"));
  EXPECT_EQ(st.state, InstanceState::kRunning);
  EXPECT_TRUE(ProbeTcp("127.0.0.1", st.port, seconds(1)).ok());
}

TEST_F(LocalRuntimeTest, PicksDistinctPortsAndHonoursAGivenOne) {
  Open();
  Prepare("two", 1, kWeb);
  InstanceStatus a = Start(Spec("two-web-1", "two"));
  InstanceStatus b = Start(Spec("two-web-2", "two"));
  EXPECT_NE(a.port, b.port);
  InstanceSpec fixed = Spec("two-web-3", "two");
  fixed.port = Options().port_min;
  while (fixed.port == a.port || fixed.port == b.port) ++fixed.port;
  EXPECT_EQ(Start(fixed).port, fixed.port);
  InstanceSpec taken = Spec("two-web-4", "two");
  taken.port = a.port;
  EXPECT_EQ(rt_->StartInstance(taken, seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LocalRuntimeTest, FailedHealthCheckStopsItAndQuotesTheLog) {
  Open();
  Prepare("sick", 1, kWeb, {}, {{"HEALTH_FAIL", "1"}});
  auto st = rt_->StartInstance(Spec("sick-web-1", "sick"), milliseconds(1500));
  ASSERT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition) << st.status();
  const std::string msg(st.status().message());
  EXPECT_THAT(msg, HasSubstr("instance sick-web-1 of app sick"));
  EXPECT_THAT(msg, HasSubstr("on server test-1"));
  EXPECT_THAT(msg, HasSubstr("HTTP GET /health"));
  EXPECT_THAT(msg, HasSubstr("answered HTTP 500"));
  EXPECT_THAT(msg, HasSubstr("listening on"));  // a line the app printed
  auto i = Find("sick-web-1");
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(i->state, InstanceState::kFailed);
  EXPECT_EQ(i->pid, 0);
  EXPECT_EQ(CountProcessesWithEnv("DFLOW_INSTANCE_ID=sick-web-1"), 0);
}

TEST_F(LocalRuntimeTest, ExitBeforeHealthyFailsAtOnceWithItsOutput) {
  Open();
  Prepare("boom", 1, "web: python3 -c \"import sys; print('no database'); sys.exit(3)\"\n");
  const auto began = std::chrono::steady_clock::now();
  auto st = rt_->StartInstance(Spec("boom-web-1", "boom"), seconds(30));
  ASSERT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("exited with code 3"));
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("no database"));
  EXPECT_LT(std::chrono::steady_clock::now() - began, seconds(20));  // not the whole deadline
}

TEST_F(LocalRuntimeTest, UnknownReleaseOrProcessTypeOrBadSource) {
  Open();
  auto st = rt_->StartInstance(Spec("nope-web-1", "nope", 4), seconds(1));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("release v4 of app nope"));
  EXPECT_TRUE(rt_->ListInstances().empty());

  Prepare("only", 1, kWeb);
  st = rt_->StartInstance(Spec("only-worker-1", "only", 1, "worker"), seconds(1));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("(it has: web)"));

  ReleaseSpec bare = MakeRelease(tmp_.path(), "bare", 1, {{"app.py", "print(1)"}});
  absl::Status s = rt_->PrepareRelease(bare, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("has no Procfile"));
  EXPECT_FALSE(FileExists(tmp_.path() + "/data/releases/bare/v1"));

  ReleaseSpec shell = MakeRelease(tmp_.path(), "shell", 1, {{"Procfile", "web: a | b\n"}});
  ASSERT_TRUE(rt_->PrepareRelease(shell, nullptr).ok());
  st = rt_->StartInstance(Spec("shell-web-1", "shell"), seconds(1));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.status().message()), HasSubstr("needs a shell"));
}

TEST_F(LocalRuntimeTest, CrashAfterHealthyRestartsWithExponentialBackoff) {
  Open();
  Prepare("flaky", 1, kWeb);
  InstanceStatus st = Start(Spec("flaky-web-1", "flaky"));
  int pid = st.pid;
  for (int round = 1; round <= 2; ++round) {
    Get(st.port, "/crash");
    ASSERT_TRUE(WaitFor([&] { return InState("flaky-web-1", InstanceState::kBackoff); }));
    auto i = Find("flaky-web-1");
    const milliseconds delay(1000 << (round - 1));  // 1s, then 2s
    EXPECT_THAT(i->last_error, HasSubstr("exited with code 3"));
    EXPECT_THAT(i->last_error,
                HasSubstr(absl::StrCat("restarting in ", delay.count() / 1000, "s")));
    EXPECT_EQ(i->restarts, round - 1);
    // Time stands still for the backoff: it stays down until its delay has passed.
    clock_.Advance(delay - milliseconds(1));
    rt_->SuperviseOnce();
    EXPECT_TRUE(InState("flaky-web-1", InstanceState::kBackoff));
    clock_.Advance(milliseconds(1));
    rt_->SuperviseOnce();
    ASSERT_TRUE(WaitFor([&] { return InState("flaky-web-1", InstanceState::kRunning); }));
    i = Find("flaky-web-1");
    EXPECT_EQ(i->restarts, round);
    EXPECT_NE(i->pid, pid);
    EXPECT_EQ(i->port, st.port);  // it keeps its port
    EXPECT_EQ(PidIn(Get(st.port)), i->pid);
    pid = i->pid;
  }
}

TEST_F(LocalRuntimeTest, StopIsGracefulThenForcefulAndIdempotent) {
  Open();
  Prepare("stop", 1, kWeb);
  InstanceStatus web = Start(Spec("stop-web-1", "stop"));
  ASSERT_TRUE(rt_->StopInstance("stop-web-1", seconds(5)).ok());
  EXPECT_TRUE(InState("stop-web-1", InstanceState::kStopped));
  EXPECT_NE(kill(web.pid, 0), 0);
  EXPECT_EQ(Get(web.port), "");
  EXPECT_TRUE(rt_->StopInstance("stop-web-1", seconds(5)).ok());
  EXPECT_TRUE(rt_->StopInstance("never-existed", seconds(5)).ok());
  auto pidfile = ReadFile(tmp_.path() + "/data/instances/stop-web-1.json");
  ASSERT_TRUE(pidfile.ok());
  EXPECT_THAT(*pidfile, HasSubstr("\"desired\": \"stopped\""));

  // A process that ignores SIGTERM is killed once the grace has passed.
  ReleaseSpec v2 =
      MakeRelease(tmp_.path(), "stop", 2,
                  {{"Procfile", "web: python3 stubborn.py\n"},
                   {"stubborn.py",
                    "import signal, socket, os, time\n"
                    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                    "s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT'])))\n"
                    "s.listen(); time.sleep(600)\n"}});
  v2.health_path = "";
  ASSERT_TRUE(rt_->PrepareRelease(v2, nullptr).ok());
  InstanceStatus stubborn = Start(Spec("stop-web-2", "stop", 2));
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(rt_->StopInstance("stop-web-2", milliseconds(300)).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - began, seconds(5));
  EXPECT_NE(kill(stubborn.pid, 0), 0);
  EXPECT_TRUE(InState("stop-web-2", InstanceState::kStopped));
}

TEST_F(LocalRuntimeTest, StartAfterStopStartsItAgain) {
  Open();
  Prepare("again", 1, kWeb);
  InstanceStatus first = Start(Spec("again-web-1", "again"));
  ASSERT_TRUE(rt_->StopInstance("again-web-1", seconds(2)).ok());
  InstanceStatus second = Start(Spec("again-web-1", "again"));
  EXPECT_EQ(second.state, InstanceState::kRunning);
  EXPECT_NE(second.pid, first.pid);
  EXPECT_EQ(PidIn(Get(second.port)), second.pid);
}

TEST_F(LocalRuntimeTest, MemoryLimitBecomesTheProcessDataLimit) {
  Open();
  ReleaseSpec spec = MakeRelease(tmp_.path(), "mem", 1, {{"Procfile", kWeb}, {"app.py", kWebApp}});
  spec.health_path = "/health";
  spec.memory_bytes = 256 << 20;
  spec.cpus = 0.5;
  ASSERT_TRUE(rt_->PrepareRelease(spec, nullptr).ok());
  InstanceStatus st = Start(Spec("mem-web-1", "mem"));
  EXPECT_THAT(ProcLimit(st.pid, "Max data size"), HasSubstr("268435456"));
}

TEST_F(LocalRuntimeTest, DestroyRemovesInstancesReleasesAndLogs) {
  Open();
  Prepare("gone", 1, kWeb);
  Prepare("kept", 1, kWeb);
  InstanceStatus a = Start(Spec("gone-web-1", "gone"));
  InstanceStatus b = Start(Spec("gone-web-2", "gone"));
  InstanceStatus c = Start(Spec("kept-web-1", "kept"));
  ASSERT_TRUE(rt_->DestroyApp("gone").ok());
  EXPECT_NE(kill(a.pid, 0), 0);
  EXPECT_NE(kill(b.pid, 0), 0);
  ASSERT_EQ(rt_->ListInstances().size(), 1u);
  EXPECT_EQ(rt_->ListInstances()[0].id, "kept-web-1");
  EXPECT_FALSE(FileExists(tmp_.path() + "/data/releases/gone"));
  EXPECT_FALSE(FileExists(tmp_.path() + "/data/logs/gone"));
  EXPECT_FALSE(FileExists(tmp_.path() + "/data/instances/gone-web-1.json"));
  EXPECT_TRUE(FileExists(tmp_.path() + "/data/releases/kept/v1/tree/Procfile"));
  EXPECT_EQ(PidIn(Get(c.port)), c.pid);
  EXPECT_TRUE(rt_->DestroyApp("gone").ok());
  EXPECT_EQ(rt_->StartInstance(Spec("gone-web-1", "gone"), seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
}

// An app that listens on $HOST:$PORT and answers with its HOST.
constexpr char kHostApp[] = R"PY(
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ.get("HOST", "-").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), H).serve_forever()
)PY";

TEST_F(LocalRuntimeTest, InstancesListenOnTheInstanceHostAndAreProbedThere) {
  LocalRuntimeOptions o = Options();
  o.instance_host = "127.0.0.2";  // a loopback address of its own: not 127.0.0.1
  o.probe_host = "127.0.0.2";
  Open(o);
  Prepare("shop", 1, "web: python3 host_app.py\n", {{"host_app.py", kHostApp}});
  InstanceStatus st = Start(Spec("shop-web-1", "shop"));
  ASSERT_EQ(st.state, InstanceState::kRunning);
  auto there = HttpGet("127.0.0.2", st.port, "/", seconds(5));
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_EQ(there->body, "127.0.0.2");
  EXPECT_FALSE(HttpGet("127.0.0.1", st.port, "/", seconds(2)).ok());
  // The app's own HOST wins (here: every address, still probed on 127.0.0.2).
  Prepare("blog", 1, "web: python3 host_app.py\n", {{"host_app.py", kHostApp}},
          {{"HOST", "0.0.0.0"}});
  InstanceStatus blog = Start(Spec("blog-web-1", "blog"));
  ASSERT_EQ(blog.state, InstanceState::kRunning);
  auto all = HttpGet("127.0.0.1", blog.port, "/", seconds(5));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->body, "0.0.0.0");
}

}  // namespace
}  // namespace dflow::agent::testing
