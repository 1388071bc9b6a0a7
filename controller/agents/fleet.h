// The agent fleet as the controller sees it: which certificates are valid, and
// whose lease is alive.
//
// Leases live in memory only. A heartbeat renews the lease; a server whose lease
// runs out becomes unreachable, and the next heartbeat makes it healthy again.
// Each such change is committed at once, with its event, in one transaction.
// Facts are buffered and written in one batched transaction per tick. When the
// controller starts, every lease starts afresh: a restart never declares the
// fleet dead.
//
// Thread-safe.
#ifndef DFLOW_CONTROLLER_AGENTS_FLEET_H_
#define DFLOW_CONTROLLER_AGENTS_FLEET_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/store/store.h"

namespace dflow::agents {

struct FleetOptions {
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds lease{15000};
  std::chrono::milliseconds grace{60000};
  // How often leases are checked and facts flushed.
  std::chrono::milliseconds tick{250};
};

// What a heartbeat reply tells the agent about itself, kept in memory so that
// heartbeats never wait on the store.
struct ServerView {
  std::map<std::string, std::string> labels;
  bool draining = false;
};

class Fleet {
 public:
  Fleet(store::Store* store, Clock* clock, FleetOptions options);
  ~Fleet();

  // Loads the valid certificates and starts every known server's lease afresh.
  absl::Status Load();
  // Runs Tick() on a background thread until Stop().
  void Start();
  void Stop();

  // The server that owns a certificate (by fingerprint), or PermissionDenied.
  absl::StatusOr<std::string> Authorize(const std::string& fingerprint) const;
  void OnJoined(const std::string& name, const std::string& fingerprint);
  void OnRemoved(const std::string& name);

  // Keeps the in-memory view current after a committed change of labels or draining.
  void OnServerChanged(const std::string& name, const ServerView& view);

  // Renews the lease. A server that was unreachable is committed healthy before
  // this returns. Facts are buffered for the next flush. Returns the server's
  // labels and draining flag.
  absl::StatusOr<ServerView> Heartbeat(const std::string& name, const store::Facts& facts);

  // Expires leases (committing each change) and flushes buffered facts.
  void Tick();

  bool Reachable(const std::string& name) const;
  // Milliseconds (monotonic) since the lease ran out; 0 while reachable.
  int64_t UnreachableForMs(const std::string& name) const;
  size_t ConnectedCount() const;
  const FleetOptions& options() const { return options_; }

 private:
  struct Lease {
    int64_t expires_mono = 0;
    bool reachable = true;
    ServerView view;
  };

  store::Store* store_;
  Clock* clock_;
  FleetOptions options_;

  mutable std::mutex mu_;
  std::map<std::string, std::string> certs_;  // fingerprint -> server
  std::map<std::string, Lease> leases_;
  std::map<std::string, store::FactsUpdate> pending_facts_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace dflow::agents

#endif  // DFLOW_CONTROLLER_AGENTS_FLEET_H_
