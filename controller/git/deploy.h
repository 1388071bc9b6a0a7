// Deploying a git commit: the archive of the commit goes into the controller's
// BlobStore and becomes a release through the same durable deploy op as
// `dflow deploy` (ops::Engine::Deploy). Used by the pre-receive hook socket
// and by webhooks.
#ifndef DFLOW_CONTROLLER_GIT_DEPLOY_H_
#define DFLOW_CONTROLLER_GIT_DEPLOY_H_

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "controller/api/context.h"
#include "controller/ops/engine.h"

namespace dflow::git {

// Queues the deploy of the archive `digest` (already in the BlobStore) as a
// release recording `sha` (its commit_sha), `pusher` (its created_by, e.g.
// "git push by key alice") and `pushed_by` ("key alice", "user bob",
// "github delivery ID"). InvalidArgument (and the archive is dropped) when its
// Procfile cannot be deployed.
absl::StatusOr<ops::OpRef> StartDeploy(api::ControllerContext* ctx, const std::string& app,
                                       const std::string& digest, const std::string& sha,
                                       const std::string& pusher, const std::string& pushed_by);

// Follows the op until it ends, calling `say` with one line per step change
// (and first, when it is queued, a line saying what it waits for). Returns the
// last line: OK when it succeeded (the release and where it answers), else an
// error saying what failed and what still serves. Stops early (Unavailable)
// when `stop` becomes true.
absl::StatusOr<std::string> FollowDeploy(api::ControllerContext* ctx, const ops::OpRef& ref,
                                         const std::function<void(const std::string&)>& say,
                                         const std::atomic<bool>& stop);

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_DEPLOY_H_
