// DokkuRuntime: the exact argv of each operation (scripted runner), then whole
// flows against the Dokku test double for 0.35 and 0.38.
#include "agent/runtime/dokku_runtime.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "agent/runtime/dokku_test_support.h"
#include "agent/runtime/runtime_test_support.h"

namespace dflow::agent {
namespace {

using std::chrono::seconds;
using testing::Args;
using testing::Reply;
using testing::ScriptedRunner;

constexpr char kProcfile[] = "web: python3 app.py\nworker: python3 worker.py\n";

std::string PsJson(const std::string& containers, bool deployed = true) {
  return std::string(R"js({"deployed":")js") + (deployed ? "true" : "false") +
         R"js(","processes":"1","ps-can-scale":"true","running":"true")js" + containers + "}";
}
const std::string kWeb1 = R"js(,"status-web.1":"running (CID: 0123456789a)")js";

class DokkuRuntimeArgv : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_.On({"version"}, {.out = "dokku version 0.38.27\n"});
    runner_.On({"apps:exists"}, {.exit_code = 0});
    runner_.On({"config:export"}, {.out = "{}\n"});
    runner_.On({"ps:report"}, {.out = PsJson(kWeb1)});
    runner_.On({"ports:report"}, {.out = R"js({"map":"","map-detected":"http:80:5000"})js"});
    for (const char* ok :
         {"apps:create", "config:set", "config:unset", "ps:scale", "ps:restart", "git:from-archive",
          "resource:limit", "resource:reserve", "apps:destroy", "checks:set"}) {
      runner_.On({ok}, {});
    }
  }

  std::unique_ptr<DokkuRuntime> Open() {
    auto rt =
        DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
    EXPECT_TRUE(rt.ok()) << rt.status();
    runner_.Clear();
    return rt.ok() ? std::move(*rt) : nullptr;
  }

  ReleaseSpec Release(int64_t version, std::map<std::string, std::string> env = {},
                      std::map<std::string, std::string> files = {{"Procfile", kProcfile}}) {
    ReleaseSpec spec = dflow::agent::testing::MakeRelease(tmp_.path(), "shop", version, files);
    spec.env = std::move(env);
    return spec;
  }

  dflow::agent::testing::TempDir tmp_;
  ScriptedRunner runner_;
};

TEST_F(DokkuRuntimeArgv, RefusesDokkuOlderThan035NamingBothVersions) {
  runner_.On({"version"}, {.out = "dokku version 0.34.9\n"});
  auto rt =
      DokkuRuntime::Open({.data_dir = tmp_.path(), .server_name = "web-2", .runner = &runner_});
  EXPECT_EQ(rt.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(rt.status().message().find("Dokku 0.34.9"), std::string::npos) << rt.status();
  EXPECT_NE(rt.status().message().find("0.35.0 or newer"), std::string::npos) << rt.status();
}

TEST_F(DokkuRuntimeArgv, PrepareCreatesTheAppOnlyWhenApppsExistsSays20) {
  auto rt = Open();
  runner_.Once({"apps:exists"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"apps:exists", "shop"}, {"apps:create", "shop"}}));
  runner_.Clear();
  ASSERT_TRUE(rt->PrepareRelease(Release(2), nullptr).ok());  // exists now: only asked
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"apps:exists", "shop"}}));
  auto types = rt->Processes("shop", 2);
  ASSERT_TRUE(types.ok());
  EXPECT_EQ(types->at("worker"), "python3 worker.py");
}

TEST_F(DokkuRuntimeArgv, PrepareRefusesValuesDokkuWouldChangeBeforeAnyCall) {
  auto rt = Open();
  for (const auto& [value, why] :
       std::vector<std::pair<std::string, std::string>>{{"say \"hi\"", "double quote"},
                                                        {"C:\\path\\", "backslash"},
                                                        {"007", "integer 7"},
                                                        {"+5", "integer 5"}}) {
    absl::Status s = rt->PrepareRelease(Release(1, {{"Q", value}}), nullptr);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << value;
    EXPECT_NE(s.message().find("config Q"), std::string::npos) << s;
    EXPECT_NE(s.message().find(why), std::string::npos) << s;
  }
  EXPECT_TRUE(runner_.calls().empty());
  for (const std::string ok : {"42", "-3", "0", "\"quoted\" in the middle", "ends with $"}) {
    EXPECT_TRUE(CheckDokkuConfigValue("K", ok).ok()) << ok;
  }
}

TEST_F(DokkuRuntimeArgv, FirstStartDeploysInThisOrder) {
  auto rt = Open();
  ReleaseSpec spec = Release(1, {{"GREETING", "hello world"}});
  spec.memory_bytes = int64_t{512} << 20;
  spec.cpus = 1.5;
  spec.health_path = "/health";
  ASSERT_TRUE(rt->PrepareRelease(spec, nullptr).ok());
  runner_.Clear();
  runner_.Once({"config:export"}, {.out = "{}\n"});
  runner_.Once({"config:export"}, {.out = R"js({"GREETING":"hello world","NO_VHOST":"1"})js"});
  // resource:report before (transcript #120: none set) and after (#130's keys).
  runner_.Once({"resource:report"}, {.out = "{}\n"});
  runner_.Once({"resource:report"},
               {.out = R"js({"_default_.limit.cpu":"1.5","_default_.limit.memory":"512m",)js"
                       R"js("_default_.reserve.cpu":"1.5","_default_.reserve.memory":"512m",)js"
                       R"js("resource-_default_.limit.cpu":"1.5"})js"});
  auto st = rt->StartInstance({.id = "shop-web-1-1", .app = "shop", .process = "web", .release = 1},
                              seconds(75));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state, InstanceState::kRunning);
  EXPECT_EQ(st->port, 80);
  const std::string b64 = absl::Base64Escape("hello world");
  EXPECT_EQ(
      runner_.calls(),
      (std::vector<Args>{{"resource:report", "shop", "--format", "json"},
                         {"resource:limit", "--cpu", "1.5", "--memory", "512m", "shop"},
                         {"resource:reserve", "--cpu", "1.5", "--memory", "512m", "shop"},
                         {"resource:report", "shop", "--format", "json"},
                         {"config:export", "--format", "json", "shop"},
                         {"config:set", "--no-restart", "--encoded", "shop", "GREETING=" + b64},
                         {"config:export", "--format", "json", "shop"},
                         {"ps:scale", "--skip-deploy", "shop", "web=1", "worker=0"},
                         {"git:from-archive", "--archive-type", "tar.gz", "shop", "--"},
                         {"ps:report", "shop", "--format", "json"},
                         {"ports:report", "shop", "--format", "json"}}));
  // The archive went on stdin, with the health check in its app.json.
  std::string archive = runner_.stdins()[8];
  ASSERT_GT(archive.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(archive[0]), 0x1f);
  PosixProcessRunner posix;
  auto app_json = posix.Run({.argv = {"tar", "-xzOf", "-", "./app.json"}, .stdin_data = archive});
  ASSERT_TRUE(app_json.ok());
  auto j = nlohmann::json::parse(app_json->stdout_data, nullptr, false);
  ASSERT_TRUE(j.is_object()) << app_json->stdout_data << app_json->stderr_data;
  EXPECT_EQ(j["healthchecks"]["web"][0]["path"], "/health");
}

TEST_F(DokkuRuntimeArgv, SecondInstanceScalesAConfigReleaseRestartsAStopScalesDown) {
  auto rt = Open();
  ReleaseSpec v1 = Release(1);
  ASSERT_TRUE(rt->PrepareRelease(v1, nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  runner_.On({"ps:report"},
             {.out = PsJson(kWeb1 + R"js(,"status-web.2":"running (CID: 0123456789b)")js")});
  ASSERT_TRUE(rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30)).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ps:scale", "shop", "web=2", "worker=0"},
                                                {"ps:report", "shop", "--format", "json"}}));
  // v2: the same tree, another config: set, then ps:restart (no new build).
  ReleaseSpec v2 = v1;
  v2.version = 2;
  v2.env = {{"MODE", "fast"}};
  ASSERT_TRUE(rt->PrepareRelease(v2, nullptr).ok());
  runner_.Clear();
  runner_.Once({"config:export"}, {.out = "{}"});
  runner_.Once({"config:export"}, {.out = R"js({"MODE":"fast"})js"});
  ASSERT_TRUE(rt->StartInstance({"c", "shop", "web", 2, 0}, seconds(30)).ok());
  EXPECT_EQ(runner_.calls(),
            (std::vector<Args>{{"config:export", "--format", "json", "shop"},
                               {"config:set", "--no-restart", "--encoded", "shop",
                                "MODE=" + absl::Base64Escape("fast")},
                               {"config:export", "--format", "json", "shop"},
                               {"ps:scale", "--skip-deploy", "shop", "web=2", "worker=0"},
                               {"ps:restart", "shop"},
                               {"ps:report", "shop", "--format", "json"}}));
  // The old instances stop: one of each release is a formation of one. The
  // grace becomes the app's stop timeout first (asked, set, read back).
  runner_.Clear();
  runner_.On({"ps:report"}, {.out = PsJson(kWeb1)});
  runner_.On({"ps:set"}, {.out = "=====> Setting stop-timeout-seconds to 10\n"});
  runner_.Once({"ps:report"}, {.out = PsJson(kWeb1)});
  runner_.Once({"ps:report"}, {.out = PsJson(R"js(,"stop-timeout-seconds":"10")js" + kWeb1)});
  ASSERT_TRUE(rt->StopInstance("a", seconds(10)).ok());
  ASSERT_TRUE(rt->StopInstance("b", seconds(10)).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ps:report", "shop", "--format", "json"},
                                                {"ps:set", "shop", "stop-timeout-seconds", "10"},
                                                {"ps:report", "shop", "--format", "json"},
                                                {"ps:scale", "shop", "web=1", "worker=0"},
                                                {"ps:report", "shop", "--format", "json"}}));
  EXPECT_TRUE(rt->StopInstance("unknown", seconds(10)).ok());
}

TEST_F(DokkuRuntimeArgv, AStopTimeoutAlreadySetIsOnlyAskedAndGraceRoundsUp) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.On({"ps:report"},
             {.out = PsJson(kWeb1 + R"js(,"status-web.2":"running (CID: 0123456789b)")js")});
  ASSERT_TRUE(rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  // 1.5 s is 2 s for Dokku, which the app has already.
  runner_.On(
      {"ps:report"},
      {.out = PsJson(R"js(,"ps-stop-timeout-seconds":"2","stop-timeout-seconds":"2")js" + kWeb1)});
  ASSERT_TRUE(rt->StopInstance("b", std::chrono::milliseconds(1500)).ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ps:report", "shop", "--format", "json"},
                                                {"ps:scale", "shop", "web=1", "worker=0"},
                                                {"ps:report", "shop", "--format", "json"}}));
}

// A stop whose scale-down failed: the controller's retry finds the instance
// forgotten already, and finishes the scale-down instead of doing nothing.
TEST_F(DokkuRuntimeArgv, ARetriedStopFinishesAScaleDownThatFailed) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.On({"ps:report"}, {.out = PsJson(R"js(,"stop-timeout-seconds":"10")js" + kWeb1 +
                                           R"js(,"status-web.2":"running (CID: 0123456789b)")js")});
  ASSERT_TRUE(rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  runner_.Once({"ps:scale"}, {.exit_code = 1, .err = " !     Deploy lock is held\n"});
  EXPECT_FALSE(rt->StopInstance("b", seconds(10)).ok());
  runner_.On({"ps:report"}, {.out = PsJson(R"js(,"stop-timeout-seconds":"10")js" + kWeb1)});
  ASSERT_TRUE(rt->StopInstance("b", seconds(10)).ok());
  const Args report = {"ps:report", "shop", "--format", "json"};
  const Args scale = {"ps:scale", "shop", "web=1", "worker=0"};
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{report, scale, report, scale, report}));
  // Nothing is behind now: an unknown id changes nothing.
  runner_.Clear();
  ASSERT_TRUE(rt->StopInstance("b", seconds(10)).ok());
  EXPECT_TRUE(runner_.calls().empty());
}

TEST_F(DokkuRuntimeArgv, AStopTimeoutDokkuDoesNotKeepFailsTheStopBeforeAnyScale) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  runner_.On({"ps:set"}, {});
  absl::Status s = rt->StopInstance("a", seconds(20));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after the change Dokku on server web-2 reports a stop timeout of (none) s for shop "
            "(asked: 20 s)");
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ps:report", "shop", "--format", "json"},
                                                {"ps:set", "shop", "stop-timeout-seconds", "20"},
                                                {"ps:report", "shop", "--format", "json"}}));
}

TEST_F(DokkuRuntimeArgv, OnDokku035TheStopTimeoutIsTheConfigVar) {
  runner_.On({"version"}, {.out = "dokku version 0.35.20\n"});
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  runner_.Once({"config:export"}, {.out = R"js({"DOKKU_DOCKER_STOP_TIMEOUT":"10"})js"});
  runner_.Once({"config:export"}, {.out = R"js({"DOKKU_DOCKER_STOP_TIMEOUT":"25"})js"});
  runner_.On({"ps:report"}, {.out = PsJson("")});
  ASSERT_TRUE(rt->StopInstance("a", seconds(25)).ok());
  EXPECT_EQ(
      runner_.calls(),
      (std::vector<Args>{{"config:export", "--format", "json", "shop"},
                         {"config:set", "--no-restart", "shop", "DOKKU_DOCKER_STOP_TIMEOUT=25"},
                         {"config:export", "--format", "json", "shop"},
                         {"ps:scale", "shop", "web=0", "worker=0"},
                         {"ps:report", "shop", "--format", "json"}}));
}

TEST_F(DokkuRuntimeArgv, WhatDokkuRunsAfterAChangeMustBeWhatWasAsked) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  // Scaled to two, Dokku still runs one (and one exited).
  runner_.On({"ps:report"},
             {.out = PsJson(kWeb1 + R"js(,"status-web.2":"exited (CID: 0123456789b)")js")});
  auto st = rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.status().message(),
            "after the change Dokku on server web-2 runs shop at web 1 of 2 running, 1 not "
            "(asked: web=2 worker=0)");
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"ps:scale", "shop", "web=2", "worker=0"},
                                                {"ps:report", "shop", "--format", "json"}}));
  EXPECT_EQ(rt->ListInstances().size(), 1u);  // b is not recorded
  // A container of a type the release does not have is a difference too.
  runner_.On({"ps:report"},
             {.out = PsJson(kWeb1 + R"js(,"status-clock.1":"running (CID: 0123456789c)")js")});
  st = rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30));
  EXPECT_NE(st.status().message().find("clock 1 running of 0"), std::string::npos) << st.status();
  // Not deployed at all.
  runner_.On({"ps:report"}, {.out = PsJson("", /*deployed=*/false)});
  st = rt->StartInstance({"b", "shop", "web", 1, 0}, seconds(30));
  EXPECT_EQ(st.status().message(), "Dokku on server web-2 reports shop as not deployed");
}

TEST_F(DokkuRuntimeArgv, ResourceLimitsDokkuDoesNotKeepFailTheDeploy) {
  auto rt = Open();
  ReleaseSpec spec = Release(1);
  spec.memory_bytes = int64_t{256} << 20;
  ASSERT_TRUE(rt->PrepareRelease(spec, nullptr).ok());
  runner_.Clear();
  runner_.On({"resource:report"}, {.out = "{}\n"});
  auto st = rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(st.status().message(),
            "after the change Dokku on server web-2 reports memory limit "
            "(none) for shop (asked: 256m; resource:report)");
  EXPECT_TRUE(rt->ListInstances().empty());
  // Already what is asked: only asked.
  runner_.Clear();
  runner_.On({"resource:report"},
             {.out = R"js({"_default_.limit.memory":"256m","_default_.reserve.memory":"256m"})js"});
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  EXPECT_EQ(runner_.calls()[0], (Args{"resource:report", "shop", "--format", "json"}));
  EXPECT_NE(runner_.calls()[1][0], "resource:limit");
}

TEST_F(DokkuRuntimeArgv, AMissingAppIsNotFoundOnThisServer) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  runner_.On({"config:export"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  auto st = rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.status().message(), "app \"shop\" does not exist on server web-2");
  EXPECT_TRUE(rt->ListInstances().empty());
}

TEST_F(DokkuRuntimeArgv, AFailedDeployIsAnErrorWithDokkusLinesAndRecordsNothing) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  runner_.On({"git:from-archive"}, {.exit_code = 1,
                                    .out = "-----> Deploying web (count=1)\n",
                                    .err = " !     Failure in name='dflow': container exited\n"});
  auto st = rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(st.status().message().find("Failure in name='dflow': container exited"),
            std::string::npos)
      << st.status();
  EXPECT_NE(st.status().message().find("dokku git:from-archive shop on server web-2"),
            std::string::npos);
  EXPECT_TRUE(rt->ListInstances().empty());
}

TEST_F(DokkuRuntimeArgv, ADeployTimeoutNamesTheCommandAndDeadline) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  runner_.On({"git:from-archive"}, {.timed_out = true});
  auto st = rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(75));
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(st.status().message().find("dokku git:from-archive shop did not finish within 75 s"),
            std::string::npos)
      << st.status();
}

TEST_F(DokkuRuntimeArgv, WhatDokkuRunsDecidesInstanceStates) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"a", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.On({"ps:report"}, {.out = PsJson(R"js(,"status-web.1":"exited (CID: 0123456789a)")js")});
  auto list = rt->ListInstances();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, InstanceState::kStopped);
  EXPECT_NE(list[0].last_error.find("exited"), std::string::npos);
  runner_.On({"ps:report"}, {.out = PsJson("")});
  list = rt->ListInstances();
  EXPECT_EQ(list[0].state, InstanceState::kStopped);
  EXPECT_NE(list[0].last_error.find("no web.1 container"), std::string::npos) << list[0].last_error;
}

TEST_F(DokkuRuntimeArgv, DestroyForcesReadsBackAndAGoneAppIsFine) {
  auto rt = Open();
  runner_.Once({"apps:exists"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  ASSERT_TRUE(rt->DestroyApp("shop").ok());
  runner_.On({"apps:destroy"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  ASSERT_TRUE(rt->DestroyApp("shop").ok());
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"apps:destroy", "shop", "--force"},
                                                {"apps:exists", "shop"},
                                                {"apps:destroy", "shop", "--force"}}));
  // Still there after a destroy that said it worked: an error.
  runner_.On({"apps:destroy"}, {});
  absl::Status s = rt->DestroyApp("shop");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(),
            "after apps:destroy Dokku on server web-2 still has app shop (apps:exists)");
}

TEST_F(DokkuRuntimeArgv, LogsAskForTheProcessAndMapDynosToInstances) {
  auto rt = Open();
  ASSERT_TRUE(rt->PrepareRelease(Release(1), nullptr).ok());
  ASSERT_TRUE(rt->StartInstance({"shop-web-1-1", "shop", "web", 1, 0}, seconds(30)).ok());
  runner_.Clear();
  runner_.On({"logs"}, {.out = "\x1b[36m2026-11-23T14:35:56.000000001Z app[web.1]:\x1b[0m hi\n"});
  auto lines = rt->Logs("shop", "web", 20);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(runner_.calls(), (std::vector<Args>{{"logs", "shop", "--num", "20", "--ps", "web"}}));
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_EQ((*lines)[0].instance, "shop-web-1-1");
  EXPECT_EQ((*lines)[0].text, "hi");
}

TEST_F(DokkuRuntimeArgv, ConfigValuesDokkuPrintsNeverReachTheOutput) {
  auto rt = Open();
  ReleaseSpec spec = Release(1, {{"DB_PASSWORD", "hunter2-s3cret"}});
  ASSERT_TRUE(rt->PrepareRelease(spec, nullptr).ok());
  runner_.Clear();
  runner_.Once({"config:export"}, {.out = "{}\n"});
  runner_.Once({"config:export"}, {.out = R"js({"DB_PASSWORD":"hunter2-s3cret"})js"});
  // What real Dokku prints (transcript #24): every value it sets.
  runner_.Once({"config:set"}, {.out = "-----> Setting config vars\n       DB_PASSWORD:  "
                                       "hunter2-s3cret\n"});
  std::string printed;
  auto st = rt->StartInstanceStreaming(
      {.id = "shop-web-1-1", .app = "shop", .process = "web", .release = 1}, seconds(75),
      [&](const std::string& text) { printed += text; });
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("DB_PASSWORD (values not shown)"), std::string::npos) << printed;
}

}  // namespace
}  // namespace dflow::agent
