#include "agent/runtime/release_store.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kMarkerOutputBytes = 64 << 10;
constexpr char kTmpPrefix[] = ".tmp-v";

std::string Name(const std::string& app, int64_t version) {
  return absl::StrCat("release v", version, " of app ", app);
}

std::string LastBytes(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot remove ", path, ": ", ec.message()));
  return absl::OkStatus();
}

// Temporary directories of preparations that died with an earlier agent:
// "<prefix><version>.<pid>.<n>" whose pid is not ours.
void RemoveStaleTemps(const std::string& app_dir) {
  std::error_code ec;
  const std::string mine = absl::StrCat(".", getpid(), ".");
  for (const auto& entry : fs::directory_iterator(app_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, kTmpPrefix) && !absl::StrContains(name, mine)) {
      RemoveTree(entry.path().string()).IgnoreError();
    }
  }
}

}  // namespace

const ProcfileEntry* Release::Find(const std::string& type) const {
  for (const ProcfileEntry& e : procfile) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

std::string Release::TypeList() const {
  std::vector<std::string> types;
  for (const ProcfileEntry& e : procfile) {
    if (e.type != "release") types.push_back(e.type);
  }
  return types.empty() ? "none" : absl::StrJoin(types, ", ");
}

std::string ReleaseStore::ReleaseDir(const std::string& app, int64_t version) const {
  return absl::StrCat(root_, "/", app, "/v", version);
}

absl::StatusOr<Release> ReleaseStore::Load(const std::string& app, int64_t version) const {
  RETURN_IF_ERROR(ValidateAppName(app));
  const std::string dir = ReleaseDir(app, version);
  const std::string path = dir + "/release.json";
  if (!FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(Name(app, version), " is not prepared on server ",
                                            server_, "; prepare it first (PrepareRelease)"));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  try {
    json j = json::parse(text);
    Release r;
    r.app = app;
    r.version = version;
    r.dir = dir;
    r.tree = dir + "/tree";
    r.digest = j.at("digest").get<std::string>();
    r.env = j.at("env").get<std::map<std::string, std::string>>();
    r.health_path = j.at("health_path").get<std::string>();
    r.memory_bytes = j.at("memory_bytes").get<int64_t>();
    r.cpus = j.at("cpus").get<double>();
    r.prepared_at_ms = j.value("prepared_at_ms", int64_t{0});
    for (const json& e : j.at("procfile")) {
      r.procfile.push_back({.type = e.at("type").get<std::string>(),
                            .command = e.at("command").get<std::string>(),
                            .line = e.value("line", 0)});
    }
    return r;
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat(path, " on server ", server_, " is unreadable (",
                                            e.what(), "); destroy and redeploy the app"));
  }
}

absl::Status ReleaseStore::Unpack(const ReleaseSpec& spec, const std::string& tree,
                                  const OutputFn& out) {
  // GNU tar strips leading '/' and '..' from member names and defers symlinks
  // that could point outside the tree, so the archive stays inside `tree`.
  ProcessSpec tar{.argv = {"tar", "-xzf", spec.archive_path, "-C", tree, "--no-same-owner"},
                  .deadline = std::chrono::minutes(10)};
  ASSIGN_OR_RETURN(ProcessResult result, runner_->Run(tar));
  if (result.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("unpacking the archive of ",
                                                    Name(spec.app, spec.version), " on server ",
                                                    server_, " took longer than 10 minutes"));
  }
  if (result.exit_code != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the archive of ", Name(spec.app, spec.version), " cannot be unpacked on server ", server_,
        " (tar exited with code ", result.exit_code, "): ", LastBytes(result.stderr_data, 2000)));
  }
  if (out) {
    std::error_code ec;
    auto size = fs::file_size(spec.archive_path, ec);
    out(absl::StrCat("unpacked archive ", spec.source_digest.substr(0, 12), " (", ec ? 0 : size,
                     " bytes) for ", Name(spec.app, spec.version), "\n"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Release> ReleaseStore::Prepare(const ReleaseSpec& spec, const OutputFn& out) {
  RETURN_IF_ERROR(ValidateAppName(spec.app));
  if (spec.version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("release version ", spec.version, " of app ", spec.app, " must be 1 or more"));
  }
  const std::string dir = ReleaseDir(spec.app, spec.version);
  if (FileExists(dir + "/release.json")) {
    ASSIGN_OR_RETURN(Release existing, Load(spec.app, spec.version));
    if (!spec.source_digest.empty() && existing.digest != spec.source_digest) {
      return absl::AlreadyExistsError(
          absl::StrCat(Name(spec.app, spec.version), " is already prepared on server ", server_,
                       " from another archive (", existing.digest, ", not ", spec.source_digest,
                       "); a release number is never reused with other source"));
    }
    if (out) out(absl::StrCat(Name(spec.app, spec.version), " is already prepared\n"));
    return existing;
  }
  if (!FileExists(spec.archive_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the archive of ", Name(spec.app, spec.version), " (", spec.source_digest,
                     ") is not on server ", server_, "; upload it first (PutArchive)"));
  }
  const std::string app_dir = absl::StrCat(root_, "/", spec.app);
  RETURN_IF_ERROR(EnsureDir(app_dir, 0700));
  RemoveStaleTemps(app_dir);
  static std::atomic<int> counter{0};
  const std::string tmp =
      absl::StrCat(app_dir, "/", kTmpPrefix, spec.version, ".", getpid(), ".", counter++);
  RETURN_IF_ERROR(RemoveTree(tmp));
  RETURN_IF_ERROR(EnsureDir(tmp + "/tree", 0700));
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Unpack(spec, tmp + "/tree", out));
    auto procfile_text = ReadFile(tmp + "/tree/Procfile");
    if (!procfile_text.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the source of ", Name(spec.app, spec.version),
          " has no Procfile at its top level; add one with a line like `web: python3 app.py`"));
    }
    auto entries = ParseProcfile(*procfile_text);
    if (!entries.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the source of ", Name(spec.app, spec.version),
                                                     ": ", entries.status().message()));
    }
    json procfile = json::array();
    for (const ProcfileEntry& e : *entries) {
      procfile.push_back({{"type", e.type}, {"command", e.command}, {"line", e.line}});
    }
    json j{{"app", spec.app},
           {"version", spec.version},
           {"digest", spec.source_digest},
           {"env", spec.env},
           {"health_path", spec.health_path},
           {"memory_bytes", spec.memory_bytes},
           {"cpus", spec.cpus},
           {"procfile", procfile},
           {"prepared_at_ms", clock_->NowMs()}};
    return WriteFileAtomic(tmp + "/release.json",
                           j.dump(2, ' ', false, json::error_handler_t::replace) + "\n", 0600);
  }();
  if (!s.ok()) {
    RemoveTree(tmp).IgnoreError();
    return s;
  }
  if (rename(tmp.c_str(), dir.c_str()) != 0) {
    const int err = errno;
    RemoveTree(tmp).IgnoreError();
    // Another preparation of the same release finished first: use its result.
    if ((err == ENOTEMPTY || err == EEXIST) && FileExists(dir + "/release.json")) {
      return Load(spec.app, spec.version);
    }
    return absl::ErrnoToStatus(err, absl::StrCat("cannot move ", Name(spec.app, spec.version),
                                                 " into place on server ", server_));
  }
  return Load(spec.app, spec.version);
}

std::optional<std::string> ReleaseStore::ReleaseCommandOutput(const Release& release) const {
  auto text = ReadFile(release.dir + "/release-command.json");
  if (!text.ok()) return std::nullopt;
  try {
    return json::parse(*text).at("output").get<std::string>();
  } catch (const json::exception&) {
    return std::nullopt;  // a damaged marker: run the command again
  }
}

absl::Status ReleaseStore::MarkReleaseCommandDone(const Release& release,
                                                  const std::string& output) const {
  json j{{"ran_at_ms", clock_->NowMs()}, {"output", LastBytes(output, kMarkerOutputBytes)}};
  // The output may hold invalid UTF-8; dump() must not throw on it.
  return WriteFileAtomic(release.dir + "/release-command.json",
                         j.dump(2, ' ', false, json::error_handler_t::replace) + "\n", 0600);
}

absl::Status ReleaseStore::RemoveApp(const std::string& app) const {
  RETURN_IF_ERROR(ValidateAppName(app));
  return RemoveTree(absl::StrCat(root_, "/", app));
}

}  // namespace dflow::agent
