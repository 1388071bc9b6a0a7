// What every command group shares: global flags and the action to run after parsing.
#ifndef DFLOW_CLI_COMMAND_H_
#define DFLOW_CLI_COMMAND_H_

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace dflow::cli {

// An error in what the user typed (exit code 2), as opposed to a failure (1).
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& s);

struct Globals {
  std::string controller;  // --controller
  // Set by the chosen subcommand's callback; run by main after parsing.
  std::function<absl::Status()> action;
};

void RegisterStatus(CLI::App& app, Globals& g);
void RegisterServers(CLI::App& app, Globals& g);
void RegisterEvents(CLI::App& app, Globals& g);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_COMMAND_H_
