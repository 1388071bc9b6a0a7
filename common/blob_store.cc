#include "common/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"

namespace dflow {

std::string MiB(int64_t bytes) { return absl::StrFormat("%.1f MiB", bytes / 1048576.0); }

std::string BlobStore::Path(const std::string& digest) const {
  return absl::StrCat(dir_, "/", digest, ".tar.gz");
}

bool BlobStore::Has(const std::string& digest) const {
  if (digest.size() != 64) return false;
  return FileExists(Path(digest));
}

absl::StatusOr<std::unique_ptr<BlobStore::Writer>> BlobStore::NewWriter(int64_t limit_bytes) {
  if (auto s = EnsureDir(dir_, 0700); !s.ok()) return s;
  static std::atomic<int> counter{0};
  std::string tmp = absl::StrCat(dir_, "/.incoming-", getpid(), "-", counter++);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", tmp));
  return std::unique_ptr<Writer>(new Writer(this, tmp, fd, limit_bytes));
}

BlobStore::Writer::~Writer() {
  if (fd_ >= 0) {
    close(fd_);
    unlink(tmp_path_.c_str());
  }
}

absl::Status BlobStore::Writer::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer already finished");
  size_ += static_cast<int64_t>(data.size());
  if (size_ > limit_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the upload is larger than the limit of ", MiB(limit_),
        "; make the source smaller (a .dockerignore-style cleanup, no build outputs) or raise "
        "the controller's --max-upload"));
  }
  sha_.Update(data);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd_, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", tmp_path_));
    off += n;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::Writer::Commit(const std::string& expected_digest) {
  if (fd_ < 0) return absl::FailedPreconditionError("blob writer already finished");
  std::string digest = sha_.HexDigest();
  if (!expected_digest.empty() && digest != expected_digest) {
    return absl::DataLossError(
        absl::StrCat("archive digest mismatch: expected ", expected_digest, ", received ", digest));
  }
  if (fsync(fd_) != 0) return absl::ErrnoToStatus(errno, "cannot flush the upload");
  close(fd_);
  fd_ = -1;
  if (rename(tmp_path_.c_str(), store_->Path(digest).c_str()) != 0) {
    absl::Status s = absl::ErrnoToStatus(errno, "cannot store the upload");
    unlink(tmp_path_.c_str());
    return s;
  }
  return digest;
}

}  // namespace dflow
