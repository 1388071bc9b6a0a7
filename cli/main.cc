// dflow: the command line for operators and developers.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "common/version.h"

namespace dflow::cli {

absl::Status UsageError(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("usage: ", message));
}

bool IsUsageError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument && s.message().rfind("usage: ", 0) == 0;
}

}  // namespace dflow::cli

int main(int argc, char** argv) {
  using namespace dflow::cli;
  CLI::App app{
      "dflow: one platform out of many servers.\n\n"
      "The CLI finds the controller via --controller, else DFLOW_CONTROLLER (a Unix socket\n"
      "path), else $DFLOW_HOME/controller/controller.sock (DFLOW_HOME defaults to ~/.dflow).\n\n"
      "Exit codes: 0 ok, 1 failure, 2 usage error."};
  app.set_version_flag("--version", dflow::kVersion);
  app.require_subcommand(1);
  Globals g;
  app.add_option("--controller", g.controller, "Controller socket path (overrides DFLOW_CONTROLLER)");
  RegisterStatus(app, g);
  RegisterServers(app, g);
  RegisterEvents(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!g.action) return 2;
  absl::Status s = g.action();
  if (s.ok()) return 0;
  if (IsUsageError(s)) {
    std::cerr << "dflow: " << s.message().substr(7) << "\n";
    return 2;
  }
  std::cerr << "dflow: " << s.message() << "\n";
  return 1;
}
