#include "agent/runtime/instance_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace dflow::agent {
namespace {

constexpr size_t kBlock = 64 << 10;
constexpr size_t kMaxLine = 64 << 10;  // longer lines are cut
constexpr size_t kMaxTailBytes = 32 << 20;

struct Mark {
  int64_t offset;
  int64_t time_ms;
};
static_assert(sizeof(Mark) == 16);

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

int64_t MtimeMs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

bool ReadAt(int fd, void* buf, size_t len, int64_t off) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, static_cast<char*>(buf) + done, len - done, off + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string IdxPath(const std::string& log) { return log + ".idx"; }
std::string Rotated(const std::string& path, int i) { return absl::StrCat(path, ".", i); }

void AppendMark(const std::string& log, Mark m) {
  Fd fd(open(IdxPath(log).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.ok()) return;
  ssize_t n = write(fd.get(), &m, sizeof m);
  (void)n;  // a lost mark only makes some line times coarser
}

// The last mark of a file's index, or {-1, 0}.
Mark LastMark(const std::string& log) {
  Fd fd(open(IdxPath(log).c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  Mark m{-1, 0};
  if (!fd.ok() || fstat(fd.get(), &st) != 0 || st.st_size < 16) return m;
  if (!ReadAt(fd.get(), &m, sizeof m, (st.st_size / 16 - 1) * 16)) return {-1, 0};
  return m;
}

bool CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  const std::string tmp = to + ".tmp";
  std::filesystem::copy_file(from, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return false;
  return rename(tmp.c_str(), to.c_str()) == 0;
}

struct RawLine {
  int64_t end;  // offset just past the line (its newline, or EOF)
  std::string text;
};

// The last `n` lines of the file, oldest first.
std::vector<RawLine> TailFile(int fd, int64_t size, int n) {
  std::vector<std::string> blocks;  // newest first
  int64_t pos = size;
  int64_t newlines = 0;
  // One more newline than lines wanted: the line before the first kept one ends there.
  while (pos > 0 && newlines <= n && size - pos < static_cast<int64_t>(kMaxTailBytes)) {
    const int64_t start = std::max<int64_t>(0, pos - static_cast<int64_t>(kBlock));
    std::string block(static_cast<size_t>(pos - start), '\0');
    if (!ReadAt(fd, block.data(), block.size(), start)) break;
    newlines += std::count(block.begin(), block.end(), '\n');
    blocks.push_back(std::move(block));
    pos = start;
  }
  std::string buf;  // the bytes [pos, size)
  buf.reserve(static_cast<size_t>(size - pos));
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) buf += *it;
  std::vector<RawLine> lines;
  size_t begin = 0;
  if (pos > 0) {  // the first bytes are the tail of a line we do not keep
    size_t nl = buf.find('\n');
    begin = nl == std::string::npos ? buf.size() : nl + 1;
  }
  while (begin < buf.size()) {
    size_t nl = buf.find('\n', begin);
    size_t end = nl == std::string::npos ? buf.size() : nl;
    std::string text = buf.substr(begin, std::min(end - begin, kMaxLine));
    if (!text.empty() && text.back() == '\r') text.pop_back();
    const size_t next = nl == std::string::npos ? buf.size() : nl + 1;
    lines.push_back({pos + static_cast<int64_t>(next), std::move(text)});
    begin = next;
  }
  if (lines.size() > static_cast<size_t>(n)) lines.erase(lines.begin(), lines.end() - n);
  return lines;
}

// Times lines (sorted by end offset) from the file's marks.
std::vector<TimedLine> StampLines(const std::string& log, std::vector<RawLine> lines,
                                  int64_t fallback_ms) {
  std::vector<Mark> marks;
  if (!lines.empty()) {
    Fd fd(open(IdxPath(log).c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (fd.ok() && fstat(fd.get(), &st) == 0) {
      // Binary search for the first mark at or after the first line's end,
      // then read the rest (the marks of the lines we return) in one go.
      int64_t lo = 0, hi = st.st_size / 16;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        Mark m;
        if (!ReadAt(fd.get(), &m, sizeof m, mid * 16)) break;
        if (m.offset < lines.front().end) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
      marks.resize(static_cast<size_t>(st.st_size / 16 - lo));
      if (!marks.empty() && !ReadAt(fd.get(), marks.data(), marks.size() * sizeof(Mark), lo * 16)) {
        marks.clear();
      }
    }
  }
  std::vector<TimedLine> out;
  out.reserve(lines.size());
  size_t m = 0;
  for (RawLine& line : lines) {
    while (m < marks.size() && marks[m].offset < line.end) ++m;
    out.push_back({m < marks.size() ? marks[m].time_ms : fallback_ms, std::move(line.text)});
  }
  return out;
}

}  // namespace

std::string InstanceLogs::Path(const std::string& app, const std::string& id) const {
  return absl::StrCat(root_, "/", app, "/", id, ".log");
}

absl::Status InstanceLogs::EnsureAppDir(const std::string& app) const {
  return EnsureDir(absl::StrCat(root_, "/", app), 0700);
}

void InstanceLogs::Note(const std::string& app, const std::string& id,
                        const std::string& text) const {
  Fd fd(open(Path(app, id).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd.ok()) return;
  const std::string line = text + "\n";
  ssize_t n = write(fd.get(), line.data(), line.size());
  (void)n;  // best effort: the note is for people reading the log
}

void InstanceLogs::Observe(const std::string& app, const std::string& id, Watch* watch) const {
  const std::string path = Path(app, id);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  const int64_t size = st.st_size;
  if (watch->marked_size < 0) watch->marked_size = LastMark(path).offset;
  if (size < watch->marked_size) {
    // Truncated behind our back: its marks describe other bytes now.
    truncate(IdxPath(path).c_str(), 0);
    watch->marked_size = 0;
  }
  if (size > watch->marked_size) {
    AppendMark(path, {size, MtimeMs(st)});
    watch->marked_size = size;
  }
  if (size > max_bytes_) {
    Rotate(path);
    watch->marked_size = 0;
  }
}

void InstanceLogs::Rotate(const std::string& path) const {
  for (int i = keep_ - 1; i >= 1; --i) {
    rename(Rotated(path, i).c_str(), Rotated(path, i + 1).c_str());
    rename(IdxPath(Rotated(path, i)).c_str(), IdxPath(Rotated(path, i + 1)).c_str());
  }
  if (!CopyFile(path, Rotated(path, 1))) return;  // try again at the next pass
  CopyFile(IdxPath(path), IdxPath(Rotated(path, 1)));
  // The instance writes with O_APPEND, so it continues at the new end (0).
  truncate(path.c_str(), 0);
  truncate(IdxPath(path).c_str(), 0);
}

std::vector<TimedLine> InstanceLogs::Tail(const std::string& app, const std::string& id,
                                          int n) const {
  std::vector<TimedLine> out;
  const std::string base = Path(app, id);
  for (int i = 0; i <= keep_ && static_cast<int>(out.size()) < n; ++i) {
    const std::string path = i == 0 ? base : Rotated(base, i);
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (!fd.ok() || fstat(fd.get(), &st) != 0) break;
    std::vector<TimedLine> lines = StampLines(
        path, TailFile(fd.get(), st.st_size, n - static_cast<int>(out.size())), MtimeMs(st));
    out.insert(out.begin(), std::make_move_iterator(lines.begin()),
               std::make_move_iterator(lines.end()));
  }
  return out;
}

void InstanceLogs::Remove(const std::string& app, const std::string& id) const {
  const std::string base = Path(app, id);
  for (int i = 0; i <= keep_ + 1; ++i) {
    const std::string path = i == 0 ? base : Rotated(base, i);
    unlink(path.c_str());
    unlink(IdxPath(path).c_str());
  }
}

absl::Status InstanceLogs::RemoveApp(const std::string& app) const {
  std::error_code ec;
  const std::string dir = absl::StrCat(root_, "/", app);
  std::filesystem::remove_all(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot remove ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace dflow::agent
