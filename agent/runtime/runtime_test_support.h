// Helpers for the runtime tests: temp dirs, source archives packed with real
// `tar`, waiting on conditions with deadlines, and small Python apps.
#ifndef DFLOW_AGENT_RUNTIME_RUNTIME_TEST_SUPPORT_H_
#define DFLOW_AGENT_RUNTIME_RUNTIME_TEST_SUPPORT_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "agent/runtime/runtime.h"

namespace dflow::agent::testing {

// A fresh directory, removed (with everything below it) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes `files` (relative path -> content; names ending in .sh are made
// executable) into a new directory under `dir`, packs it with
// `tar -czf … -C src .` and fills archive_path and source_digest.
ReleaseSpec MakeRelease(const std::string& dir, const std::string& app, int64_t version,
                        const std::map<std::string, std::string>& files);

// Polls `cond` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond,
             std::chrono::milliseconds timeout = std::chrono::seconds(15));

// A web app (Python stdlib): answers "<instance> <release> <pid>" on /, 200 on
// /health unless HEALTH_FAIL is set, exits with code 3 on /crash, prints
// N numbered lines on /spam?N. It prints "listening on PORT" when it starts.
extern const char kWebApp[];

// How many of our processes carry NAME=VALUE in their environment.
int CountProcessesWithEnv(const std::string& assignment);

// The first line of /proc/<pid>/limits that starts with `name`, or "".
std::string ProcLimit(int pid, const std::string& name);

}  // namespace dflow::agent::testing

#endif  // DFLOW_AGENT_RUNTIME_RUNTIME_TEST_SUPPORT_H_
