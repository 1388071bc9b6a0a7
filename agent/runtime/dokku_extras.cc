// DokkuRuntime: what Dokku adds — domains, ports, storage, checks (services:
// dokku_services.cc).
// Each asks Dokku first (report, list, info) and changes only what differs.
#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/dokku_extras_util.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/dokku_names.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using dokku_extras::Differs;
using dokku_extras::Has;
using dokku_extras::Say;

constexpr char kStorageRoot[] = "/var/lib/dokku/data/storage";

// The ports map as `ports:report` prints it after `ports:set` of `maps`: Dokku
// re-prints each map with its numbers parsed ("%s:%d:%d") and keeps them
// sorted, whatever order they were given in (setPortMaps: sort.Strings, in
// plugins/ports/functions.go @ v0.35.20 and @ v0.38.27).
std::string DokkuPortMaps(const std::vector<std::string>& maps) {
  std::vector<std::string> stored;
  for (const auto& m : maps) {
    std::vector<std::string> parts = absl::StrSplit(m, ':');
    int host = 0, container = 0;
    if (parts.size() == 3 && absl::SimpleAtoi(parts[1], &host) &&
        absl::SimpleAtoi(parts[2], &container)) {
      stored.push_back(absl::StrCat(parts[0], ":", host, ":", container));
    } else {
      stored.push_back(m);  // Dokku refuses it; its error is the answer
    }
  }
  std::sort(stored.begin(), stored.end());
  return absl::StrJoin(stored, " ");
}

}  // namespace

absl::StatusOr<DokkuReport> DokkuRuntime::VersionedReport(const std::string& app,
                                                          const std::string& command) {
  std::vector<std::string> args = {command, app};
  const bool json = version_.AtLeast(0, 38, 0);
  if (json) args.insert(args.end(), {"--format", "json"});
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, args));
  if (json) return ParseJsonReport(r.out);
  return ParseTextReport(r.out);
}

absl::StatusOr<std::vector<std::string>> DokkuRuntime::Domains(const std::string& app) {
  // 0.35's domains report is bash: no JSON.
  ASSIGN_OR_RETURN(DokkuReport report, VersionedReport(app, "domains:report"));
  return std::vector<std::string>(
      absl::StrSplit(ReportValue(report, "domains", "app-vhosts"), ' ', absl::SkipEmpty()));
}

absl::Status DokkuRuntime::AbsentOr(const std::string& app, const absl::Status& read,
                                    const OutputFn& out) {
  if (!absl::IsNotFound(read)) return read;  // NotFound: exit 20, or no dokku program
  DokkuCommand exists{.args = {"apps:exists", app}, .app = app};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code != 20) return read;
  Say(out, absl::StrCat(app, " does not exist on server ", options_.server_name,
                        " (nothing to remove)"));
  return absl::OkStatus();
}

absl::Status DokkuRuntime::AddDomain(const std::string& app, const std::string& host,
                                     const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(auto domains, Domains(app));
  if (Has(domains, host)) {
    Say(out, absl::StrCat(app, " already has domain ", host, " (nothing to change)"));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Dokku(app, {"domains:add", app, host}, out).status());
  ASSIGN_OR_RETURN(domains, Domains(app));  // read back
  if (!Has(domains, host)) {
    return Differs(options_.server_name, absl::StrCat("no domain ", host, " for ", app));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::RemoveDomain(const std::string& app, const std::string& host,
                                        const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  auto first = Domains(app);
  if (!first.ok()) return AbsentOr(app, first.status(), out);
  std::vector<std::string> domains = std::move(*first);
  if (!Has(domains, host)) {
    Say(out, absl::StrCat(app, " has no domain ", host, " (nothing to change)"));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Dokku(app, {"domains:remove", app, host}, out).status());
  ASSIGN_OR_RETURN(domains, Domains(app));  // read back
  if (Has(domains, host)) {
    return Differs(options_.server_name, absl::StrCat("domain ", host, " still on ", app));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::SetPorts(const std::string& app, const std::vector<std::string>& maps,
                                    const OutputFn& out) {
  if (maps.empty())
    return absl::InvalidArgumentError("give at least one port map, e.g. http:80:5000");
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"ports:report", app, "--format", "json"}));
  ASSIGN_OR_RETURN(DokkuReport report, ParseJsonReport(r.out));
  const std::string want = DokkuPortMaps(maps);
  if (ReportValue(report, "ports", "map") == want) {
    Say(out, absl::StrCat("ports of ", app, " are ", want, " already (nothing to change)"));
    return absl::OkStatus();
  }
  std::vector<std::string> args = {"ports:set", app};
  args.insert(args.end(), maps.begin(), maps.end());
  RETURN_IF_ERROR(Dokku(app, args, out).status());
  ASSIGN_OR_RETURN(r, Dokku(app, {"ports:report", app, "--format", "json"}));  // read back
  ASSIGN_OR_RETURN(report, ParseJsonReport(r.out));
  if (std::string now = ReportValue(report, "ports", "map"); now != want) {
    return Differs(options_.server_name,
                   absl::StrCat("ports \"", now, "\" for ", app, " (asked: ", want, ")"));
  }
  DokkuApp a = Snapshot(app);
  a.port = 0;  // looked up again at the next start
  return Commit(app, a);
}

absl::StatusOr<std::string> DokkuRuntime::StorageHostPath(const std::string& app,
                                                          const std::string& source,
                                                          const std::string& container_dir,
                                                          bool create, const std::string& chown,
                                                          const OutputFn& out) {
  RETURN_IF_ERROR(ValidateStorageMount(source, container_dir));
  RETURN_IF_ERROR(ValidateStorageChown(source, chown));
  if (source[0] == '/') {
    if (create && !std::filesystem::is_directory(source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("host path ", source, " does not exist on server ", options_.server_name));
    }
    return source;
  }
  if (create) {
    // storage:create is idempotent and re-applies --chown (0.38+); before it,
    // storage:ensure-directory. The owner is always said: ensure-directory
    // chowns to herokuish (32767) unasked (plugins/storage/internal-functions
    // @ v0.35.20), storage:create not at all (ensureDockerLocalPath,
    // plugins/storage/commands_entries.go @ v0.38.27), so only an explicit
    // one gives the same owner on both. "false" is ensure-directory's word
    // for no chown; storage:create's is no flag.
    const std::string owner = StorageChownOrDefault(source, chown);
    const bool v38 = version_.AtLeast(0, 38, 0);
    // The controller refuses this at `storage mount` already when it knows
    // the version; a theme volume or an older controller reaches here.
    RETURN_IF_ERROR(
        CheckStorageOwnerOnDokku(owner, source, version_.ToString(), options_.server_name));
    std::vector<std::string> args = {v38 ? "storage:create" : "storage:ensure-directory"};
    if (!v38 || owner != "false") args.insert(args.end(), {"--chown", owner});
    args.push_back(source);
    RETURN_IF_ERROR(Dokku(app, args, out).status());
  }
  return absl::StrCat(kStorageRoot, "/", source);
}

absl::Status DokkuRuntime::MountStorage(const std::string& app, const std::string& source,
                                        const std::string& container_dir, const std::string& chown,
                                        const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string host, StorageHostPath(app, source, container_dir, true, chown, out));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput list, Dokku(app, {"storage:list", app, "--format", "json"}));
  DokkuMount want{host, container_dir};
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) {  // a second storage:mount would exit 1
      Say(out, absl::StrCat(host, " is mounted at ", container_dir, " in ", app,
                            " already (nothing to change)"));
      return absl::OkStatus();
    }
  }
  RETURN_IF_ERROR(
      Dokku(app, {"storage:mount", app, absl::StrCat(host, ":", container_dir)}, out).status());
  ASSIGN_OR_RETURN(list, Dokku(app, {"storage:list", app, "--format", "json"}));  // read back
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) {
      Say(out, absl::StrCat("Mounted ", host, " at ", container_dir, " in ", app,
                            " (it takes effect at the next deploy or restart)"));
      return absl::OkStatus();
    }
  }
  return Differs(options_.server_name,
                 absl::StrCat("no mount of ", host, " at ", container_dir, " in ", app));
}

absl::Status DokkuRuntime::UnmountStorage(const std::string& app, const std::string& source,
                                          const std::string& container_dir, const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string host, StorageHostPath(app, source, container_dir, false, "", out));
  std::lock_guard app_lock(AppLock(app));
  auto first = Dokku(app, {"storage:list", app, "--format", "json"});
  if (!first.ok()) return AbsentOr(app, first.status(), out);
  DokkuOutput list = std::move(*first);
  DokkuMount want{host, container_dir};
  bool mounted = false;
  for (const auto& m : ParseStorageList(list.out)) mounted = mounted || m == want;
  if (!mounted) {  // storage:unmount of a missing mount exits 1
    Say(out, absl::StrCat(host, " is not mounted at ", container_dir, " in ", app,
                          " (nothing to change)"));
    return absl::OkStatus();
  }
  // The data stays: storage:unmount only removes the bind mount (docs:
  // advanced-usage/persistent-storage).
  RETURN_IF_ERROR(
      Dokku(app, {"storage:unmount", app, absl::StrCat(host, ":", container_dir)}, out).status());
  ASSIGN_OR_RETURN(list, Dokku(app, {"storage:list", app, "--format", "json"}));  // read back
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) {
      return Differs(options_.server_name,
                     absl::StrCat(host, " still mounted at ", container_dir, " in ", app));
    }
  }
  Say(out, absl::StrCat("Unmounted ", host, " from ", container_dir, " in ", app,
                        " (the data stays; it takes effect at the next deploy or restart)"));
  return absl::OkStatus();
}

// checks:report's wait-to-retire, the app's own ("" when unset): JSON since
// 0.38 (unprefixed keys, plugins/checks/report.go), the bash report's text
// before (v0.35.20 plugins/checks/internal-functions, "Checks wait to retire").
absl::StatusOr<std::string> DokkuRuntime::WaitToRetire(const std::string& app) {
  ASSIGN_OR_RETURN(DokkuReport report, VersionedReport(app, "checks:report"));
  return ReportValue(report, "checks", "wait-to-retire");
}

// `checks:set APP wait-to-retire N` (plugins/checks/subcommands/set: the only
// key it takes; docs/deployment/zero-downtime-deploys.md "wait-to-retire"):
// asked first, set only when different, read back.
absl::Status DokkuRuntime::ApplyWaitToRetire(const std::string& app, const std::string& value,
                                             const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string now, WaitToRetire(app));
  if (now == value) {
    Say(out,
        absl::StrCat("wait-to-retire of ", app, " is ", value, " already (nothing to change)"));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Dokku(app, {"checks:set", app, "wait-to-retire", value}, out).status());
  ASSIGN_OR_RETURN(now, WaitToRetire(app));  // read back
  if (now != value) {
    return Differs(options_.server_name,
                   absl::StrCat("wait-to-retire ", now.empty() ? "(unset)" : now, " for ", app,
                                " (asked: ", value, "; checks:report)"));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::SetCheck(const std::string& app, const std::string& key,
                                    const std::string& value, const OutputFn& out) {
  RETURN_IF_ERROR(ValidateCheckSetting(key, value));
  std::lock_guard app_lock(AppLock(app));
  if (key == "wait-to-retire") {
    RETURN_IF_ERROR(ApplyWaitToRetire(app, value, out));
  } else {
    Say(out, absl::StrCat("Check ", key, "=", value, " of ", app,
                          " kept for the app.json of its next deploy (healthchecks.web)"));
  }
  DokkuApp a = Snapshot(app);
  a.checks[key] = value;  // wait/timeout/attempts: in app.json at the next deploy
  return Commit(app, a);
}

absl::Status DokkuRuntime::UnsetCheck(const std::string& app, const std::string& key,
                                      const OutputFn& out) {
  RETURN_IF_ERROR(ValidateCheckKey(key));
  std::lock_guard app_lock(AppLock(app));
  if (key == "wait-to-retire") {
    // `checks:set APP wait-to-retire` with no value unsets it (transcript
    // 0.38.27 entry 135, "=====> Unsetting wait-to-retire"; the same bash
    // subcommand in 0.35, plugins/checks/subcommands/set).
    auto first = WaitToRetire(app);
    if (!first.ok()) {
      RETURN_IF_ERROR(AbsentOr(app, first.status(), out));
    } else if (first->empty()) {
      Say(out, absl::StrCat("wait-to-retire of ", app, " is not set (nothing to change)"));
    } else {
      RETURN_IF_ERROR(Dokku(app, {"checks:set", app, "wait-to-retire"}, out).status());
      ASSIGN_OR_RETURN(std::string now, WaitToRetire(app));  // read back
      if (!now.empty()) {
        return Differs(options_.server_name, absl::StrCat("wait-to-retire ", now, " for ", app,
                                                          " (asked: unset; checks:report)"));
      }
    }
  } else {
    Say(out, absl::StrCat("Check ", key, " of ", app,
                          " unset: the app.json of its next deploy goes without it"));
  }
  DokkuApp a = Snapshot(app);
  if (a.checks.erase(key) == 0) return absl::OkStatus();  // a deploy no longer applies it
  return Commit(app, a);
}

}  // namespace dflow::agent
