// Internal to cli/: the theme commands are split over two files.
#ifndef DFLOW_CLI_THEMES_CMD_H_
#define DFLOW_CLI_THEMES_CMD_H_

#include <CLI/CLI.hpp>

#include <string>

#include "absl/status/status.h"
#include "cli/client.h"
#include "cli/command.h"

namespace dflow::cli {

// themes install | uninstall | upgrade | secrets (themes_install_cmd.cc).
void RegisterThemeInstalls(CLI::App* themes, Globals& g);

// After an app's destroy op succeeded: an error naming each service of its
// theme install that was not destroyed (on which server, and the command that
// finishes it); OK when the app was no theme app or nothing is left.
absl::Status ReportThemeLeftovers(Client& client, const std::string& app);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_THEMES_CMD_H_
