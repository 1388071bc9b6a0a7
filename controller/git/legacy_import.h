// One-time import of the git state that controllers before schema 5 kept in
// files: DATA/git/keys.json (push keys), DATA/git/secrets/<app> (webhook
// secrets), DATA/git/deliveries (seen delivery ids) and each repository's
// dflow.branch / dflow.url config. Each source is moved into the store and
// then renamed to *.imported (or, for repository config, unset), so a restart
// imports nothing twice and the store stays the only copy that counts.
#ifndef DFLOW_CONTROLLER_GIT_LEGACY_IMPORT_H_
#define DFLOW_CONTROLLER_GIT_LEGACY_IMPORT_H_

#include <string>

#include "absl/status/status.h"
#include "controller/git/repos.h"

namespace dflow::store {
class Store;
}

namespace dflow::git {

absl::Status ImportLegacyGitFiles(store::Store* store, const std::string& data_dir, Repos* repos);

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_LEGACY_IMPORT_H_
