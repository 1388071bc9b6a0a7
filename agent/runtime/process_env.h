// Small pieces LocalRuntime shares between its files: the environment its
// processes start from, and words for how a process ended and for durations.
#ifndef DFLOW_AGENT_RUNTIME_PROCESS_ENV_H_
#define DFLOW_AGENT_RUNTIME_PROCESS_ENV_H_

#include <chrono>
#include <map>
#include <string>

namespace dflow::agent {

// What every process inherits from the agent: PATH (a default when unset),
// HOME (`home_fallback` when unset), LANG, LC_ALL, TZ, USER, LOGNAME, TMPDIR.
std::map<std::string, std::string> BaseEnv(const std::string& home_fallback);

// "exited with code 3", "was killed by signal 9 (Killed)", from a waitpid status.
std::string DescribeWaitStatus(int status);

// "250ms", "2s", "1.5s", "2m".
std::string HumanDuration(std::chrono::milliseconds d);

// The last `n` lines of `text` (without a trailing newline).
std::string LastLines(const std::string& text, int n);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_PROCESS_ENV_H_
