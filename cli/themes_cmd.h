// Internal to cli/: the theme commands are split over two files.
#ifndef DFLOW_CLI_THEMES_CMD_H_
#define DFLOW_CLI_THEMES_CMD_H_

#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace dflow::cli {

// themes install | uninstall | upgrade | secrets (themes_install_cmd.cc).
void RegisterThemeInstalls(CLI::App* themes, Globals& g);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_THEMES_CMD_H_
