// dflow: the command line for operators and developers. main() is a table of
// command groups; each registers its subcommands and sets the action to run.
#include <iostream>

#include "cli/command.h"
#include "common/version.h"

int main(int argc, char** argv) {
  using namespace dflow::cli;
  CLI::App app{
      "dflow: one platform out of many servers.\n\n"
      "The CLI finds the controller via --controller, else DFLOW_CONTROLLER (a Unix socket\n"
      "path), else $DFLOW_HOME/controller/controller.sock (DFLOW_HOME defaults to ~/.dflow).\n\n"
      "Exit codes: 0 ok, 1 failure, 2 usage error (`dflow run` passes the command's code on)."};
  app.set_version_flag("--version", dflow::kVersion);
  app.require_subcommand(1);
  Globals g;
  app.add_option("--controller", g.controller,
                 "Controller socket path (overrides DFLOW_CONTROLLER)");
  using Register = void (*)(CLI::App&, Globals&);
  for (Register r :
       {RegisterStatus, RegisterServers, RegisterEvents, RegisterApps, RegisterDeploy,
        RegisterScale, RegisterConfig, RegisterReleases, RegisterRun, RegisterOps, RegisterAppsSet,
        RegisterKeys, RegisterDokku, RegisterServices, RegisterThemes}) {
    r(app, g);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!g.action) return 2;
  absl::Status s = g.action();
  if (s.ok()) return g.exit_code.value_or(0);
  std::cerr << "dflow: " << UsageMessage(s) << "\n";
  return IsUsageError(s) ? 2 : 1;
}
