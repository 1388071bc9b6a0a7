#include "controller/git/repos.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
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

Repos::Repos(std::string data_dir, std::string hook_binary, std::string hook_socket)
    : data_dir_(std::move(data_dir)),
      hook_binary_(std::move(hook_binary)),
      hook_socket_(std::move(hook_socket)) {}

bool Repos::Exists(const std::string& app) const { return FileExists(Path(app) + "/HEAD"); }

absl::Status Repos::Ensure(const std::string& app) {
  RETURN_IF_ERROR(ValidateAppName(app));
  RETURN_IF_ERROR(EnsureDir(Dir(), 0755));
  std::string path = Path(app);
  if (!Exists(app)) {
    RETURN_IF_ERROR(
        RunGit({"init", "--quiet", "--bare", "--initial-branch", kDefaultBranch, path}, Dir())
            .status());
  }
  RETURN_IF_ERROR(SetConfig(app, "dflow.socket", hook_socket_));
  // Pushes are all-or-nothing, and nobody rewrites the deploy history.
  RETURN_IF_ERROR(SetConfig(app, "receive.atomic", "true"));
  std::string hook = path + "/hooks/pre-receive";
  unlink(hook.c_str());
  if (symlink(hook_binary_.c_str(), hook.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot install the pre-receive hook of app ", app,
                                            " at ", hook, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
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
  return RunGit({"config", "--file", Path(app) + "/config", key, value}, Dir()).status();
}

absl::StatusOr<std::string> Repos::Branch(const std::string& app) const {
  ASSIGN_OR_RETURN(std::string b, GetConfig(app, "dflow.branch"));
  return b.empty() ? std::string(kDefaultBranch) : b;
}

absl::Status Repos::SetBranch(const std::string& app, const std::string& branch) {
  RETURN_IF_ERROR(ValidateBranch(branch));
  RETURN_IF_ERROR(GetConfig(app, "dflow.branch").status());
  return SetConfig(app, "dflow.branch", branch);
}

absl::StatusOr<std::string> Repos::Url(const std::string& app) const {
  return GetConfig(app, "dflow.url");
}

absl::Status Repos::SetUrl(const std::string& app, const std::string& url) {
  RETURN_IF_ERROR(GetConfig(app, "dflow.url").status());
  return SetConfig(app, "dflow.url", url);
}

absl::StatusOr<std::string> Repos::WebhookSecret(const std::string& app) const {
  RETURN_IF_ERROR(ValidateAppName(app));
  std::string path = data_dir_ + "/git/secrets/" + app;
  if (!FileExists(path)) return std::string();
  return ReadFile(path);
}

absl::StatusOr<std::string> Repos::GenerateWebhookSecret(const std::string& app) {
  RETURN_IF_ERROR(GetConfig(app, "dflow.url").status());
  RETURN_IF_ERROR(EnsureDir(data_dir_ + "/git", 0700));
  RETURN_IF_ERROR(EnsureDir(data_dir_ + "/git/secrets", 0700));
  ASSIGN_OR_RETURN(std::string bytes, RandomBytes(32));
  std::string secret = HexEncode(bytes);
  RETURN_IF_ERROR(WriteFileAtomic(data_dir_ + "/git/secrets/" + app, secret, 0600));
  return secret;
}

}  // namespace dflow::git
