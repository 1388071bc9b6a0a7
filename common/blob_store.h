// Content-addressed files (release source archives), named by SHA-256:
// DIR/<sha256>.tar.gz. A blob is written to a temporary file, fsynced and
// renamed into place only when complete and within its size limit, so a
// reader never sees a partial blob. Thread-safe (the file system arbitrates).
#ifndef DFLOW_COMMON_BLOB_STORE_H_
#define DFLOW_COMMON_BLOB_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto.h"

namespace dflow {

class BlobStore {
 public:
  explicit BlobStore(std::string dir) : dir_(std::move(dir)) {}

  std::string Path(const std::string& digest) const;
  bool Has(const std::string& digest) const;

  class Writer {
   public:
    ~Writer();
    // ResourceExhausted once more than the limit has arrived.
    absl::Status Append(absl::string_view data);
    int64_t size() const { return size_; }
    // Completes the blob; when `expected_digest` is set it must match.
    absl::StatusOr<std::string> Commit(const std::string& expected_digest = "");

   private:
    friend class BlobStore;
    Writer(const BlobStore* store, std::string tmp_path, int fd, int64_t limit)
        : store_(store), tmp_path_(std::move(tmp_path)), fd_(fd), limit_(limit) {}
    const BlobStore* store_;
    std::string tmp_path_;
    int fd_;
    int64_t limit_;
    int64_t size_ = 0;
    Sha256 sha_;
  };

  absl::StatusOr<std::unique_ptr<Writer>> NewWriter(int64_t limit_bytes);

 private:
  std::string dir_;
};

// "100 MiB"-style text for limits in messages.
std::string MiB(int64_t bytes);

}  // namespace dflow

#endif  // DFLOW_COMMON_BLOB_STORE_H_
