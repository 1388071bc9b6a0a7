// The pre-receive hook. Each app's repository has hooks/pre-receive as a
// symlink to dflow-controller, whose main() calls RunPreReceive when invoked
// by that name. For every pushed ref it asks the controller (over the hook
// socket named in the repository's `dflow.socket`) whether the ref deploys;
// if so it runs `git archive` of the pushed commit itself (the objects are
// still in git's quarantine, visible only to git processes the hook starts)
// and streams the archive to the controller, then prints the deploy's progress
// (git shows it as `remote:` lines). Exit 1 rejects the push.
#ifndef DFLOW_CONTROLLER_GIT_HOOK_CLIENT_H_
#define DFLOW_CONTROLLER_GIT_HOOK_CLIENT_H_

namespace dflow::git {

// Reads "<old> <new> <ref>" lines on stdin; returns the exit code.
int RunPreReceive();

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_HOOK_CLIENT_H_
