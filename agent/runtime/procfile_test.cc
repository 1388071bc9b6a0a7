#include "agent/runtime/procfile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dflow::agent {
namespace {

using ::testing::HasSubstr;

TEST(ProcfileTest, ParsesTypesAndSkipsCommentsAndBlanks) {
  auto entries = ParseProcfile(
      "# comment\n\nweb: python3 app.py\n  worker:  ./work.sh  \n"
      "release: ./migrate\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].type, "web");
  EXPECT_EQ((*entries)[0].command, "python3 app.py");
  EXPECT_EQ((*entries)[0].line, 3);
  EXPECT_EQ((*entries)[1].command, "./work.sh");
  EXPECT_EQ((*entries)[2].type, "release");
}

TEST(ProcfileTest, RefusesMalformedFilesNamingTheLine) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"web python3 app.py\n", "Procfile line 1: expected `type: command`"},
           {"web:\n", "line 1: process type \"web\" has no command"},
           {"w b: x\n", "line 1: process type \"w b\" may only use"},
           {"web: a\nweb: b\n", "line 2: process type \"web\" is defined twice (first on line 1)"},
           {"# only a comment\n", "Procfile has no process types"},
       }) {
    auto entries = ParseProcfile(c.text);
    ASSERT_FALSE(entries.ok()) << c.text;
    EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(entries.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(ProcfileTest, ExpandsWordsQuotesAndVariablesWithoutAShell) {
  const std::map<std::string, std::string> env = {{"PORT", "8080"}, {"NAME", "a b"}, {"EMPTY", ""}};
  struct Case {
    const char* command;
    std::vector<std::string> argv;
  };
  for (const Case& c : std::vector<Case>{
           {"python3 -m http.server $PORT", {"python3", "-m", "http.server", "8080"}},
           {"echo ${NAME}", {"echo", "a b"}},  // never split further
           {"echo \"$NAME!\" '$NAME'", {"echo", "a b!", "$NAME"}},
           {"echo ${MISSING:-dflt} ${EMPTY:-e}", {"echo", "dflt", "e"}},
           {"echo $MISSING x", {"echo", "x"}},  // an empty unquoted word disappears
           {"echo \"\" x", {"echo", "", "x"}},  // a quoted empty word stays
           {"echo a\\ b *.txt ~", {"echo", "a b", "*.txt", "~"}},
           {"run x # comment", {"run", "x"}},
       }) {
    auto line = ExpandCommand(c.command, env);
    ASSERT_TRUE(line.ok()) << c.command << ": " << line.status();
    EXPECT_EQ(line->argv, c.argv) << c.command;
  }
  auto assigned = ExpandCommand("A=1 B=$PORT ./run", env);
  ASSERT_TRUE(assigned.ok());
  EXPECT_EQ(assigned->argv, std::vector<std::string>{"./run"});
  EXPECT_EQ(assigned->assignments, (std::map<std::string, std::string>{{"A", "1"}, {"B", "8080"}}));
}

TEST(ProcfileTest, RefusesWhatNeedsAShell) {
  for (const char* command :
       {"a | b", "a && b", "a; b", "a > log", "a &", "$(date)", "`date`", "(a)", "echo \"`x`\""}) {
    auto line = ExpandCommand(command, {});
    ASSERT_FALSE(line.ok()) << command;
    EXPECT_THAT(std::string(line.status().message()), HasSubstr("needs a shell")) << command;
  }
  EXPECT_THAT(std::string(ExpandCommand("echo 'open", {}).status().message()),
              HasSubstr("unterminated single quote"));
  EXPECT_THAT(std::string(ExpandCommand("", {}).status().message()),
              HasSubstr("has no program to run"));
}

}  // namespace
}  // namespace dflow::agent
