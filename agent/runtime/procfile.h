// Procfiles (Heroku's format) and how their commands become argv without a shell.
//
// A Procfile holds one `type: command` per line. Types are [A-Za-z0-9_-]+; blank
// lines and lines whose first non-blank character is '#' are ignored. The type
// `release` names the release-phase command, run once per release.
//
// dflow never hands a command to a shell. ExpandCommand splits it into words the
// way a shell splits one simple command, and does nothing else:
//   - words are separated by spaces and tabs;
//   - '…' quotes literally; "…" quotes too, but expands variables, and a backslash
//     in it escapes only \ " $ and `; outside quotes a backslash escapes any character;
//   - $NAME, ${NAME} and ${NAME:-default} expand from the instance's environment
//     (the default is literal text). The value becomes part of its word and is
//     never split further; an unset variable expands to "" and an unquoted word
//     that ends up empty disappears, as in a shell;
//   - leading NAME=value words set environment variables for the command;
//   - a '#' that starts a word starts a comment.
// Everything else a shell would do is refused with a message that says so:
// pipes, lists and background (| || && & ;), redirections (< >), subshells and
// command substitution ( ( ) ` $( ) outside quotes. No globbing and no ~ expansion:
// those characters are passed through as they are.
#ifndef DFLOW_AGENT_RUNTIME_PROCFILE_H_
#define DFLOW_AGENT_RUNTIME_PROCFILE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::agent {

struct ProcfileEntry {
  std::string type;
  std::string command;
  int line = 0;  // 1-based line in the Procfile
};

// Parses a Procfile. Errors are InvalidArgument naming the line ("Procfile line 3: …").
absl::StatusOr<std::vector<ProcfileEntry>> ParseProcfile(absl::string_view text);

// True when `type` is a valid process type name ([A-Za-z0-9_-]+).
bool IsValidProcessType(absl::string_view type);

struct CommandLine {
  std::vector<std::string> argv;
  std::map<std::string, std::string> assignments;  // from leading NAME=value words
};

// Splits and expands `command` as described above. Errors are InvalidArgument and
// quote the command and the column of the problem.
absl::StatusOr<CommandLine> ExpandCommand(absl::string_view command,
                                          const std::map<std::string, std::string>& env);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_PROCFILE_H_
