// Per-instance log files: ROOT/<app>/<instance>.log, written by the instance
// itself (stdout and stderr opened O_APPEND), so it never depends on the agent
// being alive.
//
// Times: the instance writes plain text, so the agent's supervisor stamps it
// from outside. At each pass it appends a mark (offset, time) to
// <instance>.log.idx when the file has grown, the time being the file's mtime:
// every byte before `offset` was written at or before `time`. A line's time is
// that of the first mark at or after its end, i.e. when it was written, to
// within one supervisor pass while the agent runs; lines written while the
// agent was down carry the time of the last write before it came back. Lines
// not yet marked carry the file's current mtime.
//
// Rotation (by the supervisor, copy-then-truncate, which O_APPEND writers
// survive): when the file exceeds max_bytes it is copied to .log.1 (older ones
// shift to .2 … up to `keep`), with its marks, then truncated. Output written
// between the copy and the truncate is lost, as with logrotate's copytruncate.
//
// Thread-safe for one observer (the supervisor) and any number of readers; a
// reader racing a rotation may miss or repeat lines of that moment.
#ifndef DFLOW_AGENT_RUNTIME_INSTANCE_LOGS_H_
#define DFLOW_AGENT_RUNTIME_INSTANCE_LOGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace dflow::agent {

struct TimedLine {
  int64_t time_ms = 0;
  std::string text;  // without the newline
};

class InstanceLogs {
 public:
  InstanceLogs(std::string root, int64_t max_bytes, int keep)
      : root_(std::move(root)), max_bytes_(max_bytes), keep_(keep < 1 ? 1 : keep) {}

  std::string Path(const std::string& app, const std::string& id) const;
  absl::Status EnsureAppDir(const std::string& app) const;

  // What the observer last saw of one file. Starts unknown (-1).
  struct Watch {
    int64_t marked_size = -1;
  };
  // Appends one line of the agent's own (what it started, why it restarted).
  void Note(const std::string& app, const std::string& id, const std::string& text) const;
  // Marks new output and rotates the file when it is too big.
  void Observe(const std::string& app, const std::string& id, Watch* watch) const;
  // The last `n` lines of the instance's output (rotated files included), oldest first.
  std::vector<TimedLine> Tail(const std::string& app, const std::string& id, int n) const;

  // Removes the log, its rotations and marks. OK when absent.
  void Remove(const std::string& app, const std::string& id) const;
  absl::Status RemoveApp(const std::string& app) const;

 private:
  void Rotate(const std::string& path) const;

  std::string root_;
  int64_t max_bytes_;
  int keep_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_INSTANCE_LOGS_H_
