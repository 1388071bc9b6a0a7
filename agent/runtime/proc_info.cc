#include "agent/runtime/proc_info.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"

namespace dflow::agent {

std::optional<ProcStat> ReadProcStat(int pid) {
  if (pid <= 0) return std::nullopt;
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!text.ok()) return std::nullopt;
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so
  // the fields start after the last ')'.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(*text).substr(close + 1), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state); field N is f[N - 3].
  if (f.size() < 20 || f[0].empty()) return std::nullopt;
  ProcStat st;
  st.state = f[0][0];
  if (!absl::SimpleAtoi(f[2], &st.pgid) || !absl::SimpleAtoi(f[19], &st.start_ticks)) {
    return std::nullopt;
  }
  return st;
}

const std::string& BootId() {
  static const std::string id = [] {
    auto text = ReadFile("/proc/sys/kernel/random/boot_id");
    return text.ok() ? std::string(absl::StripAsciiWhitespace(*text)) : std::string();
  }();
  return id;
}

bool IsSameProcessAlive(int pid, uint64_t start_ticks, const std::string& boot_id) {
  if (!boot_id.empty() && boot_id != BootId()) return false;
  auto st = ReadProcStat(pid);
  return st.has_value() && st->state != 'Z' && st->state != 'X' && st->start_ticks == start_ticks;
}

}  // namespace dflow::agent
