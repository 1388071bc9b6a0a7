// The reconciler: keeps what runs in line with what the store records, in the
// background, once per interval.
//
// Each pass:
// - A server unreachable for longer than the grace period: its running and
//   crashed instances are marked lost — except those of an app pinned to that
//   server (it holds the app's data): they are never moved, and the app is
//   reported down (AppStatus) until the server returns.
// - A reachable server: its ListInstances is read and instance states synced
//   into the store (running, crashed while the agent restarts it, failed when
//   it gave up, lost when it no longer runs it: missing from two lists in a
//   row, so that an agent still re-adopting after a restart is not misread). Instances recorded as
//   lost or stopping there are stopped and forgotten, and instances it runs that the store does not
//   know (left by a destroyed app or a forgotten record) are stopped, so that an app never runs
//   more instances than asked.
// - A removal a reachable server missed while it was away (store::PendingRemoval)
//   is finished there (reconciler_removals.cc): a destroyed app's DestroyApp,
//   once the app is deleted, on a thread of its own (one per server at a time,
//   so a slow agent holds up nothing else); a Dokku removal re-submitted as a `dokku` op for
//   that server alone when the app has no op in flight. A record is dropped,
//   with an event saying why, when it no longer applies: its server left the
//   inventory, an app of that name was created after it, a Dokku removal's app
//   is gone or holds the setting again. A failure keeps it for a later pass.
// - An app with no op in flight that runs fewer instances than its scale (or
//   has failed ones) gets a `reschedule` op, at most once per backoff period.
//
// Apps with an op in flight are left to that op, except for marking lost.
// Thread-safe; Tick() may be called directly (tests).
#ifndef DFLOW_CONTROLLER_OPS_RECONCILER_H_
#define DFLOW_CONTROLLER_OPS_RECONCILER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "controller/agents/agent_api.h"
#include "controller/agents/fleet.h"
#include "controller/ops/engine.h"
#include "controller/store/store.h"

namespace dflow::ops {

struct ReconcilerOptions {
  std::chrono::milliseconds grace{60000};
  std::chrono::milliseconds interval{2000};
  std::chrono::milliseconds reschedule_backoff{30000};
  std::chrono::milliseconds stop_grace{10000};
};

class Reconciler {
 public:
  Reconciler(store::Store* store, agents::AgentApi* agents, agents::Fleet* fleet, Engine* engine,
             Clock* clock, ReconcilerOptions options);
  ~Reconciler();

  void Start();
  // Stops the loop and waits for the removals in flight.
  void Stop();
  void Tick();
  // Waits for the app removals Tick started (tests).
  void WaitForRemovals();

 private:
  void MarkLost(const store::Server& server, const std::vector<store::Instance>& on_server,
                const std::map<std::string, store::App>& apps);
  void Sync(const store::Server& server, const std::vector<store::Instance>& on_server,
            const std::map<std::string, store::App>& apps, const std::set<std::string>& busy);
  void Converge(const std::map<std::string, store::App>& apps, const std::set<std::string>& busy);
  void FinishRemovals(const std::vector<store::Server>& servers,
                      const std::map<std::string, store::App>& apps,
                      const std::set<std::string>& busy);
  void RemoveApp(store::PendingRemoval r);

  store::Store* store_;
  agents::AgentApi* agents_;
  agents::Fleet* fleet_;
  Engine* engine_;
  Clock* clock_;
  ReconcilerOptions options_;

  std::mutex tick_mu_;
  std::map<std::string, int64_t> next_reschedule_ms_;  // app -> monotonic ms
  std::set<std::string> missing_once_;                 // instances absent from the last list

  std::mutex removals_mu_;
  std::map<int64_t, int64_t> next_removal_ms_;   // pending removal -> monotonic ms
  std::set<std::string> removing_on_;            // servers with an app removal in flight
  std::map<std::string, std::thread> removals_;  // server -> its latest app removal

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stopping_ = false;
  std::thread loop_;
};

// Human words on an app's health for `dflow apps ls/show`: "not deployed",
// "2 of 2 web running", "down: its data is on local-2, which is unreachable…".
// `reachable` says whether a server's lease is held.
std::string AppStatus(const store::App& app, const std::vector<store::Instance>& instances,
                      const std::function<bool(const std::string&)>& reachable,
                      const store::Op* active_op);

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_RECONCILER_H_
