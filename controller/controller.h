// The dflow-controller process: `init` prepares a data directory, `Run` serves
// until SIGTERM/SIGINT.
//
// Data directory layout (the directory itself is 0700):
//   lock             flock held while a controller runs (holds its pid)
//   store.db         SQLite store (WAL)
//   ca.key ca.pem    the private CA (key 0600)
//   controller.key controller.pem   serving/client certificate, issued at each run
//                    for the advertised address
//   controller.sock  CLI API (Unix socket)
//   archives/        release source archives, <sha256>.tar.gz (content-addressed)
//   repos/<app>.git  each app's bare git repository (controller/git/repos.h;
//                    elsewhere with --repos-dir)
//   git.sock         the pre-receive hook's socket (default; --git-socket)
//   git/             the authorized_keys generated from the store's push keys
//                    (default; --authorized-keys), and *.imported: the git files
//                    of earlier controllers, imported into the store
//   test-crash-fired left by the DFLOW_TEST_CRASH_AT fault-injection hook
//                    (controller/ops/crash_point.h; tests only)
#ifndef DFLOW_CONTROLLER_CONTROLLER_H_
#define DFLOW_CONTROLLER_CONTROLLER_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dflow::controller {

struct RunOptions {
  std::string data_dir;
  std::string listen = "127.0.0.1:7443";
  std::string advertise;  // empty: same as listen
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds lease{15000};
  std::chrono::milliseconds grace{60000};
  int64_t max_upload_bytes = int64_t{200} << 20;    // --max-upload
  std::chrono::milliseconds health_timeout{60000};  // --health-timeout
  std::chrono::milliseconds wait_to_retire{2000};   // --wait-to-retire
  std::string git_socket;                           // --git-socket (default DATA/git.sock)
  std::string repos_dir;                            // --repos-dir (default DATA/repos)
  std::string git_group = "dflow";                  // --git-group
  std::string authorized_keys;  // --authorized-keys (default DATA/git/authorized_keys)
  std::string git_safe_config;  // --git-safe-config (default: none)
  std::string http_listen = "127.0.0.1:7480";               // --http-listen
  int64_t http_max_body_bytes = int64_t{1} << 20;           // --http-max-body
  int http_workers = 16;                                    // --http-workers
  std::chrono::milliseconds webhook_rejected_every{60000};  // --webhook-rejected-every
  std::string themes_catalog;  // --themes-catalog (default: the catalog dflow was built with)
};

// Creates the data directory, the store and the CA. Refuses a directory that
// already holds a CA (so an existing fleet's trust is never replaced).
absl::Status Init(const std::string& data_dir);

// Serves until SIGTERM or SIGINT, then shuts down gracefully.
absl::Status Run(const RunOptions& options);

// The Unix socket path for a data dir, or InvalidArgument when it would exceed
// the 107-byte limit of sun_path.
absl::StatusOr<std::string> SocketPath(const std::string& data_dir);

}  // namespace dflow::controller

#endif  // DFLOW_CONTROLLER_CONTROLLER_H_
