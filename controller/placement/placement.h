// Placement: which servers receive an app's new instances, and which instances
// go when an app scales down.
//
// Contract:
// - Pure functions of their arguments: no I/O, no clock, no randomness, no
//   global state, so they are thread-safe, and the same input always gives the
//   same answer (a resumed operation recomputes the same plan). Input order does
//   not matter: ties are broken by server name. Names must be unique within a
//   snapshot.
// - Place() is all-or-nothing: either every requested instance gets a server,
//   or it returns ResourceExhausted with a message that says, per server, why it
//   could not take (more of) the app.
// - A snapshot is read-only input; applying an Assignment to the inventory is
//   the caller's business (controller/store).
// - Cost: O(servers + count * log(servers)) per call; the only allocations
//   are a candidate list and the result.
#ifndef DFLOW_CONTROLLER_PLACEMENT_PLACEMENT_H_
#define DFLOW_CONTROLLER_PLACEMENT_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dflow::placement {

// Members carry default initializers so that designated initializers may omit
// any of them under -Wextra.

// One server as the scheduler sees it: facts from heartbeats plus what the
// store has already reserved on it. It says nothing about any one app, so one
// snapshot serves every request (where an app already runs travels in the
// request, which keeps a snapshot's size independent of the number of instances).
struct ServerSnapshot {
  std::string name{};
  bool healthy = true;    // heartbeat lease held
  bool draining = false;  // an operator asked that nothing new lands here
  std::string runtime{};  // "local" or "dokku"
  std::map<std::string, std::string> labels{};
  int64_t memory_total_bytes = 0;
  double cpus = 0;
  int64_t memory_allocated_bytes = 0;  // reserved by instances already placed
  double cpus_allocated = 0;
};

enum class Strategy {
  kSpread,   // fewest instances of this app first, then least allocated
  kBinpack,  // most allocated server that still fits
};

// "spread" / "binpack", as stored and as given to `--strategy`.
std::string_view StrategyName(Strategy strategy);
absl::StatusOr<Strategy> ParseStrategy(std::string_view name);

struct PlacementRequest {
  std::string app{};
  int count = 0;          // new instances to place
  std::string runtime{};  // runtime kind the app needs; empty = any
  // Every key must be a label of the server with exactly this value.
  std::map<std::string, std::string> constraints{};
  // The server holding the app's persistent data (volumes, a local service):
  // when set, only it may be used, and it is never silently replaced.
  std::optional<std::string> pinned_server{};
  int64_t memory_bytes = 0;  // reserved per instance; 0 = no reservation
  double cpus = 0;           // reserved per instance, counted in millicpus
  Strategy strategy = Strategy::kSpread;
  // The app's instances already placed, by server name: what spread evens out.
  // (A caller spreading each process type separately passes that type's.)
  std::map<std::string, int> instances_by_server{};
};

// Where instances go (Place) or come from (ChooseRemovals).
struct Assignment {
  std::vector<std::string> servers{};  // one server name per instance, in the order chosen
  std::map<std::string, int> count_by_server{};
};

// Chooses a server for each of `request.count` new instances.
//
// Filters: healthy, not draining, runtime kind, constraints, pinning, free
// memory and CPU (capacity is consumed as instances are assigned within the
// call). Scoring per instance: see Strategy; "allocated" is the mean of the
// memory and CPU fractions in use once the instance is added.
//
// Errors: InvalidArgument for a malformed request; ResourceExhausted when fewer
// than `count` instances fit, e.g.
//   0 of 2 servers fit app "shop": local-1 is draining; local-2 lacks label tier=beefy
//   only 3 of 5 instances of app "shop" fit: local-1 has 100 MiB free after taking 3, needs 256 MiB
absl::StatusOr<Assignment> Place(std::span<const ServerSnapshot> servers,
                                 const PlacementRequest& request);

struct ScaleDownRequest {
  std::string app{};
  int count = 0;             // instances to remove
  int64_t memory_bytes = 0;  // reserved per instance (frees capacity as they go)
  double cpus = 0;
  std::map<std::string, int> instances_by_server{};  // where the app runs now
};

// Chooses which servers lose `request.count` instances of the app: servers that
// are unhealthy, draining or missing from the snapshot first, then the one with
// the most instances of the app, then the most allocated, then by name.
// FailedPrecondition when the app has fewer instances than that.
absl::StatusOr<Assignment> ChooseRemovals(std::span<const ServerSnapshot> servers,
                                          const ScaleDownRequest& request);

}  // namespace dflow::placement

#endif  // DFLOW_CONTROLLER_PLACEMENT_PLACEMENT_H_
