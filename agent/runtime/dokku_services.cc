// DokkuRuntime: services from Dokku's plugins (postgres, redis, mysql) —
// create, read, link (with split variables), unlink, destroy. Each asks
// Dokku first (KIND:exists, KIND:info) and reads the change back.
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "agent/runtime/dokku_extras_util.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/dokku_names.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using dokku_extras::Differs;
using dokku_extras::Has;
using dokku_extras::Say;
using dokku_extras::Words;

absl::Status CheckServiceKind(const std::string& kind) { return ValidateServiceKind(kind); }

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
  if (Has(linked, app)) {
    Say(out, absl::StrCat(kind, " service ", name, " is linked to ", app,
                          " already (nothing to change)"));
    return absl::OkStatus();
  }
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
    // An unlink also reaches the service's server while the app runs nowhere
    // (plan_dokku.cc); an app that is not there has no variables to unset.
    auto config = DokkuConfig(app);
    if (!config.ok() && !absl::IsNotFound(config.status())) return config.status();
    std::vector<std::string> unset = {"config:unset", "--no-restart", app};
    for (const auto& [k, v] : SplitServiceUrl("")) {
      if (config.ok() && config->count(split_prefix + k) > 0) unset.push_back(split_prefix + k);
    }
    if (unset.size() > 3) RETURN_IF_ERROR(Dokku(app, unset, out).status());
  }
  ASSIGN_OR_RETURN(DokkuOutput links, Dokku(app, {kind + ":info", name, "--links"}));
  std::vector<std::string> linked = Words(links.out);
  if (!Has(linked, app)) {
    Say(out,
        absl::StrCat(kind, " service ", name, " is not linked to ", app, " (nothing to change)"));
    return absl::OkStatus();
  }
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
