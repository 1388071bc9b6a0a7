// DokkuCli: the one place that runs `dokku` and turns its exit codes and
// stderr into absl::Status. Every call is an argv run through a ProcessRunner
// (posix_spawn, no shell, deadline, output cap), its output streamed to the
// caller as it arrives.
//
// Errors (the exit code decides failure, as Dokku's own scripts do):
//   exit 20               NotFound: app "shop" does not exist on server web-2
//   other non-zero exit   FailedPrecondition: the ` !     ` lines of stderr (or, when
//                         there are none, the last stderr lines), then which
//                         command failed, where, and its exit code
//   deadline passed       DeadlineExceeded naming the command and the deadline
//   not startable         the runner's error (e.g. NotFound for a missing binary)
// On exit 0, ` !     ` lines are warnings: kept in DokkuOutput::warnings and
// already streamed to the caller's OutputFn like the rest of the output.
//
// Messages name only the subcommand and the app, never the other arguments,
// so a config value (base64 or not) never reaches a log or an error.
//
// Thread-safe when the runner is.
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_CLI_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_CLI_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/runtime.h"
#include "common/process.h"

namespace dflow::agent {

struct DokkuVersion {
  int major = 0, minor = 0, patch = 0;
  bool AtLeast(int a, int b, int c) const;
  std::string ToString() const;
};
// "dokku version 0.38.27" (also "v0.38.27", a "-dev" suffix) → 0.38.27.
absl::StatusOr<DokkuVersion> ParseDokkuVersion(const std::string& output);
inline constexpr DokkuVersion kMinimumDokkuVersion{0, 35, 0};

struct DokkuCommand {
  std::vector<std::string> args{};  // after the binary: {"config:set", "--encoded", "shop", …}
  std::string app{};                // named in NotFound; "" for commands without an app
  std::string stdin_data{};
  std::chrono::milliseconds deadline{std::chrono::seconds(60)};
  OutputFn out{};                // receives stdout and stderr as they arrive
  bool accept_any_exit = false;  // return the result whatever the exit code
};

struct DokkuOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
  std::vector<std::string> warnings;  // ` !` lines of a successful run, prefix removed
};

// The ` !     ` lines of `stderr`, prefix removed.
std::vector<std::string> BangLines(const std::string& stderr_text);

class DokkuCli {
 public:
  // `binary` is run as argv[0] (looked up in PATH when it has no '/').
  DokkuCli(ProcessRunner* runner, std::string binary, std::string server_name);

  absl::StatusOr<DokkuOutput> Run(const DokkuCommand& command) const;
  // `dokku version`, parsed.
  absl::StatusOr<DokkuVersion> Version() const;

  const std::string& binary() const { return binary_; }
  const std::string& server() const { return server_; }

 private:
  ProcessRunner* runner_;
  std::string binary_;
  std::string server_;
};

// The status for a finished run that failed (exposed for tests).
absl::Status DokkuFailure(const DokkuCommand& command, const ProcessResult& result,
                          const std::string& server);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_CLI_H_
