// Tests of the CLI's pure parts: argument parsing, the source archive,
// messages and progress output. Commands end to end: commands_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "cli/archive.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "cli/test_util.h"
#include "common/blob_store.h"

namespace dflow::cli {
namespace {

namespace fs = std::filesystem;

// Records every argv; "packs" by writing a small file where tar would.
class FakeRunner : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override {
    runs.push_back(spec.argv);
    ProcessResult r;
    r.exit_code = exit_code;
    r.stderr_data = stderr_data;
    if (exit_code == 0) std::ofstream(spec.argv[4]) << "fake archive";
    return r;
  }
  std::vector<std::vector<std::string>> runs;
  int exit_code = 0;
  std::string stderr_data;
};

TEST(ParseScale, AcceptsTypeEqualsCount) {
  auto got = ParseScale({"web=2", "worker=0", "queue_2-x=1000"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, (std::map<std::string, int32_t>{{"web", 2}, {"worker", 0}, {"queue_2-x", 1000}}));
}

TEST(ParseScale, RefusesWithWhatIsAllowed) {
  struct Case {
    std::vector<std::string> pairs;
    std::string message;
  } cases[] = {
      {{"web=-1"}, "\"web=-1\" is not allowed: the count must be a whole number from 0 to 1000"},
      {{"web=1001"},
       "\"web=1001\" is not allowed: the count must be a whole number from 0 to 1000"},
      {{"web=two"}, "\"web=two\" is not allowed: the count must be a whole number from 0 to 1000"},
      {{"web="}, "\"web=\" is not allowed: the count must be a whole number from 0 to 1000"},
      {{"web=+2"}, "\"web=+2\" is not allowed: the count must be a whole number from 0 to 1000"},
      {{"web"}, "\"web\" must be written TYPE=COUNT (for example web=2)"},
      {{"=2"},
       "\"=2\" is not allowed: the process type must be 1 to 63 letters, digits, '_' or '-' (for "
       "example web=2)"},
      {{"we b=2"},
       "\"we b=2\" is not allowed: the process type must be 1 to 63 letters, digits, '_' or '-' "
       "(for example web=2)"},
      {{"web=1", "web=2"}, "process type web is given twice: give each type once"},
      {{"release=1"},
       "\"release=1\" is not allowed: the release process runs once per release, before "
       "instances switch, so it cannot be scaled (scale the types that serve, for example web=2)"},
  };
  for (const auto& c : cases) {
    auto got = ParseScale(c.pairs);
    ASSERT_FALSE(got.ok()) << c.pairs[0];
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(), c.message);
  }
}

TEST(ParseVersion, AcceptsVnAndN) {
  struct Case {
    const char* text;
    int64_t want;  // 0: refused
  } cases[] = {{"v3", 3},
               {"3", 3},
               {"V12", 12},
               {"v1", 1},
               {"v0", 0},
               {"0", 0},
               {"", 0},
               {"v", 0},
               {"3a", 0},
               {"-1", 0},
               {"vv3", 0},
               {"v 3", 0},
               {"99999999999999999999", 0}};
  for (const auto& c : cases) {
    auto got = ParseVersion(c.text);
    if (c.want == 0) {
      ASSERT_FALSE(got.ok()) << c.text;
      EXPECT_TRUE(absl::StrContains(got.status().message(), "use vN or N with N at least 1"))
          << got.status();
    } else {
      ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
      EXPECT_EQ(*got, c.want) << c.text;
    }
  }
}

TEST(ParseOpId, WholeNumbersOnly) {
  EXPECT_EQ(*ParseOpId("42"), 42);
  for (const char* bad : {"0", "", "x", "4 2", "-3", "v4"}) {
    auto got = ParseOpId(bad);
    ASSERT_FALSE(got.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(got.status().message(), "`dflow ops ls`"));
  }
}

TEST(ConfigKeys, ValidatedWithWhatIsAllowed) {
  auto pairs = ParseConfigPairs({"GREETING=hi there", "URL=a=b", "EMPTY=", "_x1=y"});
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_EQ(*pairs, (std::map<std::string, std::string>{
                        {"GREETING", "hi there"}, {"URL", "a=b"}, {"EMPTY", ""}, {"_x1", "y"}}));

  const std::string allowed =
      "\" is not allowed: use letters, digits and underscores, not starting with a digit (for "
      "example DATABASE_URL)";
  EXPECT_EQ(ParseConfigPairs({"1BAD=x"}).status().message(), "config key \"1BAD" + allowed);
  EXPECT_EQ(ParseConfigPairs({"A-B=x"}).status().message(), "config key \"A-B" + allowed);
  EXPECT_EQ(ParseConfigPairs({"=x"}).status().message(), "config key \"" + allowed);
  EXPECT_EQ(ParseConfigPairs({"GREETING"}).status().message(),
            "\"GREETING\" must be written KEY=VALUE (for example GREETING=hi); to remove a key "
            "use `dflow config unset`");
  EXPECT_EQ(ParseConfigPairs({"A=1", "A=2"}).status().message(),
            "config key A is given twice: give each key once");

  EXPECT_TRUE(ValidateConfigKeys({"A", "_B", "c9"}).ok());
  EXPECT_EQ(ValidateConfigKeys({"OK", "NOT.OK"}).message(), "config key \"NOT.OK" + allowed);
}

TEST(ParseByteSize, BinaryUnits) {
  struct Case {
    const char* text;
    int64_t want;  // 0: refused
  } cases[] = {{"256M", 256LL << 20},
               {"1.5g", 3LL << 29},
               {"512KiB", 512LL << 10},
               {"2GB", 2LL << 30},
               {"1k", 1024},
               {"100mi", 100LL << 20},
               {"256", 0},
               {"0M", 0},
               {"-1M", 0},
               {"M", 0},
               {"12X", 0},
               {"1.5.3M", 0},
               {"1MBB", 0},
               {"2000G", 0}};
  for (const auto& c : cases) {
    auto got = ParseByteSize("--memory", c.text);
    if (c.want == 0) {
      ASSERT_FALSE(got.ok()) << c.text;
      EXPECT_TRUE(absl::StartsWith(got.status().message(), absl::StrCat("--memory \"", c.text)))
          << got.status();
    } else {
      ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
      EXPECT_EQ(*got, c.want) << c.text;
    }
  }
  EXPECT_EQ(ParseByteSize("--memory", "256").status().message(),
            "--memory \"256\" is not a size: use a positive number and a unit K, M or G (for "
            "example 256M or 1.5G)");
  EXPECT_EQ(FormatByteSize(100LL << 20), "100 MiB");
  EXPECT_EQ(FormatByteSize((100LL << 20) + (512LL << 10)), "100.5 MiB");
  EXPECT_EQ(FormatByteSize(2LL << 30), "2 GiB");
  EXPECT_EQ(FormatByteSize(999), "999 B");
}

TEST(AppSettings, CpusHealthPathStrategyConstraints) {
  EXPECT_DOUBLE_EQ(*ParseCpus("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseCpus("2"), 2);
  for (const char* bad : {"0", "-1", "abc", "nan", "inf", "1025"}) {
    EXPECT_FALSE(ParseCpus(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateHealthPath("/health").ok());
  EXPECT_TRUE(ValidateHealthPath("/up?full=1").ok());
  EXPECT_FALSE(ValidateHealthPath("health").ok());
  EXPECT_FALSE(ValidateHealthPath("/a b").ok());
  EXPECT_FALSE(ValidateHealthPath("/a\n").ok());
  EXPECT_TRUE(ValidateStrategy("spread").ok());
  EXPECT_TRUE(ValidateStrategy("binpack").ok());
  EXPECT_TRUE(absl::StrContains(ValidateStrategy("pack").message(), "use spread"));

  auto c = ParseConstraints({"tier=beefy", "zone=eu-1"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->at("tier"), "beefy");
  EXPECT_EQ(ParseConstraints({"tier"}).status().message(),
            "--constraint \"tier\" must be written key=value (for example tier=beefy)");
  EXPECT_TRUE(absl::StartsWith(ParseConstraints({"Tier=x"}).status().message(),
                               "--constraint: label key \"Tier\" is not allowed"));
  EXPECT_TRUE(absl::StrContains(ParseConstraints({"t=a", "t=b"}).status().message(), "twice"));
}

TEST(SourceDir, RefusesMissingDirAsUsageError) {
  TempDir tmp;
  absl::Status s = CheckSourceDir(tmp.path() + "/nope");
  EXPECT_TRUE(IsUsageError(s)) << s;
  EXPECT_EQ(UsageMessage(s), "--path \"" + tmp.path() +
                                 "/nope\" does not exist: give the directory that holds your "
                                 "app's Procfile (for example --path examples/hello)");
  tmp.Write("file.txt", "x");
  s = CheckSourceDir(tmp.path() + "/file.txt");
  EXPECT_TRUE(IsUsageError(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "is not a directory"));
}

TEST(SourceArchive, RefusesDirWithoutProcfileBeforeRunningTar) {
  TempDir tmp;
  tmp.Write("app.py", "print('hi')\n");
  tmp.Write("procfile.txt", "web: no\n");
  FakeRunner runner;
  auto got = SourceArchive::Pack(tmp.path(), runner);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(IsUsageError(got.status()));
  EXPECT_EQ(got.status().message(),
            "\"" + tmp.path() +
                "\" has no Procfile, so there is nothing to run: add a file named Procfile with a "
                "line like `web: python3 app.py` (see examples/hello); nothing was uploaded");
  EXPECT_TRUE(runner.runs.empty());
}

TEST(SourceArchive, RunsTarAsArgvWithoutShell) {
  TempDir src;
  src.Write("Procfile", "web: python3 app.py\n");
  FakeRunner runner;
  auto got = SourceArchive::Pack(src.path(), runner);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(runner.runs.size(), 1u);
  const std::string out = (*got)->path();
  EXPECT_EQ(runner.runs[0],
            (std::vector<std::string>{"tar", "--create", "--gzip", "--file", out, "--exclude=.git",
                                      "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                                      "--directory", src.path(), "."}));
  EXPECT_EQ((*got)->size_bytes(), 12);  // "fake archive"

  // The temporary directory goes with the archive.
  std::string dir = fs::path(out).parent_path().string();
  EXPECT_TRUE(fs::exists(dir));
  got->reset();
  EXPECT_FALSE(fs::exists(dir));
}

TEST(SourceArchive, TarFailureSaysWhy) {
  TempDir src;
  src.Write("Procfile", "web: x\n");
  FakeRunner runner;
  runner.exit_code = 2;
  runner.stderr_data = "tar: ./secret: Cannot open: Permission denied\n";
  auto got = SourceArchive::Pack(src.path(), runner);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(),
            "packing \"" + src.path() + "\" failed: tar: ./secret: Cannot open: Permission denied");
}

TEST(SourceArchive, RealTarExcludesGitEverywhere) {
  TempDir src;
  src.Write("Procfile", "web: python3 app.py\n");
  src.Write("app.py", "print('hi')\n");
  src.Write(".git/HEAD", "ref: refs/heads/main\n");
  src.Write(".git/objects/ab/cdef", "blob");
  src.Write("vendor/lib/.git/config", "[core]\n");
  src.Write("vendor/lib/lib.py", "x = 1\n");
  src.Write(".gitignore", "*.pyc\n");
  PosixProcessRunner runner;
  auto got = SourceArchive::Pack(src.path(), runner);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_GT((*got)->size_bytes(), 0);

  auto listing = runner.Run({.argv = {"tar", "--list", "--gzip", "--file", (*got)->path()}});
  ASSERT_TRUE(listing.ok()) << listing.status();
  ASSERT_EQ(listing->exit_code, 0) << listing->stderr_data;
  std::vector<std::string> members = absl::StrSplit(listing->stdout_data, '\n', absl::SkipEmpty());
  std::set<std::string> got_members(members.begin(), members.end());
  for (const char* want : {"./Procfile", "./app.py", "./.gitignore", "./vendor/lib/lib.py"}) {
    EXPECT_TRUE(got_members.count(want)) << want << " missing from:\n" << listing->stdout_data;
  }
  for (const auto& m : members) {
    EXPECT_FALSE(absl::StrContains(m, ".git/") || absl::EndsWith(m, "/.git"))
        << m << " should have been excluded";
  }
}

TEST(Upload, ClientLimitMessageIsTheControllers) {
  TempDir tmp;
  const int64_t limit = 1 << 20;
  BlobStore store(tmp.path());
  auto writer = store.NewWriter(limit);
  ASSERT_TRUE(writer.ok());
  absl::Status server = (*writer)->Append(std::string(limit + 1, 'x'));
  absl::Status client = UploadTooLarge(limit);
  EXPECT_EQ(server.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client.code(), server.code());
  EXPECT_EQ(client.message(), server.message());
  EXPECT_TRUE(absl::StrContains(client.message(), "1.0 MiB"));
}

TEST(Output, TimesAndReleases) {
  EXPECT_TRUE(JsonTime(0).is_null());
  EXPECT_EQ(JsonTime(1'700'000'000'123).get<std::string>(), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(HumanTime(0), "-");
  EXPECT_EQ(ReleaseName(3), "v3");
  EXPECT_EQ(ReleaseName(0), "-");
  EXPECT_EQ(PairsText({{"b", "2"}, {"a", "1"}}), "a=1,b=2");
  EXPECT_EQ(PairsText({}), "-");
}

TEST(Output, ProgressBar) {
  EXPECT_EQ(RenderProgressBar("upload", 512, 1024, 10),
            "upload [#####     ]  50%  512 B / 1.0 KiB");
  EXPECT_EQ(RenderProgressBar("upload", 0, 0, 4), "upload [####] 100%  0 B / 0 B");

  std::ostringstream plain;
  Progress p(plain, /*terminal=*/false, "upload", 400);
  for (int64_t done : {50, 100, 150, 300, 400}) p.Update(done);
  p.Finish();
  EXPECT_EQ(plain.str(),
            "upload: 400 B\n"
            "upload: 25% (100 B of 400 B)\n"
            "upload: 75% (300 B of 400 B)\n"
            "upload: done (400 B)\n");

  std::ostringstream tty;
  Progress t(tty, /*terminal=*/true, "upload", 100);
  t.Update(100);
  t.Finish();
  EXPECT_TRUE(absl::StartsWith(tty.str(), "\rupload ["));
  EXPECT_TRUE(absl::EndsWith(tty.str(), "100%  100 B / 100 B\n"));
}

TEST(Ops, OutcomeCarriesTheOperationsError) {
  EXPECT_TRUE(OpOutcome(7, "succeeded", "").ok());
  absl::Status failed = OpOutcome(7, "failed", "web on local-1 never answered /health");
  EXPECT_FALSE(IsUsageError(failed));
  EXPECT_EQ(failed.message(),
            "operation 7 failed: web on local-1 never answered /health\n"
            "see its steps with `dflow ops show 7`");
  EXPECT_TRUE(absl::StartsWith(OpOutcome(8, "rolled_back", "x").message(),
                               "operation 8 failed and was rolled back: x"));
  EXPECT_TRUE(
      absl::StartsWith(OpOutcome(9, "cancelled", "").message(), "operation 9 was cancelled\n"));
  EXPECT_TRUE(OpEnded("rolled_back"));
  EXPECT_FALSE(OpEnded("running"));
}

}  // namespace
}  // namespace dflow::cli
