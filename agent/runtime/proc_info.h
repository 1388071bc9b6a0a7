// What /proc says about a process, for telling a live instance from a recycled
// PID: a process is the same one when its PID, boot and start time (field 22 of
// /proc/<pid>/stat, clock ticks since boot) all match. Thread-safe.
#ifndef DFLOW_AGENT_RUNTIME_PROC_INFO_H_
#define DFLOW_AGENT_RUNTIME_PROC_INFO_H_

#include <cstdint>
#include <optional>
#include <string>

namespace dflow::agent {

struct ProcStat {
  char state = '?';  // R, S, D, Z (zombie), T, …
  int pgid = 0;
  uint64_t start_ticks = 0;
};

// Parses /proc/<pid>/stat; nullopt when the process does not exist.
std::optional<ProcStat> ReadProcStat(int pid);

// This boot's id (/proc/sys/kernel/random/boot_id); empty when unreadable.
const std::string& BootId();

// True when `pid` is alive (not a zombie), started at `start_ticks` and we are
// still in boot `boot_id`.
bool IsSameProcessAlive(int pid, uint64_t start_ticks, const std::string& boot_id);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_PROC_INFO_H_
