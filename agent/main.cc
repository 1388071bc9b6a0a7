// dflow-agent: runs on every host and executes what the controller decides.
#include <CLI/CLI.hpp>

#include <iostream>

#include "agent/agent.h"
#include "common/names.h"
#include "common/version.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "dflow-agent: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dflow-agent: executes the controller's decisions on this host.\n\nExit codes: 0 ok, 1 "
      "failure, 2 usage error, 3 (run) the controller refused this agent:\nit was removed; join "
      "again with a new token."};
  app.set_version_flag("--version", dflow::kVersion);
  app.require_subcommand(1);

  dflow::agent::JoinOptions join_options;
  std::vector<std::string> labels;
  auto* join =
      app.add_subcommand("join", "Enrol this host with a controller using a one-time token");
  join->add_option("--token", join_options.token, "Token from `dflow servers join-token`")
      ->required();
  join->add_option("--name", join_options.name, "Server name (lowercase letters, digits, hyphens)")
      ->required();
  join->add_option("--listen", join_options.listen, "HOST:PORT where this agent serves its API")
      ->required();
  join->add_option("--advertise", join_options.advertise,
                   "HOST:PORT the controller dials (default: --listen)");
  join->add_option("--data-dir", join_options.data_dir, "Agent data directory (created 0700)")
      ->required();
  join->add_option("--label", labels, "Label k=v for placement constraints (repeatable)");
  join->add_option("--runtime", join_options.runtime,
                   "How this host runs apps: local (native processes) or dokku")
      ->check(CLI::IsMember({"local", "dokku"}));

  dflow::agent::RunOptions run_options;
  auto* run =
      app.add_subcommand("run", "Serve the agent API with mTLS and heartbeat to the controller");
  run->add_option("--data-dir", run_options.data_dir, "Agent data directory made by join")
      ->required();
  run->add_option("--router-listen", run_options.router_listen,
                  "HOST:PORT where this server's router (nginx) serves the apps over HTTP; saved "
                  "in agent.json for later runs (\"off\": no router)");
  run->add_option("--router-tls-listen", run_options.router_tls_listen,
                  "HOST:PORT where the router serves apps that have a certificate over HTTPS; "
                  "saved in agent.json (\"off\": none)");
  run->add_option("--runtime", run_options.runtime,
                  "local or dokku (Dokku 0.35 or newer, detected at start); saved in agent.json")
      ->check(CLI::IsMember({"local", "dokku"}));
  run->add_option("--dokku-bin", run_options.dokku_bin,
                  "The dokku program for --runtime dokku (default: dokku in PATH); saved in "
                  "agent.json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*join) {
    auto parsed = dflow::ParseLabels(labels);
    if (!parsed.ok()) {
      std::cerr << "dflow-agent: " << parsed.status().message() << "\n";
      return 2;
    }
    join_options.labels = *parsed;
    if (auto s = dflow::agent::Join(join_options); !s.ok()) return Fail(s);
    std::cout << "joined as " << join_options.name << "\nnext: dflow-agent run --data-dir "
              << join_options.data_dir << "\n";
    return 0;
  }
  if (auto s = dflow::agent::Run(run_options); !s.ok()) {
    Fail(s);
    // 3: the controller refused this agent (removed); restarting will not help.
    return s.code() == absl::StatusCode::kPermissionDenied ? 3 : 1;
  }
  return 0;
}
