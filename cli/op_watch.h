// Following a durable operation from the CLI: the one place that turns an
// OpRef into what the user sees until the operation ends.
//
//   - queued behind another operation: "waiting for operation N on app X to finish";
//   - --detach: the id alone on stdout, how to follow it on stderr, return at once;
//   - otherwise WatchOp's progress lines on stdout until the last message; an
//     operation that ends in any state but succeeded is an error carrying its
//     error text (exit 1);
//   - Ctrl-C detaches WITHOUT cancelling and says how to follow and cancel;
//   - a dropped connection (controller restarting) is retried for a while.
#ifndef DFLOW_CLI_OP_WATCH_H_
#define DFLOW_CLI_OP_WATCH_H_

#include <CLI/CLI.hpp>

#include <string>

#include "absl/status/status.h"
#include "cli/client.h"

namespace dflow::cli {

struct FollowOptions {
  std::string app;      // for messages; may be empty
  bool detach = false;  // print the id and return
};

absl::Status FollowOp(Client& client, const controller::v1::OpRef& ref,
                      const FollowOptions& options);

// Adds the common --detach flag to an operation-starting command.
void AddDetachFlag(CLI::App* cmd, bool& detach);

// Whether an operation in `state` has ended (succeeded, failed, cancelled, rolled_back).
bool OpEnded(const std::string& state);

// The final words for an operation that ended: OK for succeeded, else an
// error with the operation's error text and where to look next.
absl::Status OpOutcome(int64_t id, const std::string& state, const std::string& error);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_OP_WATCH_H_
