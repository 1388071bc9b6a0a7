// DokkuRuntime: what Dokku adds — domains, ports, storage, checks, services.
// Each asks Dokku first (report, list, info) and changes only what differs.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

constexpr char kStorageRoot[] = "/var/lib/dokku/data/storage";

absl::Status CheckServiceKind(const std::string& kind) {
  if (kind == "postgres" || kind == "redis") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("service kind \"", kind, "\" is not one dflow drives; use postgres or redis"));
}

bool ValidStorageName(const std::string& n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '-';
  });
}

}  // namespace

absl::StatusOr<std::vector<std::string>> DokkuRuntime::Domains(const std::string& app) {
  std::vector<std::string> args = {"domains:report", app};
  // 0.35's domains report is bash: no JSON.
  const bool json = version_.AtLeast(0, 38, 0);
  if (json) args.insert(args.end(), {"--format", "json"});
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, args));
  DokkuReport report;
  if (json) {
    ASSIGN_OR_RETURN(report, ParseJsonReport(r.out));
  } else {
    report = ParseTextReport(r.out);
  }
  return std::vector<std::string>(
      absl::StrSplit(ReportValue(report, "domains", "app-vhosts"), ' ', absl::SkipEmpty()));
}

absl::Status DokkuRuntime::AddDomain(const std::string& app, const std::string& host,
                                     const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(auto domains, Domains(app));
  if (std::find(domains.begin(), domains.end(), host) != domains.end()) return absl::OkStatus();
  return Dokku(app, {"domains:add", app, host}, out).status();
}

absl::Status DokkuRuntime::RemoveDomain(const std::string& app, const std::string& host,
                                        const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(auto domains, Domains(app));
  if (std::find(domains.begin(), domains.end(), host) == domains.end()) return absl::OkStatus();
  return Dokku(app, {"domains:remove", app, host}, out).status();
}

absl::Status DokkuRuntime::SetPorts(const std::string& app, const std::vector<std::string>& maps,
                                    const OutputFn& out) {
  if (maps.empty())
    return absl::InvalidArgumentError("give at least one port map, e.g. http:80:5000");
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"ports:report", app, "--format", "json"}));
  ASSIGN_OR_RETURN(DokkuReport report, ParseJsonReport(r.out));
  if (ReportValue(report, "ports", "map") == absl::StrJoin(maps, " ")) return absl::OkStatus();
  std::vector<std::string> args = {"ports:set", app};
  args.insert(args.end(), maps.begin(), maps.end());
  RETURN_IF_ERROR(Dokku(app, args, out).status());
  DokkuApp a = Snapshot(app);
  a.port = 0;  // looked up again at the next start
  return Commit(app, a);
}

absl::Status DokkuRuntime::MountStorage(const std::string& app, const std::string& source,
                                        const std::string& container_dir, const OutputFn& out) {
  if (container_dir.empty() || container_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("the container directory \"", container_dir, "\" must be an absolute path"));
  }
  std::string host;
  if (!source.empty() && source[0] == '/') {
    if (!std::filesystem::is_directory(source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("host path ", source, " does not exist on server ", options_.server_name));
    }
    host = source;
  } else if (ValidStorageName(source)) {
    // storage:create is idempotent (0.38+); before it, storage:ensure-directory.
    std::vector<std::string> create =
        version_.AtLeast(0, 38, 0) ? std::vector<std::string>{"storage:create", source}
                                   : std::vector<std::string>{"storage:ensure-directory", source};
    RETURN_IF_ERROR(Dokku(app, create, out).status());
    host = absl::StrCat(kStorageRoot, "/", source);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("storage \"", source,
                     "\" is neither a name ([A-Za-z0-9_-]) nor an absolute "
                     "host path"));
  }
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput list, Dokku(app, {"storage:list", app, "--format", "json"}));
  DokkuMount want{host, container_dir};
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) return absl::OkStatus();  // a second storage:mount would exit 1
  }
  return Dokku(app, {"storage:mount", app, absl::StrCat(host, ":", container_dir)}, out).status();
}

absl::Status DokkuRuntime::SetCheck(const std::string& app, const std::string& key,
                                    const std::string& value, const OutputFn& out) {
  int n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "check ", key, " takes a whole number of seconds (or attempts), not \"", value, "\""));
  }
  if (key != "wait" && key != "timeout" && key != "attempts" && key != "wait-to-retire") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown check setting \"", key, "\"; use wait, timeout, attempts or wait-to-retire"));
  }
  std::lock_guard app_lock(AppLock(app));
  if (key == "wait-to-retire") {
    RETURN_IF_ERROR(Dokku(app, {"checks:set", app, key, value}, out).status());
  }
  DokkuApp a = Snapshot(app);
  a.checks[key] = value;  // wait/timeout/attempts: in app.json at the next deploy
  return Commit(app, a);
}

absl::Status DokkuRuntime::CreateService(const std::string& kind, const std::string& name,
                                         const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  DokkuCommand exists{.args = {kind + ":exists", name}};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code == 0) return absl::OkStatus();
  return Dokku("", {kind + ":create", name}, out).status();
}

absl::Status DokkuRuntime::LinkService(const std::string& kind, const std::string& name,
                                       const std::string& app, const std::string& split_prefix,
                                       const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput links, Dokku(app, {kind + ":info", name, "--links"}));
  std::vector<std::string> linked =
      absl::StrSplit(links.out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (!split_prefix.empty()) {
    // scheme://user:password@host:port/database, split into variables before
    // the link restarts the app, so one restart carries them all.
    ASSIGN_OR_RETURN(DokkuOutput dsn, Dokku(app, {kind + ":info", name, "--dsn"}));
    std::string url(absl::StripAsciiWhitespace(dsn.out));
    std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
    std::string auth = rest.substr(0, rest.rfind('@'));
    std::string where = rest.substr(rest.rfind('@') + 1);
    std::string hostport = where.substr(0, where.find('/'));
    std::map<std::string, std::string> vars = {
        {"HOST", hostport.substr(0, hostport.rfind(':'))},
        {"PORT", hostport.substr(hostport.rfind(':') + 1)},
        {"USER", auth.substr(0, auth.find(':'))},
        {"PASSWORD", auth.find(':') == std::string::npos ? "" : auth.substr(auth.find(':') + 1)},
        {"DATABASE",
         where.find('/') == std::string::npos ? "" : where.substr(where.find('/') + 1)}};
    std::vector<std::string> set = {"config:set", "--no-restart", "--encoded", app};
    for (const auto& [k, v] : vars)
      set.push_back(absl::StrCat(split_prefix, k, "=", absl::Base64Escape(v)));
    RETURN_IF_ERROR(Dokku(app, set, out).status());
  }
  if (std::find(linked.begin(), linked.end(), app) != linked.end()) return absl::OkStatus();
  return Dokku(app, {kind + ":link", name, app}, out).status();
}

absl::Status DokkuRuntime::UnlinkService(const std::string& kind, const std::string& name,
                                         const std::string& app, const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput links, Dokku(app, {kind + ":info", name, "--links"}));
  std::vector<std::string> linked =
      absl::StrSplit(links.out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (std::find(linked.begin(), linked.end(), app) == linked.end()) return absl::OkStatus();
  return Dokku(app, {kind + ":unlink", name, app}, out).status();
}

absl::Status DokkuRuntime::DestroyService(const std::string& kind, const std::string& name,
                                          const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  DokkuCommand exists{.args = {kind + ":exists", name}};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code != 0) return absl::OkStatus();
  return Dokku("", {kind + ":destroy", name, "-f"}, out).status();
}

}  // namespace dflow::agent
