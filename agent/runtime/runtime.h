// The Runtime interface: how an agent runs an app's releases on its host.
// Two implementations: LocalRuntime (native supervised processes; the embedded
// default) and DokkuRuntime (drives Dokku). The agent's gRPC service translates
// RPCs into these calls; the controller decides what to call and when.
//
// Every method is idempotent by its natural key (app+version, instance id), so a
// retried controller step never acts twice. Implementations are thread-safe.
#ifndef DFLOW_AGENT_RUNTIME_RUNTIME_H_
#define DFLOW_AGENT_RUNTIME_RUNTIME_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dflow::agent {

// Receives progress/output text as it happens (a line or a chunk at a time).
using OutputFn = std::function<void(const std::string& text)>;

struct ReleaseSpec {
  std::string app;
  int64_t version = 0;                     // v1, v2, …
  std::string archive_path;                // a .tar.gz of the source tree, on local disk
  std::string source_digest;               // SHA-256 hex of the archive
  std::map<std::string, std::string> env;  // the release's config
  std::string health_path;                 // HTTP GET path; empty: TCP connect
  int64_t memory_bytes = 0;                // per-instance limit; 0: none
  double cpus = 0;                         // per-instance share; 0: none
  // A pinned container image ("repo:tag") to deploy instead of an archive
  // (archive_path and source_digest are then empty). Only Dokku runs images.
  std::string image{};
};

struct InstanceSpec {
  std::string id;  // unique, chosen by the controller, e.g. "shop-web-3k9x2a"
  std::string app;
  std::string process;  // a Procfile process type, e.g. "web"
  int64_t release = 0;  // a prepared release version
  int port = 0;         // 0: the runtime picks a free one
};

enum class InstanceState {
  kStarting,  // spawned, health check not passed yet
  kRunning,   // healthy
  kBackoff,   // crashed; waiting to restart
  kStopping,
  kStopped,
  kFailed,  // gave up (health never passed)
};
const char* InstanceStateName(InstanceState s);

struct InstanceStatus {
  std::string id;
  std::string app;
  std::string process;
  int64_t release = 0;
  int port = 0;
  int pid = 0;
  InstanceState state = InstanceState::kStarting;
  int64_t started_at_ms = 0;
  int restarts = 0;
  std::string last_error;
  // What starting it printed (a Dokku build and deploy), when it did anything.
  std::string output{};
};

// A service (postgres, redis) as its host reports it.
struct ServiceInfo {
  std::string dsn{};     // the URL a linked app gets, e.g. postgres://u:p@host:5432/db
  int exposed_port = 0;  // the host port it is exposed on; 0: not exposed
};

struct LogLine {
  int64_t time_ms = 0;
  std::string instance;
  std::string process;
  std::string text;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  virtual std::string Kind() const = 0;  // "local" | "dokku"

  // Makes the release ready to start: unpacks the archive, reads its Procfile,
  // records env and settings. A release already prepared is left as it is.
  // Fails with InvalidArgument when the archive has no Procfile or it is malformed.
  virtual absl::Status PrepareRelease(const ReleaseSpec& spec, const OutputFn& out) = 0;
  // Process types of a prepared release (from its Procfile), e.g. {"web": "python3 app.py"}.
  virtual absl::StatusOr<std::map<std::string, std::string>> Processes(const std::string& app,
                                                                       int64_t version) = 0;
  // Runs the Procfile's `release:` command once for this release; OK at once when
  // it already succeeded or there is none. Its output goes to `out`.
  virtual absl::Status RunReleaseCommand(const std::string& app, int64_t version,
                                         std::chrono::milliseconds deadline,
                                         const OutputFn& out) = 0;
  // Starts the instance (or finds it already started) and waits until its health
  // check passes. On failure to become healthy before `health_deadline`, stops it
  // and returns FailedPrecondition with the reason and the last log lines.
  virtual absl::StatusOr<InstanceStatus> StartInstance(
      const InstanceSpec& spec, std::chrono::milliseconds health_deadline) = 0;
  // StartInstance, with what starting it prints (a Dokku build and deploy)
  // sent to `out` as it happens. Default: StartInstance, nothing printed.
  virtual absl::StatusOr<InstanceStatus> StartInstanceStreaming(
      const InstanceSpec& spec, std::chrono::milliseconds health_deadline, const OutputFn& out) {
    (void)out;
    return StartInstance(spec, health_deadline);
  }
  // Stops the instance's process group: SIGTERM, then SIGKILL after `grace`.
  // OK when it is unknown or already stopped.
  virtual absl::Status StopInstance(const std::string& id, std::chrono::milliseconds grace) = 0;
  virtual std::vector<InstanceStatus> ListInstances() = 0;
  // The last `n` log lines of the app's instances (optionally one process type),
  // oldest first.
  virtual absl::StatusOr<std::vector<LogLine>> Logs(const std::string& app,
                                                    const std::string& process, int n) = 0;
  // Runs a one-off command with the release's tree and env; output to `out`;
  // returns its exit code.
  virtual absl::StatusOr<int> RunOneOff(const std::string& app, int64_t version,
                                        const std::vector<std::string>& argv,
                                        std::chrono::milliseconds deadline,
                                        const OutputFn& out) = 0;
  // Stops every instance of the app and removes its releases and logs.
  virtual absl::Status DestroyApp(const std::string& app) = 0;

  // What Dokku adds: domains, ports, storage, checks and services. Each is
  // idempotent (checks first). The defaults answer Unimplemented naming what is
  // missing (e.g. "ports"); the agent turns that into FailedPrecondition saying
  // which runtime the server runs and how to get a Dokku one.
  virtual absl::Status AddDomain(const std::string& app, const std::string& host,
                                 const OutputFn& out);
  virtual absl::Status RemoveDomain(const std::string& app, const std::string& host,
                                    const OutputFn& out);
  // `maps` like "http:80:5000"; replaces the app's port maps.
  virtual absl::Status SetPorts(const std::string& app, const std::vector<std::string>& maps,
                                const OutputFn& out);
  // `source`: a storage name or an existing absolute host path; `chown`: a
  // named storage's owner (ValidateStorageChown; "" = herokuish).
  virtual absl::Status MountStorage(const std::string& app, const std::string& source,
                                    const std::string& container_dir, const std::string& chown,
                                    const OutputFn& out);
  virtual absl::Status UnmountStorage(const std::string& app, const std::string& source,
                                      const std::string& container_dir, const OutputFn& out);
  // key: wait | timeout | attempts | wait-to-retire; value: whole seconds (attempts: a count).
  virtual absl::Status SetCheck(const std::string& app, const std::string& key,
                                const std::string& value, const OutputFn& out);
  // Forgets the setting; nothing to do when it is not set (or the app is absent).
  virtual absl::Status UnsetCheck(const std::string& app, const std::string& key,
                                  const OutputFn& out);
  // kind: postgres | redis. `expose`: reachable on a host port from other servers.
  virtual absl::StatusOr<ServiceInfo> CreateService(const std::string& kind,
                                                    const std::string& name, bool expose,
                                                    const OutputFn& out);
  // An existing service's URL and exposed port, read from the host; NotFound
  // when there is none. Changes nothing.
  virtual absl::StatusOr<ServiceInfo> GetService(const std::string& kind, const std::string& name);
  // A non-empty `split_prefix` also sets PREFIX_HOST, _PORT, _USER, _PASSWORD,
  // _DATABASE from the service URL (and unlinking unsets them).
  virtual absl::Status LinkService(const std::string& kind, const std::string& name,
                                   const std::string& app, const std::string& split_prefix,
                                   const OutputFn& out);
  virtual absl::Status UnlinkService(const std::string& kind, const std::string& name,
                                     const std::string& app, const std::string& split_prefix,
                                     const OutputFn& out);
  virtual absl::Status DestroyService(const std::string& kind, const std::string& name,
                                      const OutputFn& out);
  // The app's TLS certificate on the host's proxy (PEM chain, leaf first, and
  // its key); replaces one already there. RemoveCert: OK when there is none.
  virtual absl::Status AddCert(const std::string& app, const std::string& cert_pem,
                               const std::string& key_pem, const OutputFn& out);
  virtual absl::Status RemoveCert(const std::string& app, const OutputFn& out);
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_RUNTIME_H_
