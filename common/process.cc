#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

extern char** environ;

namespace dflow {
namespace {

using Clock = std::chrono::steady_clock;

// Used when the parent has no PATH at all (as execvp would, plus /usr/local/bin).
constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";
constexpr size_t kChunkBytes = 64 * 1024;

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Descriptors 0-2 would be clobbered by the child's own dup2 onto 0/1/2 when
// the parent runs with a standard stream closed, so keep ours above them.
absl::Status MoveAboveStdio(Fd& fd) {
  if (fd.get() > 2) return absl::OkStatus();
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return absl::InternalError(absl::StrCat("fcntl(F_DUPFD): ", std::strerror(errno)));
  fd.Reset(moved);
  return absl::OkStatus();
}

// Both ends are close-on-exec; the child gets its end via dup2 in the file actions.
absl::Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  if (absl::Status s = MoveAboveStdio(read_end); !s.ok()) return s;
  return MoveAboveStdio(write_end);
}

absl::Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return absl::InternalError(absl::StrCat("fcntl(O_NONBLOCK): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status SpawnCall(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(rc)));
}

// The caller's braced list has already run every step, in order; report the first failure.
absl::Status FirstError(std::initializer_list<absl::Status> steps) {
  for (const absl::Status& s : steps) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string ParentPath() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : std::string(kDefaultPath);
}

std::optional<std::string> FindInPath(const std::string& name, absl::string_view path) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) return name;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) dir = ".";  // POSIX: an empty PATH entry is the current directory.
    std::string candidate = absl::StrCat(dir, "/", name);
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (access(candidate.c_str(), X_OK) != 0) continue;
    if (candidate[0] != '/') {
      // The child may chdir before exec; pin the path to where we found it.
      char cwd[PATH_MAX];
      if (getcwd(cwd, sizeof(cwd)) == nullptr) continue;
      candidate = absl::StrCat(cwd, "/", candidate);
    }
    return candidate;
  }
  return std::nullopt;
}

// Everything posix_spawn needs, resolved and validated up front so that errors
// name what the caller got wrong. Never copied: argv/envp point into the strings.
struct Prepared {
  std::string path;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> env_ptrs;
  char** envp = nullptr;
};

absl::Status Prepare(const std::vector<std::string>& argv,
                     const std::optional<std::map<std::string, std::string>>& env,
                     const std::string& cwd, Prepared& out) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("cannot run a process: argv is empty");
  }
  std::string search_path = ParentPath();
  if (env.has_value()) {
    if (auto it = env->find("PATH"); it != env->end()) search_path = it->second;
  }
  std::optional<std::string> path = FindInPath(argv[0], search_path);
  if (!path.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("program \"", argv[0], "\" not found in PATH \"", search_path, "\""));
  }
  out.path = *std::move(path);
  if (!cwd.empty()) {
    struct stat st;
    if (stat(cwd.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat("working directory \"", cwd, "\" for \"", argv[0],
                                              "\": ", std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat("working directory \"", cwd, "\" for \"", argv[0], "\" is not a directory"));
    }
  }
  for (const std::string& arg : argv) out.argv.push_back(const_cast<char*>(arg.c_str()));
  out.argv.push_back(nullptr);
  if (!env.has_value()) {
    out.envp = environ;
    return absl::OkStatus();
  }
  for (const auto& [key, value] : *env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable name \"", key, "\" is empty or contains '='"));
    }
    out.env_storage.push_back(absl::StrCat(key, "=", value));
  }
  for (std::string& entry : out.env_storage) out.env_ptrs.push_back(entry.data());
  out.env_ptrs.push_back(nullptr);
  out.envp = out.env_ptrs.data();
  return absl::OkStatus();
}

// posix_spawn file actions and attributes, destroyed on scope exit.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }

  absl::Status AddDup2(int fd, int target) {
    return SpawnCall(posix_spawn_file_actions_adddup2(&actions_, fd, target), "adddup2");
  }
  absl::Status AddOpen(int target, const char* path, int flags) {
    return SpawnCall(posix_spawn_file_actions_addopen(&actions_, target, path, flags, 0),
                     "addopen");
  }

  // The child starts with no blocked signals and default dispositions, whatever
  // the calling thread had (a daemon may block or ignore signals).
  absl::Status SetAttributes(short extra_flags) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    return FirstError(
        {SpawnCall(posix_spawnattr_setsigmask(&attr_, &none), "setsigmask"),
         SpawnCall(posix_spawnattr_setsigdefault(&attr_, &all), "setsigdefault"),
         SpawnCall(posix_spawnattr_setpgroup(&attr_, 0), "setpgroup"),  // used with SETPGROUP
         SpawnCall(posix_spawnattr_setflags(
                       &attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extra_flags),
                   "setflags")});
  }

  absl::Status AddChdir(const std::string& cwd) {
    if (cwd.empty()) return absl::OkStatus();
    return SpawnCall(posix_spawn_file_actions_addchdir_np(&actions_, cwd.c_str()), "addchdir");
  }

  absl::StatusOr<pid_t> Spawn(const Prepared& p, const std::string& argv0) {
    // Descriptors the caller inherited without O_CLOEXEC (a `flock` lock, a
    // test runner's log) must not outlive it in long-lived children.
    if (absl::Status s =
            SpawnCall(posix_spawn_file_actions_addclosefrom_np(&actions_, 3), "addclosefrom");
        !s.ok()) {
      return s;
    }
    pid_t pid = -1;
    int rc = posix_spawn(&pid, p.path.c_str(), &actions_, &attr_, p.argv.data(), p.envp);
    if (rc == ENOENT) {
      return absl::NotFoundError(absl::StrCat("program \"", argv0, "\" not found (", p.path, ")"));
    }
    if (rc != 0) {
      return absl::InternalError(absl::StrCat("cannot start \"", argv0, "\": ", std::strerror(rc)));
    }
    return pid;
  }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

// Writing to a pipe whose reader is gone raises SIGPIPE, which would kill the
// whole control plane. Block it in this thread only, and if our write raised
// one, consume it before unblocking (the technique libcurl and git use).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;
  ~ScopedSigpipeBlock() {
    if (raised_ && !was_pending_) {
      const timespec zero{};
      while (sigtimedwait(&pipe_set_, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  void NoteEpipe() { raised_ = true; }

 private:
  sigset_t pipe_set_;
  sigset_t old_mask_;
  bool was_pending_ = false;
  bool raised_ = false;
};

struct OutputStream {
  int id;  // 1 = stdout, 2 = stderr
  Fd fd;
  std::string* sink;
};

// Reads once. Returns false at EOF or on a read error (the stream is done).
bool ReadChunk(OutputStream& s, const ProcessSpec& spec, ProcessResult& result, char* buf) {
  ssize_t n = read(s.fd.get(), buf, kChunkBytes);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  std::string_view chunk(buf, static_cast<size_t>(n));
  size_t room = spec.output_cap_bytes - std::min(spec.output_cap_bytes, s.sink->size());
  s.sink->append(chunk.substr(0, room));
  if (chunk.size() > room) result.truncated = true;
  // The callback sees everything: the cap only bounds what is kept in memory.
  if (spec.on_output) spec.on_output(s.id, chunk);
  return true;
}

void WaitBlocking(pid_t pid, int& status) {
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<ProcessResult> PosixProcessRunner::Run(const ProcessSpec& spec) {
  Prepared prep;
  absl::Status s = Prepare(spec.argv, spec.env, spec.cwd, prep);
  if (!s.ok()) return s;

  Fd in_read, in_write;
  OutputStream streams[2] = {{1, Fd(), nullptr}, {2, Fd(), nullptr}};
  Fd out_write, err_write;
  s = FirstError({MakePipe(in_read, in_write), MakePipe(streams[0].fd, out_write),
                  MakePipe(streams[1].fd, err_write), SetNonBlocking(in_write.get()),
                  SetNonBlocking(streams[0].fd.get()), SetNonBlocking(streams[1].fd.get())});
  if (!s.ok()) return s;
  SpawnSetup setup;
  s = FirstError({setup.AddDup2(in_read.get(), 0), setup.AddDup2(out_write.get(), 1),
                  setup.AddDup2(err_write.get(), 2), setup.AddChdir(spec.cwd),
                  setup.SetAttributes(POSIX_SPAWN_SETPGROUP)});
  if (!s.ok()) return s;

  ScopedSigpipeBlock sigpipe_block;
  absl::StatusOr<pid_t> spawned = setup.Spawn(prep, spec.argv[0]);
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  const Clock::time_point deadline = Clock::now() + spec.deadline;
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();
  // Readable once the child exits; without it (old kernel) we poll waitpid.
  // glibc 2.36's <sys/pidfd.h> lacks extern "C", hence the raw syscall.
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  ProcessResult result;
  streams[0].sink = &result.stdout_data;
  streams[1].sink = &result.stderr_data;
  size_t stdin_written = 0;
  if (spec.stdin_data.empty()) in_write.Reset();
  bool exited = false;
  int status = 0;
  char buf[kChunkBytes];

  while (streams[0].fd.valid() || streams[1].fd.valid() || !exited) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      result.timed_out = true;
      break;
    }
    // poll() skips negative descriptors, so finished slots simply drop out.
    pollfd fds[4] = {{in_write.get(), POLLOUT, 0},
                     {streams[0].fd.get(), POLLIN, 0},
                     {streams[1].fd.get(), POLLIN, 0},
                     {exited ? -1 : pidfd.get(), POLLIN, 0}};
    auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    int timeout_ms = static_cast<int>(std::min<int64_t>(remaining, INT_MAX));
    if (!exited && !pidfd.valid()) timeout_ms = std::min(timeout_ms, 10);
    if (poll(fds, 4, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      kill(-pid, SIGKILL);
      if (!exited) WaitBlocking(pid, status);
      return absl::InternalError(
          absl::StrCat("poll while running \"", spec.argv[0], "\": ", std::strerror(err)));
    }
    if (fds[0].revents != 0) {
      while (stdin_written < spec.stdin_data.size()) {
        size_t len = std::min(kChunkBytes, spec.stdin_data.size() - stdin_written);
        ssize_t w = write(in_write.get(), spec.stdin_data.data() + stdin_written, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) break;
        if (w < 0) {
          // The child closed its stdin: the rest of the input is dropped.
          if (errno == EPIPE) sigpipe_block.NoteEpipe();
          stdin_written = spec.stdin_data.size();
          break;
        }
        stdin_written += static_cast<size_t>(w);
      }
      if (stdin_written == spec.stdin_data.size()) in_write.Reset();
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[1 + i].revents != 0 && !ReadChunk(streams[i], spec, result, buf)) {
        streams[i].fd.Reset();
      }
    }
    if (!exited && (!pidfd.valid() || fds[3].revents != 0)) {
      pid_t w;
      while ((w = waitpid(pid, &status, WNOHANG)) < 0 && errno == EINTR) {
      }
      // ECHILD: someone else reaped it; the exit status is lost.
      if (w == pid || (w < 0 && errno == ECHILD)) exited = true;
    }
  }

  if (result.timed_out) {
    // The child is its group's leader (setpgroup 0), so this takes grandchildren too.
    kill(-pid, SIGKILL);
    if (!exited) {
      WaitBlocking(pid, status);
      exited = true;
    }
    // Keep what is already buffered; a process that escaped the group may hold
    // the pipe open, so bound the drain instead of waiting for EOF.
    for (OutputStream& s : streams) {
      for (int i = 0; i < 64 && s.fd.valid(); ++i) {
        if (!ReadChunk(s, spec, result, buf)) break;
      }
    }
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

absl::StatusOr<int> SpawnDetached(const SpawnSpec& spec) {
  Prepared prep;
  if (absl::Status s = Prepare(spec.argv, spec.env, spec.cwd, prep); !s.ok()) return s;
  const std::string log_path = spec.log_path.empty() ? "/dev/null" : spec.log_path;
  // Opened here rather than in the child so a bad path is reported by name.
  Fd log(open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!log.valid()) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot open log file \"", log_path, "\" for \"", spec.argv[0], "\""));
  }
  if (absl::Status s = MoveAboveStdio(log); !s.ok()) return s;
  SpawnSetup setup;
  const short group_flag = spec.new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
  absl::Status s = FirstError({setup.AddOpen(0, "/dev/null", O_RDONLY), setup.AddDup2(log.get(), 1),
                               setup.AddDup2(log.get(), 2), setup.AddChdir(spec.cwd),
                               setup.SetAttributes(group_flag)});
  if (!s.ok()) return s;
  absl::StatusOr<pid_t> pid = setup.Spawn(prep, spec.argv[0]);
  if (!pid.ok()) return pid.status();
  return static_cast<int>(*pid);
}

std::optional<std::string> FindProgram(const std::string& name) {
  return FindInPath(name, ParentPath());
}

}  // namespace dflow
