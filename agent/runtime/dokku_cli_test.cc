// DokkuCli: versions, and every way a Dokku run ends mapped to a Status.
#include "agent/runtime/dokku_cli.h"

#include <gtest/gtest.h>

#include "agent/runtime/dokku_test_support.h"

namespace dflow::agent {
namespace {

using testing::Args;
using testing::Reply;
using testing::ScriptedRunner;

TEST(DokkuVersion, ParsesWhatDokkuPrints) {
  struct Case {
    const char* text;
    const char* want;  // nullptr: an error
  };
  for (const Case& c : std::vector<Case>{{"dokku version 0.38.27\n", "0.38.27"},
                                         {"dokku version v0.35.12", "0.35.12"},
                                         {"dokku version 0.36.0-dev\n", "0.36.0"},
                                         {"0.34.9", "0.34.9"},
                                         {"dokku version master", nullptr},
                                         {"", nullptr}}) {
    auto v = ParseDokkuVersion(c.text);
    if (c.want == nullptr) {
      EXPECT_FALSE(v.ok()) << c.text;
    } else {
      ASSERT_TRUE(v.ok()) << c.text << ": " << v.status();
      EXPECT_EQ(v->ToString(), c.want);
    }
  }
  EXPECT_TRUE((DokkuVersion{0, 38, 8}.AtLeast(0, 38, 8)));
  EXPECT_FALSE((DokkuVersion{0, 38, 7}.AtLeast(0, 38, 8)));
  EXPECT_FALSE((DokkuVersion{0, 34, 99}.AtLeast(0, 35, 0)));
  EXPECT_TRUE((DokkuVersion{1, 0, 0}.AtLeast(0, 35, 0)));
}

class DokkuCliTest : public ::testing::Test {
 protected:
  ScriptedRunner runner_;
  DokkuCli cli_{&runner_, "dokku", "web-2"};
};

TEST_F(DokkuCliTest, Exit20IsNotFoundNamingAppAndServer) {
  runner_.On({"config:export"}, {.exit_code = 20, .err = " !     App shop does not exist\n"});
  auto r = cli_.Run({.args = {"config:export", "--format", "json", "shop"}, .app = "shop"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "app \"shop\" does not exist on server web-2");
}

TEST_F(DokkuCliTest, BangLinesBecomeTheMessageAndValuesStayOut) {
  // Transcript #28: an invalid key.
  runner_.On({"config:set"}, {.exit_code = 1, .err = " !     Invalid key name: '1BAD'\n"});
  auto r = cli_.Run(
      {.args = {"config:set", "--encoded", "shop", "1BAD=c2VjcmV0LXZhbHVl"}, .app = "shop"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "Invalid key name: '1BAD' (dokku config:set shop on server web-2 exited with code 1)");
  EXPECT_EQ(r.status().message().find("c2VjcmV0"), std::string::npos);
}

TEST_F(DokkuCliTest, SeveralBangLinesAreJoined) {
  // Transcript #105: a warning, then the error.
  runner_.On({"storage:ensure-directory"},
             {.exit_code = 1,
              .err = " !     Deprecated: please use 'storage:create' instead of "
                     "'storage:ensure-directory'\n !     Directory can only contain the following "
                     "set of characters: [A-Za-z0-9_-]\n"});
  auto r = cli_.Run({.args = {"storage:ensure-directory", "bad/name"}});
  EXPECT_EQ(r.status().message(),
            "Deprecated: please use 'storage:create' instead of 'storage:ensure-directory'; "
            "Directory can only contain the following set of characters: [A-Za-z0-9_-] (dokku "
            "storage:ensure-directory on server web-2 exited with code 1)");
}

TEST_F(DokkuCliTest, GoUsageErrorsWithoutBangLinesKeepTheirLastLines) {
  // Transcript #127: exit 2 and pflag's usage text.
  runner_.On({"resource:limit"},
             {.exit_code = 2,
              .err = "Usage of resource:limit:\n      --cpu string   cpu: The amount of cpu to "
                     "limit processes by\nunknown flag: --bogus\n"});
  auto r = cli_.Run({.args = {"resource:limit", "--bogus", "1", "shop"}, .app = "shop"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("unknown flag: --bogus"), std::string::npos);
  EXPECT_NE(r.status().message().find("exited with code 2"), std::string::npos);
}

TEST_F(DokkuCliTest, SilentFailureSaysSo) {
  // Transcript #38: config:get of an unset key exits 1 and prints nothing.
  runner_.On({"config:get"}, {.exit_code = 1});
  auto r = cli_.Run({.args = {"config:get", "shop", "NOT_SET"}, .app = "shop"});
  EXPECT_EQ(r.status().message(),
            "dokku config:get shop on server web-2 exited with code 1 and printed no error");
}

TEST_F(DokkuCliTest, WarningsOnSuccessAreKeptAndStreamed) {
  // Transcript #5: apps:create succeeds with a ` !` line on stderr.
  runner_.On({"apps:create"}, {.out = "-----> Creating demo-app...\n",
                               .err = " !     No web listeners specified for demo-app\n"});
  std::string streamed;
  auto r = cli_.Run({.args = {"apps:create", "demo-app"},
                     .app = "demo-app",
                     .out = [&](const std::string& t) { streamed += t; }});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->warnings, std::vector<std::string>{"No web listeners specified for demo-app"});
  EXPECT_NE(streamed.find("Creating demo-app"), std::string::npos);
  EXPECT_NE(streamed.find("No web listeners"), std::string::npos);
}

TEST_F(DokkuCliTest, TimeoutNamesCommandAndDeadline) {
  runner_.On({"git:from-archive"}, {.timed_out = true});
  auto r = cli_.Run({.args = {"git:from-archive", "--archive-type", "tar.gz", "shop", "--"},
                     .app = "shop",
                     .deadline = std::chrono::seconds(75)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(
      r.status().message(),
      "dokku git:from-archive shop did not finish within 75 s on server web-2 and was killed");
}

TEST(DokkuCliReal, ADeadlineKillsTheCommand) {
  PosixProcessRunner posix;
  DokkuCli cli(&posix, "sleep", "web-2");
  auto start = std::chrono::steady_clock::now();
  auto r = cli.Run({.args = {"30"}, .deadline = std::chrono::milliseconds(200)});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("within 200 ms"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(DokkuCliReal, AMissingBinaryIsNamed) {
  PosixProcessRunner posix;
  DokkuCli cli(&posix, "/nonexistent/dokku", "web-2");
  auto v = cli.Version();
  EXPECT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("/nonexistent/dokku"), std::string::npos) << v.status();
}

}  // namespace
}  // namespace dflow::agent
