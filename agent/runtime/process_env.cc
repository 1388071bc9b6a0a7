#include "agent/runtime/process_env.h"

#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dflow::agent {

std::map<std::string, std::string> BaseEnv(const std::string& home_fallback) {
  std::map<std::string, std::string> env;
  for (const char* key : {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR"}) {
    if (const char* value = std::getenv(key); value != nullptr) env[key] = value;
  }
  env.emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.emplace("HOME", home_fallback);
  return env;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return absl::StrCat("was killed by signal ", WTERMSIG(status),
                        name != nullptr ? absl::StrCat(" (", name, ")") : "");
  }
  return "ended";
}

std::string HumanDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms < 1000) return absl::StrCat(ms, "ms");
  if (ms % 60000 == 0) return absl::StrCat(ms / 60000, "m");
  if (ms % 1000 == 0) return absl::StrCat(ms / 1000, "s");
  return absl::StrFormat("%.1fs", ms / 1000.0);
}

std::string LastLines(const std::string& text, int n) {
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '\n') --end;
  size_t pos = end;
  for (int i = 0; i < n && pos > 0; ++i) {
    size_t nl = text.rfind('\n', pos - 1);
    pos = nl == std::string::npos ? 0 : nl;
    if (nl == std::string::npos) break;
  }
  if (pos > 0 || (pos < end && text[pos] == '\n')) ++pos;
  return text.substr(pos, end - pos);
}

}  // namespace dflow::agent
