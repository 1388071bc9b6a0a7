// Commands end to end, without a real controller: bad input is refused before
// any call (checked against a controller that does not exist), and what each
// command sends and prints is checked against a scripted in-process Apps server.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "cli/fake_apps.h"
#include "cli/test_util.h"
#include "common/crypto.h"
#include "dflow/controller/v1/apps.grpc.pb.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

const char kNowhere[] = "/nonexistent-dflow-test/controller.sock";

bool ReachedForController(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable &&
         absl::StrContains(s.message(),
                           absl::StrCat("cannot reach the controller at unix:", kNowhere));
}

TEST(Commands, RefuseBadInputBeforeCallingTheController) {
  TempDir tmp;
  tmp.Write("noprocfile/app.py", "x\n");
  struct Case {
    std::vector<std::string> args;
    std::string message_part;
  } cases[] = {
      {{"scale", "shop", "web=-1"}, "\"web=-1\" is not allowed"},
      {{"scale", "shop", "web"}, "must be written TYPE=COUNT"},
      {{"scale", "Shop", "web=1"}, "app name \"Shop\" is not allowed"},
      {{"apps", "create", "Bad_Name"}, "the rule is ^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$"},
      {{"apps", "destroy", "shop"}, "confirm with `dflow apps destroy shop --force`"},
      {{"apps", "create", "shop", "--memory", "lots"}, "--memory \"lots\" is not a size"},
      {{"apps", "create", "shop", "--strategy", "random"}, "--strategy \"random\""},
      {{"config", "set", "shop", "1BAD=x"}, "config key \"1BAD\" is not allowed"},
      {{"config", "unset", "shop", "A-B"}, "config key \"A-B\" is not allowed"},
      {{"config", "get", "shop", "a b"}, "config key \"a b\" is not allowed"},
      {{"rollback", "shop", "v0"}, "release \"v0\" is not a version"},
      {{"ops", "show", "abc"}, "operation id \"abc\" is not allowed"},
      {{"ops", "cancel", "0"}, "operation id \"0\" is not allowed"},
      {{"deploy", "shop", "--path", tmp.path() + "/missing"}, "does not exist"},
      {{"deploy", "shop", "--path", tmp.path(), "--max-upload", "huge"}, "--max-upload \"huge\""},
      {{"logs", "shop", "-n", "-5"}, "-n -5 is not allowed"},
      {{"logs", "shop", "--process", "a b"}, "process type \"a b\" is not allowed"},
      {{"run", "shop", "--timeout", "soon", "--", "ls"}, "--timeout \"soon\" is not a duration"},
      {{"run", "shop", "ls", "-la"}, "parse: "},
      {{"scale", "shop"}, "parse: "},
      {{"storage", "mount", "n8n", "n8n-data:/home/node/.n8n", "--chown", "node"},
       "unknown storage owner \"node\"; use herokuish (uid 32767, the default), heroku (1000), "
       "paketo (2000), root (0) or false (no chown)"},
      {{"storage", "mount", "shop", "/srv/shop:/app/data", "--chown", "heroku"},
       "--chown is for a named storage only; the host path /srv/shop keeps its owner"},
  };
  for (const auto& c : cases) {
    CommandResult r = RunCommand(c.args, kNowhere);
    EXPECT_TRUE(IsUsageError(r.status)) << c.args[0] << " " << c.args[1] << ": " << r.status;
    EXPECT_TRUE(absl::StrContains(r.status.message(), c.message_part)) << r.status;
  }
  // A directory without a Procfile is a failure (exit 1), still before any call.
  CommandResult r = RunCommand({"deploy", "shop", "--path", tmp.path() + "/noprocfile"}, kNowhere);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition) << r.status;
  EXPECT_TRUE(absl::StrContains(r.status.message(), "has no Procfile")) << r.status;
}

TEST(Commands, ValidInputGoesToTheController) {
  TempDir tmp;
  tmp.Write("app/Procfile", "web: python3 app.py\n");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"apps", "ls"},
           {"apps", "create", "shop", "--memory", "256M", "--cpus", "0.5", "--constraint",
            "tier=beefy", "--health-path", "/health", "--strategy", "binpack"},
           {"apps", "destroy", "shop", "--force"},
           {"scale", "shop", "web=2", "worker=0"},
           {"ps", "shop", "--json"},
           {"config", "set", "shop", "A=b c", "--detach"},
           {"rollback", "shop", "3"},
           {"restart", "shop"},
           {"deploy", "shop", "--path", tmp.path() + "/app"},
           {"run", "shop", "--", "python3", "-c", "print(1)"},
           {"logs", "shop", "-f", "--process", "web"},
           {"ops", "ls", "--app", "shop", "--json"},
           {"storage", "mount", "n8n", "n8n-data:/home/node/.n8n", "--chown", "heroku"},
           {"storage", "mount", "shop", "/srv/shop:/app/data"},
       }) {
    CommandResult r = RunCommand(args, kNowhere);
    EXPECT_TRUE(ReachedForController(r.status)) << args[0] << ": " << r.status;
  }
}

v1::OpProgress Line(const std::string& text) {
  v1::OpProgress p;
  p.set_text(text);
  return p;
}

v1::OpProgress Done(const std::string& state, const std::string& error = "") {
  v1::OpProgress p;
  p.set_done(true);
  p.set_state(state);
  p.set_error(error);
  return p;
}

class WithFakeController : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = tmp_.path() + "/controller.sock";
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    b.RegisterService(&apps_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    apps_.op_ref.set_id(7);
    apps_.op_ref.set_release(2);
  }
  void TearDown() override { server_->Shutdown(); }
  CommandResult Cli(const std::vector<std::string>& args) { return RunCommand(args, socket_); }

  TempDir tmp_;
  std::string socket_;
  FakeApps apps_;
  std::unique_ptr<grpc::Server> server_;
};

// Incompressible bytes, so the archive spans several chunks.
std::string RandomText(size_t n) { return HexEncode(*RandomBytes(n / 2)); }

TEST_F(WithFakeController, DeployUploadsInChunksThenFollowsTheOp) {
  tmp_.Write("src/Procfile", "web: python3 app.py\n");
  tmp_.Write("src/data.txt", RandomText(300 * 1024));
  tmp_.Write("src/.git/HEAD", "ref: refs/heads/main\n");
  apps_.op_ref.set_queued_behind(6);
  apps_.script = {Line("placing 2 instances"), Line("web on local-1 healthy\n"), Done("succeeded")};
  CommandResult r = Cli({"deploy", "shop", "--path", tmp_.path() + "/src", "--description", "v2!"});
  ASSERT_TRUE(r.status.ok()) << r.status << "\n" << r.err;

  ASSERT_GE(apps_.chunk_apps.size(), 3u);
  EXPECT_EQ(apps_.chunk_apps[0], "shop");
  for (size_t i = 1; i < apps_.chunk_apps.size(); ++i) EXPECT_EQ(apps_.chunk_apps[i], "");
  for (size_t size : apps_.chunk_sizes) EXPECT_LE(size, 64u * 1024);
  EXPECT_EQ(apps_.deploy.app(), "shop");
  EXPECT_EQ(apps_.deploy.digest().size(), 64u);
  EXPECT_EQ(apps_.deploy.description(), "v2!");
  EXPECT_EQ(apps_.watched_id, 7);

  EXPECT_EQ(r.out, "placing 2 instances\nweb on local-1 healthy\noperation 7 succeeded\n");
  EXPECT_TRUE(absl::StrContains(r.err, "waiting for operation 6 on app shop to finish")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "upload: done")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "deploying shop v2 (operation 7)")) << r.err;
}

TEST_F(WithFakeController, FailedOpIsExitOneWithItsError) {
  tmp_.Write("src/Procfile", "web: python3 app.py\n");
  apps_.script = {Line("starting web"), Done("rolled_back", "web on local-1 exited: code 1")};
  CommandResult r = Cli({"deploy", "shop", "--path", tmp_.path() + "/src"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAborted);
  EXPECT_FALSE(IsUsageError(r.status));
  EXPECT_EQ(r.status.message(),
            "operation 7 failed and was rolled back: web on local-1 exited: code 1\n"
            "see its steps with `dflow ops show 7`");
}

TEST_F(WithFakeController, UploadOverTheLimitIsRefusedBeforeSending) {
  tmp_.Write("src/Procfile", "web: python3 app.py\n");
  tmp_.Write("src/data.txt", RandomText(200 * 1024));
  CommandResult r = Cli({"deploy", "shop", "--path", tmp_.path() + "/src", "--max-upload", "64K"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StartsWith(r.status.message(), "the upload is larger than the limit of "))
      << r.status;
  EXPECT_EQ(apps_.uploads, 0);
}

TEST_F(WithFakeController, ServerErrorsKeepTheirWordsAndAreNotUsageErrors) {
  CommandResult r = Cli({"apps", "show", "nope"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status.message(), "app \"nope\" does not exist");

  apps_.scale_error = "process type worker is not in the Procfile of shop v2";
  r = Cli({"scale", "shop", "worker=1"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsUsageError(r.status));  // exit 1, the server's words
  EXPECT_EQ(r.status.message(), apps_.scale_error);
}

TEST_F(WithFakeController, CtrlCDetachesWithoutCancelling) {
  apps_.script = {Line("stopping 1 instance")};
  apps_.hold_watch = true;
  std::thread interrupter([this] {
    while (!apps_.watching) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    kill(getpid(), SIGINT);
  });
  CommandResult r = Cli({"scale", "shop", "web=1"});
  interrupter.join();
  EXPECT_TRUE(r.status.ok()) << r.status;
  // The line was sent before the Ctrl-C, but the watch is cancelled at once:
  // whether the CLI read it first is a race (it failed 3 in 30 runs when
  // asserted), so it is printed whole or not at all.
  EXPECT_TRUE(r.out.empty() || r.out == "stopping 1 instance\n") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "dflow ops show 7 --follow")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "dflow ops cancel 7")) << r.err;
  EXPECT_EQ(apps_.cancels, 0);
}

TEST_F(WithFakeController, DetachPrintsTheIdAlone) {
  CommandResult r = Cli({"restart", "shop", "--detach"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.out, "7\n");
  EXPECT_EQ(apps_.watched_id, 0);
}

TEST_F(WithFakeController, RunPassesArgvAndTheExitCode) {
  CommandResult r = Cli({"run", "shop", "--", "python3", "-c", "import sys; sys.exit(3)"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_EQ(std::vector<std::string>(apps_.run.argv().begin(), apps_.run.argv().end()),
            (std::vector<std::string>{"python3", "-c", "import sys; sys.exit(3)"}));
  EXPECT_EQ(apps_.run.timeout_ms(), 3'600'000);
}

TEST_F(WithFakeController, LogsPrefixServerAndInstance) {
  CommandResult r = Cli({"logs", "shop", "-n", "20", "--process", "web"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.out,
            "[local-1 shop-web-1] listening on 127.0.0.1:5001\n"
            "[local-1 shop-web-1] GET / 200\n");
  EXPECT_EQ(apps_.logs.lines(), 20);
  EXPECT_EQ(apps_.logs.process(), "web");
  EXPECT_FALSE(apps_.logs.follow());
}

TEST_F(WithFakeController, JsonHasRfc3339TimesAndNulls) {
  CommandResult r = Cli({"ops", "ls", "--app", "shop", "--json"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  auto ops = nlohmann::json::parse(r.out);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["id"], 7);
  EXPECT_EQ(ops[0]["app"], "shop");
  EXPECT_EQ(ops[0]["kind"], "deploy");
  EXPECT_EQ(ops[0]["state"], "running");
  EXPECT_EQ(ops[0]["started_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_TRUE(ops[0]["ended_at"].is_null());
  EXPECT_TRUE(ops[0]["error"].is_null());

  r = Cli({"ps", "shop", "--json"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  auto ps = nlohmann::json::parse(r.out);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0], nlohmann::json::parse(R"({"id": "shop-web-1", "process": "web",
      "server": "local-1", "state": "running", "port": 5001, "release": 2,
      "started_at": "2023-11-14T22:13:20.000Z", "address": "127.0.0.1:5001"})"));
}

TEST_F(WithFakeController, ConfigSetWithoutRolloutAndGet) {
  CommandResult r = Cli({"config", "set", "shop", "GREETING=hi there", "URL=a=b"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(apps_.set_config.set().at("GREETING"), "hi there");
  EXPECT_EQ(apps_.set_config.set().at("URL"), "a=b");
  EXPECT_TRUE(absl::StrContains(r.out, "takes effect with the first release")) << r.out;

  r = Cli({"config", "get", "shop", "GREETING"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.out, "hi there\n");
  r = Cli({"config", "get", "shop", "MISSING"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status.message(),
            "config key MISSING is not set on app \"shop\" (see `dflow config ls shop`)");
}

TEST_F(WithFakeController, StreamEndingEarlyAsksForTheOutcome) {
  apps_.script = {Line("scaling web to 3")};  // no last message
  apps_.op.set_id(7);
  apps_.op.set_state("failed");
  apps_.op.set_error("0 of 2 servers fit: local-1 is draining; local-2 lacks label tier=beefy");
  CommandResult r = Cli({"scale", "shop", "web=3"});
  EXPECT_EQ(r.status.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StartsWith(r.status.message(), "operation 7 failed: 0 of 2 servers fit"))
      << r.status;
  EXPECT_EQ(r.out, "scaling web to 3\n");
}

TEST_F(WithFakeController, OpsShowListsStepsWithTimesOutputAndErrors) {
  auto& op = apps_.op;
  op.set_id(7);
  op.set_app("shop");
  op.set_kind("deploy");
  op.set_state("rolled_back");
  op.set_release(3);
  op.set_started_at_ms(1'700'000'000'000);
  op.set_ended_at_ms(1'700'000'002'500);
  op.set_error("web never answered /health");
  auto* step = op.add_steps();
  step->set_index(1);
  step->set_kind("prepare");
  step->set_description("unpack v3 on local-1");
  step->set_state("done");
  step->set_started_at_ms(1'700'000'000'000);
  step->set_ended_at_ms(1'700'000'001'000);
  step->set_output("release phase: prepared release v3\n");
  step = op.add_steps();
  step->set_index(2);
  step->set_kind("start");
  step->set_state("failed");
  step->set_error("web never answered /health");

  CommandResult r = Cli({"ops", "show", "7"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  for (const char* want :
       {"operation 7: deploy of shop, rolled_back\n", "  1. [done] unpack v3 on local-1\n",
        "     2023-11-14T22:13:20.000Z -> 2023-11-14T22:13:21.000Z (1s)\n",
        "     | release phase: prepared release v3\n", "  2. [failed] start\n",
        "     error: web never answered /health\n"}) {
    EXPECT_TRUE(absl::StrContains(r.out, want)) << want << " not in:\n" << r.out;
  }

  r = Cli({"ops", "show", "7", "--json"});
  ASSERT_TRUE(r.status.ok()) << r.status;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["state"], "rolled_back");
  EXPECT_EQ(j["ended_at"], "2023-11-14T22:13:22.500Z");
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["output"], "release phase: prepared release v3\n");
  EXPECT_TRUE(j["steps"][0]["error"].is_null());
  EXPECT_TRUE(j["steps"][1]["started_at"].is_null());
  EXPECT_EQ(j["steps"][1]["error"], "web never answered /health");
}

}  // namespace
}  // namespace dflow::cli
