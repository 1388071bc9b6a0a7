// Helpers for the store's tests on a real SQLite file.
#ifndef DFLOW_CONTROLLER_STORE_STORE_TEST_UTIL_H_
#define DFLOW_CONTROLLER_STORE_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "controller/store/store.h"

namespace dflow::store {

// Creates app `app` and an op of `kind` on it (spec "{}", no release), for a
// test that then commits the op's steps; the op's id goes to `op_id`. A
// failure is a fatal test failure: call it inside ASSERT_NO_FATAL_FAILURE.
inline void CreateAppAndOp(Store& store, const std::string& app, const std::string& kind,
                           const std::string& summary, int64_t* op_id) {
  App a;
  a.name = app;
  ASSERT_TRUE(store.CreateApp(a).ok());
  auto op = store.CreateOp(app, kind, "{}", std::nullopt, summary);
  ASSERT_TRUE(op.ok()) << op.status();
  *op_id = *op;
}

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_STORE_TEST_UTIL_H_
