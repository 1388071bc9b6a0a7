#include "agent/facts.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/version.h"

namespace dflow::agent {
namespace {

// Value of `key` in /proc/meminfo, in bytes.
int64_t MeminfoBytes(const std::string& meminfo, absl::string_view key) {
  std::istringstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, key) || line.size() <= key.size() || line[key.size()] != ':') {
      continue;
    }
    std::vector<std::string> parts =
        absl::StrSplit(line.substr(key.size() + 1), ' ', absl::SkipEmpty());
    int64_t kib = 0;
    if (!parts.empty() && absl::SimpleAtoi(parts[0], &kib)) return kib * 1024;
  }
  return 0;
}

std::string OsName() {
  auto text = ReadFile("/etc/os-release");
  if (!text.ok()) return "Linux";
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, "PRETTY_NAME=")) {
      return std::string(absl::StripSuffix(absl::StripPrefix(line, "\""), "\""));
    }
  }
  return "Linux";
}

}  // namespace

controller::v1::Facts CollectFacts(const std::string& data_dir, const std::string& runtime,
                                   const std::string& dokku_version) {
  controller::v1::Facts f;
  f.set_cpus(static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  if (auto meminfo = ReadFile("/proc/meminfo"); meminfo.ok()) {
    f.set_memory_total_bytes(MeminfoBytes(*meminfo, "MemTotal"));
    f.set_memory_available_bytes(MeminfoBytes(*meminfo, "MemAvailable"));
  }
  struct statvfs vfs;
  if (statvfs(data_dir.c_str(), &vfs) == 0) {
    f.set_disk_total_bytes(static_cast<int64_t>(vfs.f_blocks) * vfs.f_frsize);
    f.set_disk_free_bytes(static_cast<int64_t>(vfs.f_bavail) * vfs.f_frsize);
  }
  static const std::string os = OsName();
  f.set_os(os);
  f.set_agent_version(kVersion);
  f.set_runtime(runtime);
  f.set_dokku_version(dokku_version);
  return f;
}

}  // namespace dflow::agent
