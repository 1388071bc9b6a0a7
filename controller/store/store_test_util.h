// Helpers for tests on a real store (SQLite file): an app with an op, a
// joined server.
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

// Joins server `name` (`runtime`, at `address`, certificate "fp-NAME") with
// a fresh join token "t-NAME" valid for a minute from `now_ms`. A failure is a
// fatal test failure: call it inside ASSERT_NO_FATAL_FAILURE.
inline void JoinTestServer(Store& store, int64_t now_ms, const std::string& name,
                           const std::string& runtime, const std::string& address) {
  ASSERT_TRUE(store.CreateJoinToken("t-" + name, now_ms + 60000).ok());
  JoinRecord r;
  r.token_id = "t-" + name;
  r.name = name;
  r.address = address;
  r.runtime = runtime;
  r.cert_fingerprint = "fp-" + name;
  ASSERT_TRUE(store.JoinServer(r).ok());
}

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_STORE_TEST_UTIL_H_
