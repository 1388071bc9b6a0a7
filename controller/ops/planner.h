// The Planner behind MakePlan (plan.h): one object per plan, holding the
// fleet snapshot as this plan changes it. Internal to controller/ops/.
#ifndef DFLOW_CONTROLLER_OPS_PLANNER_H_
#define DFLOW_CONTROLLER_OPS_PLANNER_H_

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "controller/ops/plan.h"

namespace dflow::ops {

// What a rollout brings up: a release's source and config.
struct RolloutSpec {
  int64_t version = 0;
  std::string digest;
  std::string procfile;
  std::map<std::string, std::string> config;
  std::string image{};  // a pinned image instead of the archive
};

class Planner {
 public:
  Planner(const PlanInput& in, const EngineOptions& options)
      : in_(in), options_(options), servers_(in.servers) {}

  absl::StatusOr<Plan> Run();

 private:
  absl::Status PlanDeploy();
  absl::Status PlanConfig();
  absl::Status PlanRollback();
  absl::Status PlanRestart();
  absl::Status PlanScale();
  absl::Status PlanReschedule();
  absl::Status PlanDestroy();
  absl::Status PlanPin();
  // plan_dokku.cc: a change of what Dokku adds, saved by the API before.
  absl::Status PlanDokku();
  // An "apply" step on each Dokku server among `servers` when the app has
  // anything Dokku adds (before its instances start there).
  void ApplyDokkuExtras(const std::vector<std::string>& servers);

  // New instances of `spec`, then the switch, then the old instances stop.
  absl::Status Rollout(const RolloutSpec& spec);
  // Places `counts` new instances per process type. `fresh`: spread them
  // without regard to the app's current instances (they replace them all).
  absl::StatusOr<std::vector<store::Instance>> PlaceNew(const std::map<std::string, int>& counts,
                                                        int64_t version, bool fresh);
  // Archive + prepare on every server receiving an instance, the release
  // command when asked and declared, then a start step per instance.
  absl::Status BringUp(const RolloutSpec& spec, const std::vector<store::Instance>& fresh,
                       bool release_command);
  void StopAll(const std::vector<store::Instance>& instances);
  void AddStep(const char* kind, std::string description, nlohmann::json params);
  placement::PlacementRequest Request(const std::string& process, int count) const;
  // Instances that count toward scale (IsLive), by process type.
  std::map<std::string, std::vector<store::Instance>> LiveByProcess() const;
  // The current release's process types, or FailedPrecondition if never deployed.
  absl::StatusOr<std::map<std::string, std::string>> CurrentTypes() const;
  std::map<std::string, int> Desired(const std::map<std::string, std::string>& types) const;

  const PlanInput& in_;
  const EngineOptions& options_;
  std::vector<placement::ServerSnapshot> servers_;
  // The server new instances must go to when a pin op moves the app (else the
  // app's own pin applies).
  std::string pin_override_;
  // New instances need a Dokku server (the app uses ports, storage, checks or
  // services, or runs an image).
  bool needs_dokku_ = false;
  Plan plan_;
  int next_instance_ = 0;
};

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_PLANNER_H_
