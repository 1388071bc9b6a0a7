// dflow-controller: the single source of truth of a dflow fleet.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "common/duration.h"
#include "common/version.h"
#include "controller/controller.h"

namespace {

int Fail(const absl::Status& s) {
  std::cerr << "dflow-controller: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives every thread that allocates its own arena and keeps what they
  // free; two arenas keep an idle controller's heap small at no measurable cost.
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"dflow-controller: the control plane of a dflow fleet.\n\nExit codes: 0 ok, 1 failure, 2 usage error."};
  app.set_version_flag("--version", dflow::kVersion);
  app.require_subcommand(1);

  std::string data_dir;
  auto* init = app.add_subcommand("init", "Create a data directory: SQLite store and private CA");
  init->add_option("--data-dir", data_dir, "Data directory (created 0700)")->required();

  dflow::controller::RunOptions run_options;
  std::string heartbeat = "5s", lease = "15s", grace = "60s";
  auto* run = app.add_subcommand("run", "Serve the agent API (TLS) and the CLI API (Unix socket)");
  run->add_option("--data-dir", run_options.data_dir, "Data directory made by init")->required();
  run->add_option("--listen", run_options.listen, "HOST:PORT for the agent API")
      ->capture_default_str();
  run->add_option("--advertise", run_options.advertise,
                  "HOST:PORT agents dial (goes into join tokens and the certificate; default: --listen)");
  run->add_option("--heartbeat-interval", heartbeat, "How often agents heartbeat")
      ->capture_default_str();
  run->add_option("--lease", lease, "A server without a heartbeat this long is unreachable")
      ->capture_default_str();
  run->add_option("--grace", grace,
                  "An unreachable server's instances are placed elsewhere after this long")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*init) {
    if (auto s = dflow::controller::Init(data_dir); !s.ok()) return Fail(s);
    std::cout << "initialized " << data_dir << "\nnext: dflow-controller run --data-dir "
              << data_dir << "\n";
    return 0;
  }
  for (auto [text, target] : {std::pair{&heartbeat, &run_options.heartbeat_interval},
                              std::pair{&lease, &run_options.lease},
                              std::pair{&grace, &run_options.grace}}) {
    auto d = dflow::ParseDuration(*text);
    if (!d.ok()) {
      std::cerr << "dflow-controller: " << d.status().message() << "\n";
      return 2;
    }
    *target = *d;
  }
  if (run_options.lease <= run_options.heartbeat_interval) {
    std::cerr << "dflow-controller: --lease must be longer than --heartbeat-interval\n";
    return 2;
  }
  if (auto s = dflow::controller::Run(run_options); !s.ok()) return Fail(s);
  return 0;
}
