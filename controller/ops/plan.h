// Planning: from the state of an app and the fleet to an op's concrete steps.
// Internal to controller/ops/.
//
// MakePlan is a pure function: LoadPlanInput reads what it needs from the
// store, and the engine commits the plan's steps and effects in the
// transaction that finishes the `plan` step. The same input gives the same
// plan (instance ids derive from the op id), so a plan re-run after a crash
// before its commit plans the same thing, and nothing happened in between.
#ifndef DFLOW_CONTROLLER_OPS_PLAN_H_
#define DFLOW_CONTROLLER_OPS_PLAN_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/ops/engine.h"
#include "controller/placement/placement.h"
#include "controller/store/store.h"

namespace dflow::ops {

// Step kinds, as stored in op_steps.kind.
inline constexpr const char* kStepPlan = "plan";
inline constexpr const char* kStepEnsureArchive = "ensure_archive";
inline constexpr const char* kStepPrepare = "prepare";
inline constexpr const char* kStepReleaseCommand = "release_command";
inline constexpr const char* kStepStart = "start";
inline constexpr const char* kStepActivate = "activate";  // point of no return
inline constexpr const char* kStepCommit = "commit";      // point of no return
inline constexpr const char* kStepStop = "stop";
inline constexpr const char* kStepDestroyOn = "destroy_on";
inline constexpr const char* kStepDeleteApp = "delete_app";
inline constexpr const char* kStepRollback = "rollback";  // marks where compensation begins
inline constexpr const char* kStepAbandonRelease = "abandon_release";
// A change Dokku adds (ports, storage, checks, services, domains) on one server
// (dokku_steps.cc); "apply" sends everything the store holds for the app.
inline constexpr const char* kStepDokku = "dokku";
// A service created or destroyed on its server, with its store record
// (service_steps.cc; ops of kind "service").
inline constexpr const char* kStepService = "service";

struct PlanInput {
  store::Op op;
  store::App app;
  std::optional<store::Release> current;   // the app's current release
  std::optional<store::Release> release;   // the release the op rolls out (reserved at submit)
  std::vector<store::Release> releases;    // all of the app's
  std::vector<store::Instance> instances;  // the app's
  std::vector<placement::ServerSnapshot> servers;
  store::AppExtras extras;           // what Dokku adds, as the store holds it
  std::vector<std::string> domains;  // the app's custom domains
  bool has_cert = false;             // a TLS certificate is stored for the app
};

struct Plan {
  std::vector<store::OpStep> steps;
  store::StepEffects effects;  // new instances (pending), the release's contents, …
  std::string summary;         // the plan step's output
};

absl::StatusOr<PlanInput> LoadPlanInput(store::Store* store, const store::Op& op);

// The placement view of the fleet: facts plus what instances (all but lost
// ones) reserve, with health as the store records it.
std::vector<placement::ServerSnapshot> Snapshot(const std::vector<store::Server>& servers,
                                                const std::vector<store::Instance>& instances,
                                                const std::vector<store::App>& apps);

absl::StatusOr<Plan> MakePlan(const PlanInput& in, const EngineOptions& options);

// An instance that runs or is about to: what counts toward an app's scale.
bool IsLive(const store::Instance& i);

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_PLAN_H_
