// What every command group shares: global flags, the action to run after
// parsing, and the usage-error convention (exit 2) that main() applies.
#ifndef DFLOW_CLI_COMMAND_H_
#define DFLOW_CLI_COMMAND_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace dflow::cli {

// An error in what the user typed (exit code 2), as opposed to a failure (1).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& s);
// The message without the "usage: " marker.
absl::string_view UsageMessage(const absl::Status& s);

// An app name as typed on the command line: a usage error unless it follows
// the app-name rule (common/names.h).
absl::Status CheckAppArg(absl::string_view name);

struct Globals {
  std::string controller;  // --controller
  // Set by the chosen subcommand's callback; run by main after parsing.
  std::function<absl::Status()> action;
  // When an action succeeds and sets this, main exits with it (`dflow run`
  // passes the remote command's exit code through).
  std::optional<int> exit_code;
};

void RegisterStatus(CLI::App& app, Globals& g);
void RegisterServers(CLI::App& app, Globals& g);
void RegisterEvents(CLI::App& app, Globals& g);
// Issue 4: apps, releases, instances and durable operations.
void RegisterApps(CLI::App& app, Globals& g);      // apps create|ls|show|destroy
void RegisterDeploy(CLI::App& app, Globals& g);    // deploy
void RegisterScale(CLI::App& app, Globals& g);     // scale, ps
void RegisterConfig(CLI::App& app, Globals& g);    // config set|unset|get|ls
void RegisterReleases(CLI::App& app, Globals& g);  // releases, rollback, restart
void RegisterRun(CLI::App& app, Globals& g);       // run, logs
void RegisterOps(CLI::App& app, Globals& g);       // ops ls|show|cancel
void RegisterDomains(CLI::App& app, Globals& g);   // domains add|rm|ls (from RegisterApps)
void RegisterCerts(CLI::App& app, Globals& g);     // certs add|ls|rm (from RegisterDomains)
// Issue 7: git push deploys.
void RegisterAppsSet(CLI::App& app, Globals& g);  // apps set (after RegisterApps)
void RegisterKeys(CLI::App& app, Globals& g);     // keys add|ls|rm
// Issue 5: what Dokku adds.
void RegisterDokku(CLI::App& app, Globals& g);     // ports, storage, checks
void RegisterServices(CLI::App& app, Globals& g);  // services create|link|unlink|destroy|ls

// Issue 6: themes.
void RegisterThemes(CLI::App& app, Globals& g);  // themes validate|ls|show|add|install|…

}  // namespace dflow::cli

#endif  // DFLOW_CLI_COMMAND_H_
