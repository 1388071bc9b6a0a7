// Runs programs as argv vectors with posix_spawn: never a shell, so no argument
// can be interpreted as shell syntax. Every run has a deadline and an output cap.
//
// ProcessRunner is an interface so tests can substitute a fake that records argv.
// PosixProcessRunner is thread-safe.
#ifndef DFLOW_COMMON_PROCESS_H_
#define DFLOW_COMMON_PROCESS_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dflow {

// Every field has an initializer (`{}` included) so that callers can use designated
// initializers without tripping GCC 12's -Wmissing-field-initializers.
struct ProcessSpec {
  std::vector<std::string> argv{};  // argv[0] is looked up in PATH when it has no '/'.
  // When set, the child's whole environment; otherwise the parent's.
  std::optional<std::map<std::string, std::string>> env{};
  std::string cwd{};         // empty: inherit
  std::string stdin_data{};  // written to the child's stdin, then closed
  std::chrono::milliseconds deadline{60000};
  size_t output_cap_bytes = 4 << 20;  // per stream; the rest is dropped, truncated=true
  // Called with each chunk of output as it arrives (stream 1 = stdout, 2 = stderr).
  std::function<void(int stream, std::string_view chunk)> on_output{};
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int term_signal = 0;
  bool timed_out = false;
  bool truncated = false;
  std::string stdout_data;
  std::string stderr_data;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs to completion (or deadline: the process group is killed with SIGKILL
  // and timed_out is set). An error Status only when the program could not start.
  virtual absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) = 0;
};

class PosixProcessRunner : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
};

// Starts a program detached from the caller's process group (its own group,
// setsid), stdout/stderr appended to `log_path` (or /dev/null when empty), stdin
// from /dev/null. Returns its pid. Used for long-running children that are
// supervised separately (app instances, test servers).
struct SpawnSpec {
  std::vector<std::string> argv{};
  std::optional<std::map<std::string, std::string>> env{};
  std::string cwd{};
  std::string log_path{};
  bool new_session = true;
};
absl::StatusOr<int> SpawnDetached(const SpawnSpec& spec);

// Looks up a program in PATH; returns the input when it contains '/'.
std::optional<std::string> FindProgram(const std::string& name);

}  // namespace dflow

#endif  // DFLOW_COMMON_PROCESS_H_
