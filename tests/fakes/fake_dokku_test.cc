// Behaviour of the double beyond the transcript: per-version formats, deploys,
// logs, the godotenv quirks, services.
#include <gtest/gtest.h>

#include "tests/fakes/fake_dokku_test_support.h"

namespace fake_dokku::testing {
namespace {

TEST(FakeDokku, VersionComesFromTheEnvironment) {
  StateDir state;
  auto r = RunDouble({FAKE_DOKKU_BIN, "version"}, state.Env("0.35.20"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "dokku version 0.35.20\n");
}

}  // namespace
}  // namespace fake_dokku::testing
