#include "cli/archive.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/command.h"
#include "common/blob_store.h"

namespace dflow::cli {
namespace {

std::string TempRoot() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

}  // namespace

absl::Status CheckSourceDir(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return UsageError(absl::StrCat("--path \"", dir,
                                   "\" does not exist: give the directory that holds your "
                                   "app's Procfile (for example --path examples/hello)"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return UsageError(absl::StrCat("--path \"", dir,
                                   "\" is not a directory: give the directory that holds your "
                                   "app's Procfile, not a file in it"));
  }
  std::string procfile = absl::StrCat(absl::StripSuffix(dir, "/"), "/Procfile");
  if (stat(procfile.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "\"", dir,
        "\" has no Procfile, so there is nothing to run: add a file named Procfile with a line "
        "like `web: python3 app.py` (see examples/hello); nothing was uploaded"));
  }
  return absl::OkStatus();
}

std::vector<std::string> TarArgv(const std::string& dir, const std::string& out) {
  // Sorted names and neutral owners so the same tree packs to the same members
  // in the same order on any machine.
  return {"tar",       "--create",        "--gzip",      "--file",
          out,         "--exclude=.git",  "--sort=name", "--owner=0",
          "--group=0", "--numeric-owner", "--directory", dir,
          "."};
}

absl::Status UploadTooLarge(int64_t limit_bytes) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the upload is larger than the limit of ", MiB(limit_bytes),
      "; make the source smaller (a .dockerignore-style cleanup, no build outputs) or raise "
      "the controller's --max-upload"));
}

absl::StatusOr<std::unique_ptr<SourceArchive>> SourceArchive::Pack(const std::string& dir,
                                                                   ProcessRunner& runner) {
  if (auto s = CheckSourceDir(dir); !s.ok()) return s;
  std::string tmpl = TempRoot() + "/dflow-deploy-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a temporary directory in ",
                                                   TempRoot(), " to pack the source"));
  }
  std::string out = tmpl + "/source.tar.gz";
  // Owns the directory from here on, so every error path below removes it.
  std::unique_ptr<SourceArchive> archive(new SourceArchive(tmpl, out, 0));
  auto result = runner.Run({.argv = TarArgv(dir, out), .deadline = std::chrono::minutes(10)});
  if (!result.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot run tar to pack \"", dir, "\": ", result.status().message(), "; install GNU tar"));
  }
  if (result->exit_code != 0) {
    std::string why = result->timed_out
                          ? "it took longer than 10 minutes"
                          : std::string(absl::StripTrailingAsciiWhitespace(result->stderr_data));
    return absl::InternalError(absl::StrCat("packing \"", dir, "\" failed: ", why));
  }
  std::error_code ec;
  auto size = std::filesystem::file_size(out, ec);
  if (ec) return absl::InternalError(absl::StrCat("tar wrote no archive at ", out));
  archive->size_bytes_ = static_cast<int64_t>(size);
  return archive;
}

SourceArchive::~SourceArchive() {
  std::error_code ec;
  std::filesystem::remove_all(tmp_dir_, ec);
}

}  // namespace dflow::cli
