// DokkuRuntime: what Dokku adds — domains, ports, storage, checks, services.
// Each asks Dokku first (report, list, info) and changes only what differs.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/dokku_names.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

constexpr char kStorageRoot[] = "/var/lib/dokku/data/storage";

absl::Status CheckServiceKind(const std::string& kind) { return ValidateServiceKind(kind); }

std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
}

bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// What Dokku reports after a change differs from what was asked: an error,
// never silence.
absl::Status Differs(const std::string& server, const std::string& what) {
  return absl::DataLossError(absl::StrCat("after the change Dokku on server ", server, " reports ",
                                          what, "; see `dokku` on that server"));
}

// `KIND:info NAME --exposed-ports` is "-" when not exposed, else
// "5432->31234 " (service_info in the plugins' common-functions): the first
// host port, 0 when none.
int ExposedPort(const std::string& text) {
  std::string ports(absl::StripAsciiWhitespace(text));
  int port = 0;
  if (size_t arrow = ports.find("->"); arrow != std::string::npos) {
    std::string first = ports.substr(arrow + 2);
    (void)absl::SimpleAtoi(first.substr(0, first.find(' ')), &port);
  }
  return port;
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
  if (Has(domains, host)) return absl::OkStatus();
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
  ASSIGN_OR_RETURN(auto domains, Domains(app));
  if (!Has(domains, host)) return absl::OkStatus();
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
  if (ReportValue(report, "ports", "map") == absl::StrJoin(maps, " ")) return absl::OkStatus();
  std::vector<std::string> args = {"ports:set", app};
  args.insert(args.end(), maps.begin(), maps.end());
  RETURN_IF_ERROR(Dokku(app, args, out).status());
  ASSIGN_OR_RETURN(r, Dokku(app, {"ports:report", app, "--format", "json"}));  // read back
  ASSIGN_OR_RETURN(report, ParseJsonReport(r.out));
  if (std::string now = ReportValue(report, "ports", "map"); now != absl::StrJoin(maps, " ")) {
    return Differs(options_.server_name, absl::StrCat("ports \"", now, "\" for ", app,
                                                      " (asked: ", absl::StrJoin(maps, " "), ")"));
  }
  DokkuApp a = Snapshot(app);
  a.port = 0;  // looked up again at the next start
  return Commit(app, a);
}

absl::StatusOr<std::string> DokkuRuntime::StorageHostPath(const std::string& app,
                                                          const std::string& source,
                                                          const std::string& container_dir,
                                                          bool create, const OutputFn& out) {
  RETURN_IF_ERROR(ValidateStorageMount(source, container_dir));
  if (source[0] == '/') {
    if (create && !std::filesystem::is_directory(source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("host path ", source, " does not exist on server ", options_.server_name));
    }
    return source;
  }
  if (create) {
    // storage:create is idempotent (0.38+); before it, storage:ensure-directory.
    std::vector<std::string> args =
        version_.AtLeast(0, 38, 0) ? std::vector<std::string>{"storage:create", source}
                                   : std::vector<std::string>{"storage:ensure-directory", source};
    RETURN_IF_ERROR(Dokku(app, args, out).status());
  }
  return absl::StrCat(kStorageRoot, "/", source);
}

absl::Status DokkuRuntime::MountStorage(const std::string& app, const std::string& source,
                                        const std::string& container_dir, const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string host, StorageHostPath(app, source, container_dir, true, out));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput list, Dokku(app, {"storage:list", app, "--format", "json"}));
  DokkuMount want{host, container_dir};
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) return absl::OkStatus();  // a second storage:mount would exit 1
  }
  RETURN_IF_ERROR(
      Dokku(app, {"storage:mount", app, absl::StrCat(host, ":", container_dir)}, out).status());
  ASSIGN_OR_RETURN(list, Dokku(app, {"storage:list", app, "--format", "json"}));  // read back
  for (const auto& m : ParseStorageList(list.out)) {
    if (m == want) return absl::OkStatus();
  }
  return Differs(options_.server_name,
                 absl::StrCat("no mount of ", host, " at ", container_dir, " in ", app));
}

absl::Status DokkuRuntime::UnmountStorage(const std::string& app, const std::string& source,
                                          const std::string& container_dir, const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string host, StorageHostPath(app, source, container_dir, false, out));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput list, Dokku(app, {"storage:list", app, "--format", "json"}));
  DokkuMount want{host, container_dir};
  bool mounted = false;
  for (const auto& m : ParseStorageList(list.out)) mounted = mounted || m == want;
  if (!mounted) return absl::OkStatus();  // storage:unmount of a missing mount exits 1
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
  return absl::OkStatus();
}

// checks:report's wait-to-retire, the app's own ("" when unset): JSON since
// 0.38 (unprefixed keys, plugins/checks/report.go), the bash report's text
// before (v0.35.20 plugins/checks/internal-functions, "Checks wait to retire").
absl::StatusOr<std::string> DokkuRuntime::WaitToRetire(const std::string& app) {
  std::vector<std::string> args = {"checks:report", app};
  const bool json = version_.AtLeast(0, 38, 0);
  if (json) args.insert(args.end(), {"--format", "json"});
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, args));
  DokkuReport report;
  if (json) {
    ASSIGN_OR_RETURN(report, ParseJsonReport(r.out));
  } else {
    report = ParseTextReport(r.out);
  }
  return ReportValue(report, "checks", "wait-to-retire");
}

// `checks:set APP wait-to-retire N` (plugins/checks/subcommands/set: the only
// key it takes; docs/deployment/zero-downtime-deploys.md "wait-to-retire"):
// asked first, set only when different, read back.
absl::Status DokkuRuntime::ApplyWaitToRetire(const std::string& app, const std::string& value,
                                             const OutputFn& out) {
  ASSIGN_OR_RETURN(std::string now, WaitToRetire(app));
  if (now == value) return absl::OkStatus();
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
  if (key == "wait-to-retire") RETURN_IF_ERROR(ApplyWaitToRetire(app, value, out));
  DokkuApp a = Snapshot(app);
  a.checks[key] = value;  // wait/timeout/attempts: in app.json at the next deploy
  return Commit(app, a);
}

absl::StatusOr<ServiceInfo> DokkuRuntime::CreateService(const std::string& kind,
                                                        const std::string& name, bool expose,
                                                        const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  RETURN_IF_ERROR(ValidateServiceName(name));
  DokkuCommand exists{.args = {kind + ":exists", name}};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  // KIND:create ends with the service's report, its Dsn holding the password
  // (service_create_container in the plugins' `functions` calls service_info):
  // the output is kept until the password is known, then passed on without it.
  std::string created;
  if (e.exit_code != 0) {
    ASSIGN_OR_RETURN(DokkuOutput r, Dokku("", {kind + ":create", name}));
    created = r.out;
    for (const auto& w : r.warnings) absl::StrAppend(&created, " !     ", w, "\n");
  }
  auto exposed = [&]() -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(DokkuOutput r, Dokku("", {kind + ":info", name, "--exposed-ports"}));
    return ExposedPort(r.out);
  };
  ServiceInfo info;
  ASSIGN_OR_RETURN(info.exposed_port, exposed());
  if (expose && info.exposed_port == 0) {
    ASSIGN_OR_RETURN(DokkuOutput r, Dokku("", {kind + ":expose", name}));
    absl::StrAppend(&created, r.out);
    ASSIGN_OR_RETURN(info.exposed_port, exposed());
    if (info.exposed_port == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          kind, " service ", name, " on server ", options_.server_name,
          " reports no exposed port after ", kind, ":expose (", kind, ":info --exposed-ports)"));
    }
  }
  ASSIGN_OR_RETURN(DokkuOutput dsn, Dokku("", {kind + ":info", name, "--dsn"}));
  info.dsn = std::string(absl::StripAsciiWhitespace(dsn.out));
  if (out && !created.empty()) {
    const std::string password = SplitServiceUrl(info.dsn)["PASSWORD"];
    if (!password.empty()) {
      created = absl::StrReplaceAll(created, {{password, "(password not shown)"}});
    }
    out(created);
  }
  return info;
}

absl::StatusOr<ServiceInfo> DokkuRuntime::GetService(const std::string& kind,
                                                     const std::string& name) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  RETURN_IF_ERROR(ValidateServiceName(name));
  // KIND:exists exits non-zero for a missing service (the plugins'
  // subcommands/exists: "service NAME does not exist").
  DokkuCommand exists{.args = {kind + ":exists", name}};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code != 0) {
    return absl::NotFoundError(absl::StrCat(kind, " service ", name, " does not exist on server ",
                                            options_.server_name, " (", kind, ":exists)"));
  }
  ServiceInfo info;
  ASSIGN_OR_RETURN(DokkuOutput ports, Dokku("", {kind + ":info", name, "--exposed-ports"}));
  info.exposed_port = ExposedPort(ports.out);
  ASSIGN_OR_RETURN(DokkuOutput dsn, Dokku("", {kind + ":info", name, "--dsn"}));
  info.dsn = std::string(absl::StripAsciiWhitespace(dsn.out));
  return info;
}

absl::Status DokkuRuntime::LinkService(const std::string& kind, const std::string& name,
                                       const std::string& app, const std::string& split_prefix,
                                       const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  RETURN_IF_ERROR(ValidateSplitPrefix(split_prefix));
  std::lock_guard app_lock(AppLock(app));
  ASSIGN_OR_RETURN(DokkuOutput links, Dokku(app, {kind + ":info", name, "--links"}));
  std::vector<std::string> linked = Words(links.out);
  if (!split_prefix.empty()) {
    // scheme://user:password@host:port/database, split into variables before
    // the link restarts the app, so one restart carries them all.
    ASSIGN_OR_RETURN(DokkuOutput dsn, Dokku(app, {kind + ":info", name, "--dsn"}));
    std::vector<std::string> set = {"config:set", "--no-restart", "--encoded", app};
    for (const auto& [k, v] : SplitServiceUrl(absl::StripAsciiWhitespace(dsn.out)))
      set.push_back(absl::StrCat(split_prefix, k, "=", absl::Base64Escape(v)));
    RETURN_IF_ERROR(SetConfigQuietly(app, set, out));
  }
  if (Has(linked, app)) return absl::OkStatus();
  // KIND:link prints the URL it sets, password included (config:set inside the
  // plugin's service_link): only a summary reaches the operation's output.
  ASSIGN_OR_RETURN(DokkuOutput linked_out, Dokku(app, {kind + ":link", name, app}));
  if (out) {
    std::string text = absl::StrCat("-----> Linked ", kind, " service ", name, " to ", app, " on ",
                                    options_.server_name, " (its URL not shown)\n");
    for (const auto& w : linked_out.warnings) absl::StrAppend(&text, " !     ", w, "\n");
    out(text);
  }
  ASSIGN_OR_RETURN(links, Dokku(app, {kind + ":info", name, "--links"}));  // read back
  if (!Has(Words(links.out), app)) {
    return Differs(options_.server_name,
                   absl::StrCat(kind, " service ", name, " not linked to ", app));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::UnlinkService(const std::string& kind, const std::string& name,
                                         const std::string& app, const std::string& split_prefix,
                                         const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  RETURN_IF_ERROR(ValidateSplitPrefix(split_prefix));
  std::lock_guard app_lock(AppLock(app));
  if (!split_prefix.empty()) {
    ASSIGN_OR_RETURN(auto config, DokkuConfig(app));
    std::vector<std::string> unset = {"config:unset", "--no-restart", app};
    for (const auto& [k, v] : SplitServiceUrl("")) {
      if (config.count(split_prefix + k) > 0) unset.push_back(split_prefix + k);
    }
    if (unset.size() > 3) RETURN_IF_ERROR(Dokku(app, unset, out).status());
  }
  ASSIGN_OR_RETURN(DokkuOutput links, Dokku(app, {kind + ":info", name, "--links"}));
  std::vector<std::string> linked = Words(links.out);
  if (!Has(linked, app)) return absl::OkStatus();
  RETURN_IF_ERROR(Dokku(app, {kind + ":unlink", name, app}, out).status());
  ASSIGN_OR_RETURN(links, Dokku(app, {kind + ":info", name, "--links"}));  // read back
  if (Has(Words(links.out), app)) {
    return Differs(options_.server_name,
                   absl::StrCat(kind, " service ", name, " still linked to ", app));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::DestroyService(const std::string& kind, const std::string& name,
                                          const OutputFn& out) {
  RETURN_IF_ERROR(CheckServiceKind(kind));
  DokkuCommand exists{.args = {kind + ":exists", name}};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code != 0) return absl::OkStatus();
  RETURN_IF_ERROR(Dokku("", {kind + ":destroy", name, "-f"}, out).status());
  ASSIGN_OR_RETURN(e, cli_.Run(exists));  // read back
  if (e.exit_code == 0) {
    return Differs(options_.server_name, absl::StrCat(kind, " service ", name, " still there"));
  }
  return absl::OkStatus();
}

}  // namespace dflow::agent
