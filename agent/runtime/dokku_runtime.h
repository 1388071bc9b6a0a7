// DokkuRuntime: the Runtime on hosts where Dokku runs the apps. Every
// operation is one or more `dokku` argv runs (DokkuCli: posix_spawn, no shell,
// deadline, output cap); what Dokku reports is read back after every change
// and compared with what was asked.
//
// How the Runtime contract maps onto Dokku
// - App: a Dokku app of the same name, created at the first PrepareRelease
//   (`apps:exists` first, `apps:create` only when it exits 20).
// - Release: PrepareRelease unpacks the archive under DATA/dokku/releases/APP/vN,
//   reads its Procfile, checks the config values Dokku can store, and records
//   the release. Nothing changes on Dokku yet.
// - Instance: one Dokku process container. Dokku runs one release of an app at
//   a time, at a formation (`ps:scale`); the controller's instances on this host
//   map onto it: for each process type the formation is the largest number of
//   recorded instances any one release has here. So a rolling deploy (new
//   instances start, then old ones stop) keeps the count steady while Dokku
//   replaces the containers with its own zero-downtime deploy; a scale changes
//   it; a restart (fresh instances of the same release) scales up, then back.
//   An instance's state is its container's (`ps:report`: web.1, web.2, … are
//   given to the instances of a release in start order); one without a
//   container is `stopped`, so the controller replaces it.
// - StartInstance of a release newer than the one deployed deploys it: config
//   (`config:set --no-restart --encoded`, `config:unset` of keys dflow set
//   before, read back with `config:export --format json`), `resource:limit`
//   and `resource:reserve` (--memory/--cpu), `checks:set wait-to-retire`, the
//   formation (`ps:scale --skip-deploy`), then the source: the release archive
//   on stdin to `git:from-archive --archive-type tar.gz APP --`, with the
//   health check written into its app.json (`healthchecks.web`). A release with
//   the tree already deployed (a config change) is rolled out by `ps:restart`.
//   The Procfile's `release:` command runs inside that deploy, so
//   RunReleaseCommand has nothing to do. A deploy that fails leaves Dokku on the
//   previous release (Dokku's checks keep the old containers) and the config is
//   put back. The controller's deadline for StartInstance (its
//   --health-timeout) bounds the whole build and deploy.
// - StopInstance forgets the instance and scales down. When the instances left
//   belong to an older release than the one deployed (a deploy undone by the
//   controller), that release is deployed again from its stored archive.
//   The instance is forgotten before Dokku changes, so a stop whose change
//   failed (or an agent killed in between) leaves a formation behind: a stop
//   of an unknown id finishes every such app (the controller retries stops).
//   `grace` becomes the app's stop timeout before that change (whole seconds,
//   rounded up): `ps:set APP stop-timeout-seconds N` on Dokku 0.36 and newer,
//   the DOKKU_DOCKER_STOP_TIMEOUT config var on 0.35 (`config:set
//   --no-restart`), each asked first and read back. Dokku applies it per app,
//   to every container it stops or retires afterwards (deploys too). A
//   scale-down is asynchronous in one respect: Dokku drops the containers from
//   `ps:report` at once and stops them wait-to-retire seconds later
//   (scheduler-register-retired), with that timeout.
// - After every change to the processes (deploy, restart, scale up or down)
//   `ps:report` is read back: the app must be deployed and run exactly the
//   asked number of containers of each type, none of the others; a difference
//   is an error naming the server, the app and the counts (Dokku's deploy and
//   scale return only once the new containers passed their checks, so there is
//   nothing left to wait for). A container that dies later is seen by
//   ListInstances, which reports its instance stopped with the reason.
// - An image release (ReleaseSpec::image, `dflow deploy --image`) has no tree:
//   its deploy is `git:from-image APP IMAGE` after the same config, resources
//   and formation; it runs as `web`.
// - What Dokku adds (domains, ports, storage, checks, services; dokku_extras.cc)
//   asks Dokku first (report, list, info) and changes only what differs.
// - Rollback needs nothing special: the controller's rollback is a new release
//   carrying the old archive and config, deployed like any other. Dokku keeps
//   only the git history of the app's repo and its latest image; the
//   controller's release record stays the truth.
// - Logs: `logs APP --num N [--ps TYPE]`, dynos mapped back to instance ids.
// - RunOneOff: `run APP CMD…` (argv kept: Dokku passes it to `docker run`).
// - DestroyApp: `apps:destroy APP --force` (exit 20 is fine: already gone).
//
// Thread-safe: operations on one app are serialized; ListInstances reads a
// snapshot and does not wait for a running deploy.
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_RUNTIME_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_RUNTIME_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/runtime/dokku_cli.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_state.h"
#include "agent/runtime/runtime.h"

namespace dflow::agent {

struct DokkuRuntimeOptions {
  std::string data_dir{};  // the agent's; this runtime keeps DATA/dokku
  std::string server_name{};
  std::string dokku_binary = "dokku";
  ProcessRunner* runner = nullptr;      // runs dokku; default: a PosixProcessRunner
  ProcessRunner* tar_runner = nullptr;  // runs tar; default: a PosixProcessRunner
  std::chrono::milliseconds command_timeout{std::chrono::seconds(120)};  // settings commands
};

// Why a config value cannot go to Dokku as it is (InvalidArgument), or OK.
// Dokku stores config with godotenv, which changes a value ending in `"` (and
// breaks the file at the next write), cannot read one ending in a backslash,
// and writes integer-looking values as integers ("007" comes back "7").
absl::Status CheckDokkuConfigValue(const std::string& key, const std::string& value);

// The tar archive `dokku certs:add APP` reads on stdin: server.crt and
// server.key, mode 0600 (dokku_certs.cc).
std::string CertTarForDokku(const std::string& cert_pem, const std::string& key_pem);

class DokkuRuntime : public Runtime {
 public:
  // Runs `dokku version` and refuses Dokku older than kMinimumDokkuVersion.
  static absl::StatusOr<std::unique_ptr<DokkuRuntime>> Open(DokkuRuntimeOptions options);
  ~DokkuRuntime() override;

  const DokkuVersion& version() const { return version_; }

  std::string Kind() const override { return "dokku"; }
  absl::Status PrepareRelease(const ReleaseSpec& spec, const OutputFn& out) override;
  absl::StatusOr<std::map<std::string, std::string>> Processes(const std::string& app,
                                                               int64_t version) override;
  absl::Status RunReleaseCommand(const std::string& app, int64_t version,
                                 std::chrono::milliseconds deadline, const OutputFn& out) override;
  absl::StatusOr<InstanceStatus> StartInstance(const InstanceSpec& spec,
                                               std::chrono::milliseconds health_deadline) override;
  // Dokku's build and deploy output goes to `out` a chunk at a time.
  absl::StatusOr<InstanceStatus> StartInstanceStreaming(const InstanceSpec& spec,
                                                        std::chrono::milliseconds health_deadline,
                                                        const OutputFn& out) override;
  absl::Status StopInstance(const std::string& id, std::chrono::milliseconds grace) override;
  std::vector<InstanceStatus> ListInstances() override;
  absl::StatusOr<std::vector<LogLine>> Logs(const std::string& app, const std::string& process,
                                            int n) override;
  absl::StatusOr<int> RunOneOff(const std::string& app, int64_t version,
                                const std::vector<std::string>& argv,
                                std::chrono::milliseconds deadline, const OutputFn& out) override;
  absl::Status DestroyApp(const std::string& app) override;

  // What Dokku adds (dokku_extras.cc). Each checks first, so a retry is harmless.
  absl::Status AddDomain(const std::string& app, const std::string& host,
                         const OutputFn& out) override;
  absl::Status RemoveDomain(const std::string& app, const std::string& host,
                            const OutputFn& out) override;
  absl::StatusOr<std::vector<std::string>> Domains(const std::string& app);
  // `maps` like "http:80:5000".
  absl::Status SetPorts(const std::string& app, const std::vector<std::string>& maps,
                        const OutputFn& out) override;
  // `source` is a storage name (created with storage:create, or
  // storage:ensure-directory before 0.38) or an existing absolute host path.
  absl::Status MountStorage(const std::string& app, const std::string& source,
                            const std::string& container_dir, const std::string& chown,
                            const OutputFn& out) override;
  absl::Status UnmountStorage(const std::string& app, const std::string& source,
                              const std::string& container_dir, const OutputFn& out) override;
  // wait | timeout | attempts go into the app.json of the next deploy;
  // wait-to-retire is `checks:set`, asked with checks:report first and read
  // back (a difference: DataLoss naming the server).
  absl::Status SetCheck(const std::string& app, const std::string& key, const std::string& value,
                        const OutputFn& out) override;
  // Forgets the setting for the next deploy's app.json; wait-to-retire is
  // `checks:set APP wait-to-retire` with no value, asked with checks:report
  // first (unset already: nothing to run) and read back. An absent app: nothing to remove.
  absl::Status UnsetCheck(const std::string& app, const std::string& key,
                          const OutputFn& out) override;
  // kind: "postgres" | "redis". `expose`: KIND:expose (a host port picked by
  // Docker), so apps on other servers reach it at this host's address.
  absl::StatusOr<ServiceInfo> CreateService(const std::string& kind, const std::string& name,
                                            bool expose, const OutputFn& out) override;
  // KIND:exists (NotFound when it fails), KIND:info --exposed-ports and --dsn.
  absl::StatusOr<ServiceInfo> GetService(const std::string& kind, const std::string& name) override;
  // Links; with a non-empty `split_prefix` also sets PREFIX_HOST, _PORT, _USER,
  // _PASSWORD, _DATABASE from the URL the link set.
  absl::Status LinkService(const std::string& kind, const std::string& name, const std::string& app,
                           const std::string& split_prefix, const OutputFn& out) override;
  absl::Status UnlinkService(const std::string& kind, const std::string& name,
                             const std::string& app, const std::string& split_prefix,
                             const OutputFn& out) override;
  absl::Status DestroyService(const std::string& kind, const std::string& name,
                              const OutputFn& out) override;
  // dokku_certs.cc
  absl::Status AddCert(const std::string& app, const std::string& cert_pem,
                       const std::string& key_pem, const OutputFn& out) override;
  absl::Status RemoveCert(const std::string& app, const OutputFn& out) override;

 private:
  DokkuRuntime(DokkuRuntimeOptions options, std::unique_ptr<ProcessRunner> owned_runner,
               std::unique_ptr<ProcessRunner> owned_tar_runner, DokkuState state,
               DokkuVersion version);

  std::mutex& AppLock(const std::string& app);
  DokkuApp Snapshot(const std::string& app);
  absl::Status Commit(const std::string& app, const DokkuApp& a);
  absl::Status SetConfigQuietly(const std::string& app, const std::vector<std::string>& args,
                                const OutputFn& out);
  absl::StatusOr<DokkuOutput> Dokku(const std::string& app, std::vector<std::string> args,
                                    const OutputFn& out = nullptr,
                                    std::chrono::milliseconds deadline = {},
                                    std::string stdin_data = "");

  // After a stop forgot its instance: scale down, or deploy back the release
  // the instances left run (a deploy undone), with the grace as stop timeout.
  // dokku_stop.cc
  absl::Status ApplyStop(const std::string& app, DokkuApp& a, std::chrono::milliseconds grace,
                         const OutputFn& log);
  absl::Status FinishStops(std::chrono::milliseconds grace);

  // dokku_deploy.cc
  absl::Status Deploy(const std::string& app, DokkuApp& a, const DokkuRelease& release,
                      const std::map<std::string, int>& formation,
                      std::chrono::milliseconds deadline, const OutputFn& out);
  absl::Status SyncConfig(const std::string& app, DokkuApp& a,
                          const std::map<std::string, std::string>& env, const OutputFn& out);
  absl::Status ApplyResources(const std::string& app, DokkuApp& a, const DokkuRelease& release,
                              const OutputFn& out);
  absl::StatusOr<std::string> PackTree(const DokkuApp& a, const DokkuRelease& release,
                                       std::string* tree_key);
  absl::Status Scale(const std::string& app, const std::map<std::string, int>& formation,
                     bool skip_deploy, std::chrono::milliseconds deadline, const OutputFn& out);
  absl::Status Verify(const std::string& app, const std::map<std::string, int>& formation);
  // The grace Dokku gives a container it stops (ps:set stop-timeout-seconds
  // since 0.36, DOKKU_DOCKER_STOP_TIMEOUT before): asked first, set only when
  // different, read back.
  absl::Status EnsureStopTimeout(const std::string& app, int seconds, const OutputFn& out);
  absl::StatusOr<std::string> StopTimeout(const std::string& app);
  // dokku_extras.cc: checks:set wait-to-retire, asked first (checks:report)
  // and read back.
  absl::Status ApplyWaitToRetire(const std::string& app, const std::string& value,
                                 const OutputFn& out);
  absl::StatusOr<std::string> WaitToRetire(const std::string& app);
  // `command APP` (domains:report, checks:report …): with --format json since
  // 0.38, the bash report's text before.
  absl::StatusOr<DokkuReport> VersionedReport(const std::string& app, const std::string& command);
  absl::StatusOr<DokkuPsReport> PsReport(const std::string& app);
  absl::StatusOr<std::map<std::string, std::string>> DokkuConfig(const std::string& app);
  // dokku_extras.cc: where a mount's source lives on the host (`create`: make a
  // named storage, check a host path exists).
  // `chown`: the owner a created storage gets.
  absl::StatusOr<std::string> StorageHostPath(const std::string& app, const std::string& source,
                                              const std::string& container_dir, bool create,
                                              const std::string& chown, const OutputFn& out);
  // dokku_certs.cc: `certs:report APP --ssl-enabled`.
  absl::StatusOr<bool> SslEnabled(const std::string& app);
  // dokku_extras.cc: a removal's first read failed with `read`. OK (nothing to
  // remove) when the app is not on this server (`apps:exists` exits 20: the
  // controller sends removals to every Dokku server the app may be on), `read`
  // otherwise.
  absl::Status AbsentOr(const std::string& app, const absl::Status& read, const OutputFn& out);

  DokkuRuntimeOptions options_;
  std::unique_ptr<ProcessRunner> owned_runner_;
  std::unique_ptr<ProcessRunner> owned_tar_runner_;
  ProcessRunner* tar_runner_;
  DokkuCli cli_;
  DokkuVersion version_;

  std::mutex mu_;  // guards state_ and app_locks_
  DokkuState state_;
  std::map<std::string, std::unique_ptr<std::mutex>> app_locks_;
};

// The formation Dokku should run for `app`'s instances, over the process types
// of `release` (all but `release`): per type, the most instances any one
// release has. Exposed for tests.
std::map<std::string, int> DokkuFormation(const DokkuApp& app, const DokkuRelease& release);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_RUNTIME_H_
