#include "agent/runtime/dokku_test_support.h"

#include <cstdlib>

namespace dflow::agent::testing {

void ScriptedRunner::On(Args prefix, Reply reply) {
  std::lock_guard lock(mu_);
  script_.emplace_back(std::move(prefix), std::move(reply));
}

void ScriptedRunner::Once(Args prefix, Reply reply) {
  std::lock_guard lock(mu_);
  once_.emplace_back(std::move(prefix), std::move(reply));
}

absl::StatusOr<ProcessResult> ScriptedRunner::Run(const ProcessSpec& spec) {
  if (!spec.argv.empty() && spec.argv[0] == "tar") return PosixProcessRunner().Run(spec);
  Args args(spec.argv.begin() + 1, spec.argv.end());
  Reply reply{.exit_code = 127, .err = " !     unscripted call\n"};
  {
    std::lock_guard lock(mu_);
    calls_.push_back(args);
    stdins_.push_back(spec.stdin_data);
    auto matches = [&](const Args& prefix) {
      return prefix.size() <= args.size() && std::equal(prefix.begin(), prefix.end(), args.begin());
    };
    bool found = false;
    for (auto it = once_.begin(); it != once_.end(); ++it) {
      if (matches(it->first)) {
        reply = it->second;
        once_.erase(it);
        found = true;
        break;
      }
    }
    for (auto it = script_.rbegin(); !found && it != script_.rend(); ++it) {
      if (matches(it->first)) {
        reply = it->second;
        found = true;
      }
    }
  }
  ProcessResult r;
  r.exit_code = reply.timed_out ? -1 : reply.exit_code;
  r.term_signal = reply.timed_out ? 9 : 0;
  r.timed_out = reply.timed_out;
  r.stdout_data = reply.out;
  r.stderr_data = reply.err;
  if (spec.on_output) {
    if (!reply.out.empty()) spec.on_output(1, reply.out);
    if (!reply.err.empty()) spec.on_output(2, reply.err);
  }
  return r;
}

std::vector<Args> ScriptedRunner::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<std::string> ScriptedRunner::stdins() const {
  std::lock_guard lock(mu_);
  return stdins_;
}

void ScriptedRunner::Clear() {
  std::lock_guard lock(mu_);
  calls_.clear();
  stdins_.clear();
}

DoubleRunner::DoubleRunner(std::string state_dir, std::string version) {
  const char* path = std::getenv("PATH");
  env_["PATH"] = path != nullptr ? path : "/usr/bin:/bin";
  env_["FAKE_DOKKU_STATE"] = std::move(state_dir);
  env_["FAKE_DOKKU_VERSION"] = std::move(version);
}

absl::StatusOr<ProcessResult> DoubleRunner::Run(const ProcessSpec& spec) {
  ProcessSpec s = spec;
  s.env = env_;
  {
    std::lock_guard lock(mu_);
    calls_.emplace_back(spec.argv.begin() + 1, spec.argv.end());
  }
  return real_.Run(s);
}

std::vector<Args> DoubleRunner::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

void DoubleRunner::Clear() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

}  // namespace dflow::agent::testing
