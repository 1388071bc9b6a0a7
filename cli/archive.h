// Packing an app's source directory for `dflow deploy`: a .tar.gz made by
// `tar` run as an argv (ProcessRunner: posix_spawn, no shell), without .git,
// written to a private temporary directory that is removed with the object.
#ifndef DFLOW_CLI_ARCHIVE_H_
#define DFLOW_CLI_ARCHIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/process.h"

namespace dflow::cli {

// The controller's default --max-upload; the CLI checks the same limit before
// it sends a byte (`dflow deploy --max-upload` when the controller's differs).
inline constexpr int64_t kDefaultMaxUploadBytes = 200LL
                                                  << 20;  // the controller's default --max-upload

// Refuses what cannot be deployed, before anything is packed or sent: a path
// that is missing or not a directory (a usage error, exit 2), or a directory
// without a Procfile (a failure, exit 1).
absl::Status CheckSourceDir(const std::string& dir);

// The argv that packs `dir` into `out` (gzip), leaving out every .git.
std::vector<std::string> TarArgv(const std::string& dir, const std::string& out);

// The same words the controller uses when an upload exceeds its limit.
absl::Status UploadTooLarge(int64_t limit_bytes);

class SourceArchive {
 public:
  // Checks `dir` (CheckSourceDir), then runs tar through `runner`.
  static absl::StatusOr<std::unique_ptr<SourceArchive>> Pack(const std::string& dir,
                                                             ProcessRunner& runner);
  ~SourceArchive();
  SourceArchive(const SourceArchive&) = delete;
  SourceArchive& operator=(const SourceArchive&) = delete;

  const std::string& path() const { return path_; }
  int64_t size_bytes() const { return size_bytes_; }

 private:
  SourceArchive(std::string tmp_dir, std::string path, int64_t size)
      : tmp_dir_(std::move(tmp_dir)), path_(std::move(path)), size_bytes_(size) {}
  std::string tmp_dir_;
  std::string path_;
  int64_t size_bytes_;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_ARCHIVE_H_
