// How each kind of step runs, and what undoes an op that cannot go on.
// Internal to controller/ops/.
//
// A step asks for a state, so running it twice is the same as running it
// once: "the server holds archive D", "release vN is prepared on S", "instance
// X runs" (the agent finds X already started), "instance X is stopped" (an
// unknown instance is stopped already). Store-only steps compute effects and
// change nothing themselves; the engine commits the effects with the result.
#ifndef DFLOW_CONTROLLER_OPS_STEPS_H_
#define DFLOW_CONTROLLER_OPS_STEPS_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "controller/agents/agent_api.h"
#include "controller/ops/engine.h"
#include "controller/store/store.h"

namespace dflow::ops {

struct StepEnv {
  store::Store* store = nullptr;
  agents::AgentApi* agents = nullptr;
  const EngineOptions* options = nullptr;
  Clock* clock = nullptr;
  // Waits between retries; false when the engine is stopping.
  std::function<bool(std::chrono::milliseconds)> pause;
  // Output of the running step as it happens (a Dokku build), for watchers.
  std::function<void(const std::string&)> live{};
};

struct StepOutcome {
  absl::Status status;
  std::string output;
  std::string result = "{}";
  store::StepEffects effects;
  // The engine stopped while the step waited to retry: commit nothing, the
  // step runs again after restart.
  bool abandoned = false;
};

// "op<ID>-step<N>": the idempotency key of the step's agent RPCs.
std::string IdempotencyKey(int64_t op_id, int index);

StepOutcome RunStepWork(StepEnv& env, const store::Op& op, const store::OpStep& step);

// dokku_steps.cc: a `dokku` step (`params` as planned by PlanDokku/ApplyDokkuExtras).
void RunDokkuStep(StepEnv& env, const store::Op& op, const nlohmann::json& params,
                  const std::string& key, StepOutcome& out);

// service_steps.cc: the plan of a `service` op (it has no app), and its step.
void PlanServiceOp(StepEnv& env, const store::Op& op, StepOutcome& out);
void RunServiceStep(StepEnv& env, const store::Op& op, const nlohmann::json& params,
                    const std::string& key, StepOutcome& out);

// True once the op has committed what it is for (a release made current, a
// scale recorded; for destroy, the plan): it is finished, not undone, from then on.
bool PastPointOfNoReturn(const store::Op& op);

// The steps appended when the op stops short: first a `rollback` marker that
// records why (cause "failure" or "cancel") and the error, then — unless past
// the point of no return — a stop for every instance the op placed and the
// release marked failed.
std::vector<store::OpStep> Compensation(const store::Op& op, const std::string& cause,
                                        const std::string& error);

// Index of the op's rollback marker, or -1.
int RollbackIndex(const store::Op& op);

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_STEPS_H_
