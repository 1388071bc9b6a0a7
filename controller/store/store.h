// The controller's durable state: one SQLite file (WAL, synchronous=FULL) with
// numbered migrations recorded in the database itself.
//
// Every state change is one named method that runs in one transaction and, when
// it changes something a person would want to know about, appends its event in
// the same transaction (transactional outbox). Readers get plain structs; no
// SQL or gRPC types leak out of this folder, so the store can later move to a
// replicated backend without touching its callers.
//
// Thread-safe: one mutex serializes access to the connection.
#ifndef DFLOW_CONTROLLER_STORE_STORE_H_
#define DFLOW_CONTROLLER_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/sqlite.h"
#include "controller/store/apps.h"
#include "controller/store/extras.h"
#include "controller/store/git.h"
#include "controller/store/themes.h"

namespace dflow::store {

struct Facts {
  int cpus = 0;
  int64_t memory_total_bytes = 0;
  int64_t memory_available_bytes = 0;
  int64_t disk_total_bytes = 0;
  int64_t disk_free_bytes = 0;
  std::string os;
  std::string agent_version;
  std::string runtime;
  std::string dokku_version;
};

enum class Health { kHealthy, kUnreachable };
const char* HealthName(Health h);

struct Server {
  std::string name;
  std::string address;
  std::string runtime;
  std::map<std::string, std::string> labels;
  Health health = Health::kHealthy;
  bool draining = false;
  Facts facts;
  int64_t last_heartbeat_ms = 0;
  int64_t joined_at_ms = 0;
};

struct Event {
  int64_t seq = 0;
  int64_t time_ms = 0;
  std::string kind;
  std::string server;
  std::string app;
  std::string message;
  // "<ms>_<seq>", the continuation token that resumes after this event.
  std::string Token() const;
};

struct JoinRecord {
  std::string token_id;  // SHA-256 hex of the token's secret
  std::string name;
  std::string address;
  std::string runtime;
  std::map<std::string, std::string> labels;
  Facts facts;
  std::string cert_fingerprint;
};

struct FactsUpdate {
  std::string name;
  Facts facts;
  int64_t heartbeat_ms = 0;
};

// An app's TLS certificate (PEM; the key is a secret: it leaves the
// controller only to the routers).
struct AppCert {
  std::string app;
  std::string cert_pem;
  std::string key_pem;
  int64_t not_after_ms = 0;
  int64_t added_at_ms = 0;
};

// The numbered schema migrations, in order; version N is kMigrations[N-1].
const std::vector<std::string>& Migrations();

class Store {
 public:
  // Opens or creates the database and applies every pending migration.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path, Clock* clock);
  // Opens and applies migrations only up to `version` (tests of upgrades).
  static absl::StatusOr<std::unique_ptr<Store>> OpenAtVersion(const std::string& path, Clock* clock,
                                                              int version);

  int SchemaVersion();

  // Join tokens: only a digest of the secret is kept.
  absl::Status CreateJoinToken(const std::string& token_id, int64_t expires_at_ms);
  // Consumes the token, registers the server and its certificate, appends
  // "server.joined". Fails (changing nothing) on an unknown, used or expired token
  // or a name already registered.
  absl::Status JoinServer(const JoinRecord& rec);

  absl::StatusOr<std::vector<Server>> ListServers();
  absl::StatusOr<Server> GetServer(const std::string& name);
  absl::StatusOr<Server> SetLabels(const std::string& name,
                                   const std::map<std::string, std::string>& set,
                                   const std::vector<std::string>& remove);
  absl::StatusOr<Server> SetDraining(const std::string& name, bool draining);
  // Changes health and appends "server.healthy" / "server.unreachable" in one
  // transaction. A no-op (no event) when the health is already `h`.
  absl::Status SetHealth(const std::string& name, Health h, const std::string& reason);
  // Revokes the server's certificates and removes it, with "server.removed".
  // While instances of apps are recorded there it refuses (FailedPrecondition
  // naming them) unless `force`: then their records go too (the reconciler
  // replaces them elsewhere) and apps pinned to it are unpinned, each with an event.
  absl::Status RemoveServer(const std::string& name, bool force = false);
  // Writes a batch of heartbeat facts in one transaction (no events).
  absl::Status RecordFacts(const std::vector<FactsUpdate>& batch);

  // Fingerprint -> server name, for every certificate not revoked.
  absl::StatusOr<std::map<std::string, std::string>> ValidCertificates();

  absl::StatusOr<std::vector<Event>> ListEvents(int64_t after_seq, int limit);
  // The newest `n` events, oldest first.
  absl::StatusOr<std::vector<Event>> RecentEvents(int n);
  absl::Status AppendEvent(const std::string& kind, const std::string& server,
                           const std::string& app, const std::string& message);

  // Apps (apps_store.cc).
  absl::Status CreateApp(const App& app);
  absl::StatusOr<App> GetApp(const std::string& name);
  absl::StatusOr<std::vector<App>> ListApps();
  // Saves desired config when the app has no release yet (nothing to roll out).
  absl::Status SetAppConfig(const std::string& app,
                            const std::map<std::string, std::string>& config);
  // The health check new instances get (path "" : TCP connect; timeout 0:
  // the controller's --health-timeout), with an "app.health_check" event.
  absl::Status SetAppHealthCheck(const std::string& app, const std::string& path,
                                 int64_t timeout_ms);

  absl::StatusOr<std::vector<Release>> ListReleases(const std::string& app);
  absl::StatusOr<Release> GetRelease(const std::string& app, int64_t version);

  absl::StatusOr<std::vector<Instance>> ListInstances(const std::string& app);
  absl::StatusOr<std::vector<Instance>> ListAllInstances();
  // Records what a server reports about an instance (no event).
  absl::Status SetInstanceState(const std::string& id, const std::string& state);
  // Instances recorded on the server (any state).
  absl::StatusOr<int> CountInstancesOnServer(const std::string& server);
  // Marks instances lost (those not already lost or stopping), with one
  // "instance.lost" event per instance naming `reason`, in one transaction.
  absl::Status MarkInstancesLost(const std::vector<std::string>& ids, const std::string& reason);
  // Forgets an instance its server no longer runs, with an "instance.stopped" event.
  absl::Status DeleteInstance(const std::string& id, const std::string& reason);

  // Operations (ops_store.cc).
  // Creates an op with one `plan` step, and — when `release` is set — the
  // release it rolls out (its version is assigned here: the app's highest + 1),
  // plus the op's event, in one transaction. Returns the op id.
  absl::StatusOr<int64_t> CreateOp(const std::string& app, const std::string& kind,
                                   const std::string& params_json, std::optional<Release> release,
                                   const std::string& description);
  absl::StatusOr<Op> GetOp(int64_t id);
  absl::StatusOr<std::vector<Op>> ListOps(const std::string& app, int limit);
  // Ops not ended, oldest first (the executor's queue).
  absl::StatusOr<std::vector<Op>> ActiveOps();
  absl::Status MarkOpRunning(int64_t id);
  absl::Status MarkStepRunning(int64_t op_id, int index);
  // Sets the step's final state and output and applies `effects`, in one transaction.
  absl::Status FinishStep(int64_t op_id, int index, const std::string& state,
                          const std::string& result_json, const std::string& output,
                          const std::string& error, const StepEffects& effects);
  absl::Status FinishOp(int64_t id, const std::string& state, const std::string& error,
                        const StepEffects& effects);
  absl::Status RequestCancel(int64_t id);
  // Ends an op that has not started (state pending) as cancelled, its plan
  // step skipped. Returns false, changing nothing, when it is no longer pending.
  absl::StatusOr<bool> CancelQueuedOp(int64_t id);

  // Removals servers missed while unreachable (removals_store.cc), oldest first.
  absl::StatusOr<std::vector<PendingRemoval>> ListPendingRemovals();
  // Deletes the record and appends `event_kind` (app.cleanup_done when it was
  // finished, app.cleanup_dropped when it no longer applies) with `message`, in
  // one transaction. A record already gone is no error and appends nothing.
  absl::Status FinishPendingRemoval(int64_t id, const std::string& event_kind,
                                    const std::string& message);

  // Routing (routing_store.cc): settings such as the base domain, custom
  // domains (host -> app, a host belongs to one app) and app certificates.
  absl::StatusOr<std::string> GetSetting(const std::string& key, const std::string& fallback);
  absl::Status SetSetting(const std::string& key, const std::string& value);
  // AlreadyExists naming the owner when another app has the host; a "domain.added" event.
  absl::Status AddDomain(const std::string& app, const std::string& host);
  // NotFound when the app does not have the host; a "domain.removed" event.
  absl::Status RemoveDomain(const std::string& app, const std::string& host);
  absl::StatusOr<std::map<std::string, std::string>> ListDomains();  // host -> app
  // An app's certificate, replacing the one it had, with a "cert.added" event
  // saying `message`. NotFound when the app does not exist.
  absl::Status SetAppCert(const AppCert& cert, const std::string& message);
  // NotFound when the app has none; a "cert.removed" event.
  absl::Status RemoveAppCert(const std::string& app);
  absl::StatusOr<std::vector<AppCert>> ListAppCerts();  // by app

  // Dokku extras (extras_store.cc): desired ports, storage, checks and
  // services, each change with its event.
  absl::Status SetAppPorts(const std::string& app, const std::vector<std::string>& maps);
  // AlreadyExists when the container directory mounts another source.
  absl::Status AddAppStorage(const std::string& app, const StorageMount& mount);
  absl::StatusOr<StorageMount> RemoveAppStorage(const std::string& app,
                                                const std::string& container_dir);
  absl::Status SetAppCheck(const std::string& app, const std::string& key,
                           const std::string& value);
  // Forgets a check setting (nothing when it is not set); an "app.checks" event.
  absl::Status RemoveAppCheck(const std::string& app, const std::string& key);
  absl::StatusOr<AppExtras> GetAppExtras(const std::string& app);
  // Keeps the service's URL without its password (store::Service::dsn); the
  // password is read from the service's host when needed.
  absl::Status CreateService(const Service& service);
  // Takes the passwords out of service URLs an older controller stored (Open
  // runs it).
  absl::Status ScrubServicePasswords();
  absl::StatusOr<Service> GetService(const std::string& name);
  absl::StatusOr<std::vector<Service>> ListServices();
  // FailedPrecondition naming the apps while it is linked.
  absl::Status DeleteService(const std::string& name);
  absl::Status LinkService(const ServiceLink& link);
  absl::Status UnlinkService(const std::string& service, const std::string& app);

  // Themes (themes_store.cc): installs and the secrets generated for an app.
  absl::StatusOr<std::map<std::string, std::string>> GetThemeSecrets(const std::string& app);
  // Adds the secrets the app does not have yet; an existing one is never replaced.
  absl::Status AddThemeSecrets(const std::string& app,
                               const std::map<std::string, std::string>& secrets);
  absl::Status DeleteThemeSecrets(const std::string& app);
  // Inserts or replaces the app's install record, with a "theme.<state>" event.
  absl::Status SaveThemeInstall(const ThemeInstall& install);
  absl::StatusOr<ThemeInstall> GetThemeInstall(const std::string& app);
  absl::StatusOr<std::vector<ThemeInstall>> ListThemeInstalls();
  absl::Status DeleteThemeInstall(const std::string& app);

  // Git (git_store.cc): per-app git settings, push keys, webhook deliveries.
  // NotFound when the app does not exist; defaults when nothing is set.
  absl::StatusOr<AppGit> GetAppGit(const std::string& app);
  // Changes the set fields, with a "git.settings_changed" event; returns all of them.
  absl::StatusOr<AppGit> UpdateAppGit(const std::string& app, const AppGitUpdate& update);
  // AlreadyExists when the name or the key itself is taken; a "git.key_added" event.
  absl::Status AddPushKey(const PushKey& key);
  // NotFound when there is no such key; a "git.key_removed" event.
  absl::Status RemovePushKey(const std::string& name);
  absl::StatusOr<std::vector<PushKey>> ListPushKeys();
  // Records a delivery (forge, app, id) not seen before and returns true;
  // false, changing nothing, for one seen before, unless that one failed
  // before it had an op (then it is claimed again). Keeps the newest 10000.
  absl::StatusOr<bool> ClaimDelivery(const WebhookDelivery& delivery);
  // Saves the delivery's state, op, release and message, and appends
  // `event_kind` (unless empty) with `event_message`, in one transaction.
  absl::Status UpdateDelivery(const WebhookDelivery& delivery, const std::string& event_kind,
                              const std::string& event_message);
  // The app's newest delivery, if any.
  absl::StatusOr<std::optional<WebhookDelivery>> LastDelivery(const std::string& app);

  Clock* clock() const { return clock_; }

 private:
  Store(std::unique_ptr<Db> db, Clock* clock) : db_(std::move(db)), clock_(clock) {}
  absl::Status Migrate(int target);
  absl::Status AppendEventLocked(const std::string& kind, const std::string& server,
                                 const std::string& app, const std::string& message);
  absl::StatusOr<Server> GetServerLocked(const std::string& name);
  absl::StatusOr<App> GetAppLocked(const std::string& name);
  // Deletes the app's custom domains and certificate (destroy).
  absl::Status ForgetAppRoutingLocked(const std::string& app);
  absl::Status ApplyEffectsLocked(const std::string& app, int64_t op_id, const StepEffects& e);
  absl::Status AddRemovalsLocked(int64_t op_id, const std::vector<PendingRemoval>& removals);
  absl::Status FinishRemovalLocked(int64_t id, const std::string& event_kind,
                                   const std::string& message);
  absl::StatusOr<std::vector<OpStep>> StepsLocked(int64_t op_id);

  std::mutex mu_;
  std::unique_ptr<Db> db_;
  Clock* clock_;
};

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_STORE_H_
