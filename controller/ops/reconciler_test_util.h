// Test fixture for the reconciler on top of OpsTest: a real agents::Fleet
// (15 s lease, 60 s grace) and a Reconciler (60 s grace, 30 s reschedule
// backoff) over the fixture's store, engine, fake agents and fake clock.
#ifndef DFLOW_CONTROLLER_OPS_RECONCILER_TEST_UTIL_H_
#define DFLOW_CONTROLLER_OPS_RECONCILER_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>

#include "controller/agents/fleet.h"
#include "controller/ops/ops_test_util.h"
#include "controller/ops/reconciler.h"

namespace dflow::ops {

class ReconcilerOpsTest : public OpsTest {
 protected:
  void TearDown() override {
    reconciler_.reset();
    fleet_.reset();
    OpsTest::TearDown();
  }

  // A fresh fleet loaded from store_ and a reconciler over it and engine_
  // (both replaced when they already exist).
  void StartFleetAndReconciler() {
    reconciler_.reset();
    fleet_.reset();
    agents::FleetOptions fo;
    fo.lease = std::chrono::seconds(15);
    fo.grace = std::chrono::seconds(60);
    fleet_ = std::make_unique<agents::Fleet>(store_.get(), &clock_, fo);
    ASSERT_TRUE(fleet_->Load().ok());
    ReconcilerOptions ro;
    ro.grace = std::chrono::seconds(60);
    ro.reschedule_backoff = std::chrono::seconds(30);
    reconciler_ = std::make_unique<Reconciler>(store_.get(), &agents_, fleet_.get(), engine_.get(),
                                               &clock_, ro);
  }

  std::unique_ptr<agents::Fleet> fleet_;
  std::unique_ptr<Reconciler> reconciler_;
};

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_RECONCILER_TEST_UTIL_H_
