// Runners for the DokkuRuntime tests: one answering from a script (exact argv
// assertions, any exit code or output), one running the Dokku test double
// (tests/fakes/fake_dokku) on a state directory. Both record every argv.
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_TEST_SUPPORT_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_TEST_SUPPORT_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/process.h"

namespace dflow::agent::testing {

using Args = std::vector<std::string>;

struct Reply {
  int exit_code = 0;
  std::string out{};
  std::string err{};
  bool timed_out = false;
};

// Records argv (without argv[0]) and stdin of every run; `tar` runs for real.
class ScriptedRunner : public ProcessRunner {
 public:
  // The reply for calls whose argv starts with `prefix` (the newest match wins).
  void On(Args prefix, Reply reply);
  // A reply used once, before any On() reply, in the order given.
  void Once(Args prefix, Reply reply);
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
  // Dokku calls only, in order.
  std::vector<Args> calls() const;
  std::vector<std::string> stdins() const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<Args, Reply>> script_;
  std::vector<std::pair<Args, Reply>> once_;
  std::vector<Args> calls_;
  std::vector<std::string> stdins_;
};

// Runs argv[0] (the double) with FAKE_DOKKU_* set; records argv without argv[0].
class DoubleRunner : public ProcessRunner {
 public:
  DoubleRunner(std::string state_dir, std::string version);
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
  std::vector<Args> calls() const;
  void Clear();
  const std::map<std::string, std::string>& env() const { return env_; }

 private:
  std::map<std::string, std::string> env_;
  PosixProcessRunner real_;
  mutable std::mutex mu_;
  std::vector<Args> calls_;
};

}  // namespace dflow::agent::testing

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_TEST_SUPPORT_H_
