// Small file-system helpers with Status errors that name the path.
#ifndef DFLOW_COMMON_FILES_H_
#define DFLOW_COMMON_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dflow {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes to a temporary file in the same directory, fsyncs, renames over `path`.
absl::Status WriteFileAtomic(const std::string& path, const std::string& data, mode_t mode);
// Creates the directory (and parents) if missing, then sets `mode` on the last one.
absl::Status EnsureDir(const std::string& path, mode_t mode);
bool FileExists(const std::string& path);
// Absolute form of `path` (relative to the current directory); does not resolve links.
std::string AbsolutePath(const std::string& path);

// An exclusive, non-blocking flock on DIR/lock held for the object's lifetime.
// The file records the holder's pid so a refused second process can name it.
class DirLock {
 public:
  static absl::StatusOr<DirLock> Acquire(const std::string& dir, const std::string& what);
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace dflow

#endif  // DFLOW_COMMON_FILES_H_
