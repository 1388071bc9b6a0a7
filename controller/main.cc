// dflow-controller: the single source of truth of a dflow fleet.
#include <malloc.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <cstdint>
#include <iostream>

#include "common/duration.h"
#include "common/hostname.h"
#include "common/version.h"
#include "controller/controller.h"
#include "controller/git/git_shell.h"
#include "controller/git/hook_client.h"
#include "controller/routing/routing.h"

namespace {

// "200MiB", "200M", "1G", "512k" or bytes; binary units.
bool ParseSize(const std::string& text, int64_t* out) {
  size_t i = 0;
  int64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (int64_t{1} << 50)) return false;
    n = n * 10 + (text[i++] - '0');
  }
  if (i == 0) return false;
  std::string unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  if (unit == "" || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    shift = 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    shift = 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    shift = 30;
  } else {
    return false;
  }
  *out = n << shift;
  return *out > 0;
}

int Fail(const absl::Status& s) {
  std::cerr << "dflow-controller: " << s.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives every thread that allocates its own arena and keeps what they
  // free; two arenas keep an idle controller's heap small at no measurable cost.
  mallopt(M_ARENA_MAX, 2);
  // Each app repository's hooks/pre-receive is a symlink to this program.
  if (std::string self = argv[0];
      self.size() >= 11 && self.substr(self.size() - 11) == "pre-receive") {
    return dflow::git::RunPreReceive();
  }
  CLI::App app{
      "dflow-controller: the control plane of a dflow fleet.\n\nExit codes: 0 ok, 1 failure, 2 "
      "usage error."};
  app.set_version_flag("--version", dflow::kVersion);
  app.require_subcommand(1);

  std::string data_dir;
  auto* init = app.add_subcommand("init", "Create a data directory: SQLite store and private CA");
  init->add_option("--data-dir", data_dir, "Data directory (created 0700)")->required();
  std::string domain = dflow::routing::kDefaultBaseDomain;
  init->add_option("--domain", domain,
                   "Base domain: every app is reached at http://APP.DOMAIN through the routers")
      ->capture_default_str();

  dflow::controller::RunOptions run_options;
  std::string heartbeat = "5s", lease = "15s", grace = "60s", max_upload = "200MiB",
              health_timeout = "60s", wait_to_retire = "2s", webhook_rejected_every = "1m";
  auto* run = app.add_subcommand("run", "Serve the agent API (TLS) and the CLI API (Unix socket)");
  run->add_option("--data-dir", run_options.data_dir, "Data directory made by init")->required();
  run->add_option("--listen", run_options.listen, "HOST:PORT for the agent API")
      ->capture_default_str();
  run->add_option(
      "--advertise", run_options.advertise,
      "HOST:PORT agents dial (goes into join tokens and the certificate; default: --listen)");
  run->add_option("--heartbeat-interval", heartbeat, "How often agents heartbeat")
      ->capture_default_str();
  run->add_option("--lease", lease, "A server without a heartbeat this long is unreachable")
      ->capture_default_str();
  run->add_option("--grace", grace,
                  "An unreachable server's instances are placed elsewhere after this long")
      ->capture_default_str();
  run->add_option("--max-upload", max_upload, "Largest source upload accepted (e.g. 200MiB, 1GiB)")
      ->capture_default_str();
  run->add_option("--health-timeout", health_timeout,
                  "How long a new instance may take to pass its health check (an app "
                  "installed from a theme uses the theme's healthcheck.timeout)")
      ->capture_default_str();
  run->add_option("--wait-to-retire", wait_to_retire,
                  "How long an instance leaving the routers (deploy, scale-down) keeps serving "
                  "its in-flight requests before it is stopped")
      ->capture_default_str();
  run->add_option(
      "--git-socket", run_options.git_socket,
      "Unix socket the pre-receive hook and git-shell dial (default DATA/git.sock; 0660, "
      "group --git-group). For pushes over SSH put it outside the data dir, e.g. "
      "/var/lib/dflow-git/git.sock");
  run->add_option("--repos-dir", run_options.repos_dir,
                  "Directory of the apps' git repositories (default DATA/repos). For pushes over "
                  "SSH put it outside the 0700 data dir, e.g. /var/lib/dflow-git/repos: it is "
                  "made 02770 and group --git-group");
  run->add_option("--git-group", run_options.git_group,
                  "Group whose members may use the git socket (besides the controller's user) and "
                  "write the repositories: the SSH git user's group (deploy/git-user.sh)")
      ->capture_default_str();
  run->add_option("--authorized-keys", run_options.authorized_keys,
                  "The authorized_keys file the controller writes for the git user from `dflow "
                  "keys`, e.g. /var/lib/dflow-git/.ssh/authorized_keys (default "
                  "DATA/git/authorized_keys)");
  run->add_option("--git-safe-config", run_options.git_safe_config,
                  "A git config file the controller keeps listing every app repository as a "
                  "safe.directory, so members of --git-group may `git push REPOS/APP.git`; "
                  "include it from the system gitconfig (deploy/git-user.sh does, with "
                  "HOME/safe-directories.gitconfig). Put it where the group cannot write");
  std::string http_max_body = "1MiB";
  run->add_option("--http-listen", run_options.http_listen,
                  "HOST:PORT of the HTTP listener (webhooks: POST /hooks/github, /hooks/gitlab); "
                  "port 0 picks a free one")
      ->capture_default_str();
  run->add_option("--http-max-body", http_max_body,
                  "Largest HTTP request body accepted; larger ones get 413")
      ->capture_default_str();
  run->add_option("--http-workers", run_options.http_workers,
                  "Threads serving HTTP connections (an idle kept-alive connection holds one for "
                  "at most 2s)")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  run->add_option("--webhook-rejected-every", webhook_rejected_every,
                  "At most one git.webhook_rejected event (a webhook answered 401: bad signature "
                  "or token) per app this often; the next one counts those left out")
      ->capture_default_str();
  run->add_option("--themes-catalog", run_options.themes_catalog,
                  "Directory of built-in themes (<name>/theme.yaml); default: the catalog "
                  "dflow was built with (" DFLOW_THEMES_CATALOG_DIR ")");

  std::string shell_socket, shell_key;
  auto* git_shell = app.add_subcommand(
      "git-shell",
      "The forced command of the git user's authorized_keys lines: serves git push/clone of one "
      "app (SSH_ORIGINAL_COMMAND) if the key may");
  git_shell->add_option("--socket", shell_socket, "The controller's git socket")->required();
  git_shell->add_option("--key", shell_key, "The name of the key sshd authenticated")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (*git_shell) return dflow::git::RunGitShell(shell_socket, shell_key);
  if (*init) {
    if (auto s = dflow::ValidateHostname("--domain", domain, /*allow_single_label=*/true);
        !s.ok()) {
      std::cerr << "dflow-controller: " << s.message() << "\n";
      return 2;
    }
    if (auto s = dflow::controller::Init(data_dir); !s.ok()) return Fail(s);
    if (auto s = dflow::routing::SaveBaseDomainIn(data_dir, domain); !s.ok()) return Fail(s);
    std::cout << "initialized " << data_dir << "\nnext: dflow-controller run --data-dir "
              << data_dir << "\n";
    return 0;
  }
  for (auto [text, target] :
       {std::pair{&heartbeat, &run_options.heartbeat_interval},
        std::pair{&lease, &run_options.lease}, std::pair{&grace, &run_options.grace},
        std::pair{&health_timeout, &run_options.health_timeout},
        std::pair{&wait_to_retire, &run_options.wait_to_retire},
        std::pair{&webhook_rejected_every, &run_options.webhook_rejected_every}}) {
    auto d = dflow::ParseDuration(*text);
    if (!d.ok()) {
      std::cerr << "dflow-controller: " << d.status().message() << "\n";
      return 2;
    }
    *target = *d;
  }
  if (!ParseSize(http_max_body, &run_options.http_max_body_bytes)) {
    std::cerr << "dflow-controller: --http-max-body \"" << http_max_body
              << "\" is not a size; write e.g. 1MiB or 512KiB\n";
    return 2;
  }
  if (!ParseSize(max_upload, &run_options.max_upload_bytes)) {
    std::cerr << "dflow-controller: --max-upload \"" << max_upload
              << "\" is not a size; write e.g. 200MiB or 1GiB\n";
    return 2;
  }
  if (run_options.lease <= run_options.heartbeat_interval) {
    std::cerr << "dflow-controller: --lease must be longer than --heartbeat-interval\n";
    return 2;
  }
  if (auto s = dflow::controller::Run(run_options); !s.ok()) return Fail(s);
  return 0;
}
