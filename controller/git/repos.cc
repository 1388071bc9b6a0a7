#include "controller/git/repos.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::git {

absl::StatusOr<std::string> RunGit(const std::vector<std::string>& args, const std::string& cwd,
                                   std::chrono::milliseconds deadline) {
  ProcessSpec spec;
  spec.argv = {"git"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = cwd;
  spec.deadline = deadline;
  PosixProcessRunner runner;
  ASSIGN_OR_RETURN(ProcessResult r, runner.Run(spec));
  if (r.exit_code != 0) {
    std::string cmd = "git";
    for (const auto& a : args) absl::StrAppend(&cmd, " ", a);
    return absl::InternalError(absl::StrCat(
        "`", cmd, "` failed", r.timed_out ? " (timed out)" : "", ": ",
        absl::StripAsciiWhitespace(r.stderr_data.empty() ? r.stdout_data : r.stderr_data)));
  }
  return r.stdout_data;
}

void WarnIfGroupLockedOut(const std::string& data_dir, const Repos& repos,
                          const std::string& socket) {
  if (!repos.shared()) return;
  std::string inside = AbsolutePath(data_dir) + "/";
  using Setting = std::pair<std::string, std::string>;
  for (const auto& [what, path] :
       {Setting{"--repos-dir", repos.Dir()}, Setting{"--git-socket", AbsolutePath(socket)}}) {
    if (absl::StartsWith(path, inside)) {
      spdlog::warn(
          "{} {} is inside the data dir {} (0700): the git group's members (the SSH git user) "
          "cannot reach it; put it outside, e.g. {} /var/lib/dflow-git/{} (deploy/git-user.sh)",
          what, path, data_dir, what, what == "--repos-dir" ? "repos" : "git.sock");
    }
  }
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

absl::Status ValidateBranch(const std::string& b) {
  bool ok = !b.empty() && b.size() <= 100 && b[0] != '-' && b[0] != '/' && b.back() != '/' &&
            !absl::StrContains(b, "..") && !absl::StrContains(b, "//") &&
            !absl::EndsWith(b, ".lock");
  for (char c : b) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '/')) {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "branch \"", b,
        "\" is not allowed: use letters, digits, '.', '_', '-' and '/' (1 to 100 characters, no "
        "\"..\", not starting with '-' or '/'), e.g. main or release/v2"));
  }
  return absl::OkStatus();
}

Repos::Repos(std::string repos_dir, std::string hook_binary, std::string hook_socket,
             std::string group)
    : repos_dir_(std::move(repos_dir)),
      hook_binary_(std::move(hook_binary)),
      hook_socket_(std::move(hook_socket)),
      group_(std::move(group)) {
  if (struct group* g = group_.empty() ? nullptr : getgrnam(group_.c_str()); g != nullptr) {
    have_group_ = true;
    gid_ = g->gr_gid;
  }
}

absl::Status Repos::Prepare() {
  RETURN_IF_ERROR(EnsureDir(repos_dir_, have_group_ ? 02770 : 0700));
  repos_dir_ = AbsolutePath(repos_dir_);
  if (have_group_ && (chown(repos_dir_.c_str(), static_cast<uid_t>(-1), gid_) != 0 ||
                      chmod(repos_dir_.c_str(), 02770) != 0)) {
    return absl::PermissionDeniedError(absl::StrCat("cannot give the git repositories' directory ",
                                                    repos_dir_, " to group ", group_, ": ",
                                                    std::strerror(errno),
                                                    "; run the controller as root or as a "
                                                    "member of ",
                                                    group_));
  }
  return WriteSafeConfig();
}

absl::Status Repos::ShareWithGroup(const std::string& path) const {
  std::error_code ec;
  auto fix = [&](const std::string& p) -> absl::Status {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return absl::OkStatus();
    if (st.st_gid != gid_ && lchown(p.c_str(), static_cast<uid_t>(-1), gid_) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot give ", p, " to group ", group_, ": ", std::strerror(errno)));
    }
    mode_t mode = st.st_mode & 07777 & ~static_cast<mode_t>(S_IWOTH);
    if (S_ISDIR(st.st_mode)) {
      mode |= S_ISGID | S_IRWXG;
    } else {
      mode |= S_IRGRP | ((st.st_mode & S_IWUSR) ? S_IWGRP : 0);
    }
    if (mode != (st.st_mode & 07777) && chmod(p.c_str(), mode) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot set the mode of ", p, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(fix(path));
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    RETURN_IF_ERROR(fix(it->path().string()));
  }
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot walk ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status Repos::LockDown(const std::string& path) const {
  // The controller runs git in the repository; git reads config (core.*
  // settings can name programs) and runs hooks, so the git user may not
  // change either.
  for (auto [p, mode] :
       {std::pair{path + "/config", mode_t{0644}}, std::pair{path + "/hooks", mode_t{0755}}}) {
    if (chmod(p.c_str(), mode) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot set the mode of ", p, ": ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

bool Repos::Exists(const std::string& app) const { return FileExists(Path(app) + "/HEAD"); }

absl::Status Repos::WriteSafeConfig() const {
  if (safe_config_.empty()) return absl::OkStatus();
  std::vector<std::string> repos;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(Dir(), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, ".git") || !ValidateAppName(name.substr(0, name.size() - 4)).ok())
      continue;
    if (FileExists(it->path().string() + "/HEAD")) repos.push_back(it->path().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", Dir(), ": ", ec.message()));
  std::sort(repos.begin(), repos.end());
  std::string text =
      "# Written by dflow-controller (--git-safe-config): the apps' repositories, which\n"
      "# members of the git group may push to. Included from the system gitconfig.\n[safe]\n";
  for (const auto& r : repos) {
    std::string quoted;
    for (char c : r) {
      if (c == '"' || c == '\\') quoted.push_back('\\');
      quoted.push_back(c);
    }
    absl::StrAppend(&text, "\tdirectory = \"", quoted, "\"\n");
  }
  if (auto s = WriteFileAtomic(safe_config_, text, 0644); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot write the git safe.directory list ",
                                            safe_config_, ": ", s.message(),
                                            "; check --git-safe-config"));
  }
  return absl::OkStatus();
}

absl::Status Repos::Ensure(const std::string& app) {
  RETURN_IF_ERROR(ValidateAppName(app));
  std::string path = Path(app);
  if (!Exists(app)) {
    std::vector<std::string> init = {"init", "--quiet", "--bare", "--initial-branch",
                                     store::kDefaultBranch};
    if (have_group_) init.push_back("--shared=group");
    init.push_back(path);
    RETURN_IF_ERROR(RunGit(init, Dir()).status());
  }
  RETURN_IF_ERROR(SetConfig(app, "dflow.socket", hook_socket_));
  // Pushes are all-or-nothing, and nobody rewrites the deploy history.
  RETURN_IF_ERROR(SetConfig(app, "receive.atomic", "true"));
  if (have_group_) RETURN_IF_ERROR(SetConfig(app, "core.sharedRepository", "group"));
  std::string hook = path + "/hooks/pre-receive";
  unlink(hook.c_str());
  if (symlink(hook_binary_.c_str(), hook.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot install the pre-receive hook of app ", app,
                                            " at ", hook, ": ", std::strerror(errno)));
  }
  if (have_group_) RETURN_IF_ERROR(ShareWithGroup(path));
  RETURN_IF_ERROR(LockDown(path));
  return WriteSafeConfig();
}

absl::Status Repos::Remove(const std::string& app) {
  RETURN_IF_ERROR(ValidateAppName(app));  // the path stays inside Dir()
  std::error_code ec;
  std::filesystem::remove_all(Path(app), ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot remove the git repository of app ", app, " at ",
                                            Path(app), ": ", ec.message(),
                                            "; remove it by hand before creating ", app, " again"));
  }
  return WriteSafeConfig();
}

absl::StatusOr<std::string> Repos::GetConfig(const std::string& app, const std::string& key) const {
  RETURN_IF_ERROR(ValidateAppName(app));
  if (!Exists(app)) {
    return absl::NotFoundError(absl::StrCat("app ", app, " has no git repository at ", Path(app),
                                            "; restart the controller to create it"));
  }
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"git", "config", "--file", Path(app) + "/config", "--get", key};
  ASSIGN_OR_RETURN(ProcessResult r, runner.Run(spec));
  if (r.exit_code == 1) return std::string();  // not set
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("cannot read ", key, " of app ", app, ": ",
                                            absl::StripAsciiWhitespace(r.stderr_data)));
  }
  return std::string(absl::StripAsciiWhitespace(r.stdout_data));
}

absl::Status Repos::SetConfig(const std::string& app, const std::string& key,
                              const std::string& value) const {
  RETURN_IF_ERROR(RunGit({"config", "--file", Path(app) + "/config", key, value}, Dir()).status());
  // git rewrites the file with the repository's shared mode (group-writable).
  chmod((Path(app) + "/config").c_str(), 0644);
  return absl::OkStatus();
}

absl::Status Repos::ClearLegacyConfig(const std::string& app, const std::string& key) {
  ASSIGN_OR_RETURN(std::string value, GetConfig(app, key));
  if (value.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(
      RunGit({"config", "--file", Path(app) + "/config", "--unset-all", key}, Dir()).status());
  chmod((Path(app) + "/config").c_str(), 0644);
  return absl::OkStatus();
}

}  // namespace dflow::git
