// Prepared releases on disk, under ROOT/<app>/v<N>/:
//   tree/                  the unpacked source archive (the instances' cwd)
//   release.json           digest, Procfile entries, env, health path, resources
//   release-command.json   present once the Procfile's `release:` command succeeded
// A release is unpacked into a temporary sibling directory and renamed into
// place only when complete, so v<N>/ either holds a whole release or does not
// exist; preparing it again is a no-op. Thread-safe (the file system arbitrates;
// concurrent preparations of one release race on the rename and one wins).
#ifndef DFLOW_AGENT_RUNTIME_RELEASE_STORE_H_
#define DFLOW_AGENT_RUNTIME_RELEASE_STORE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/procfile.h"
#include "agent/runtime/runtime.h"

namespace dflow {
class ProcessRunner;
class Clock;
}  // namespace dflow

namespace dflow::agent {

struct Release {
  std::string app;
  int64_t version = 0;
  std::string digest;
  std::string dir;   // ROOT/<app>/v<N>
  std::string tree;  // dir/tree
  std::vector<ProcfileEntry> procfile;
  std::map<std::string, std::string> env;
  std::string health_path;
  int64_t memory_bytes = 0;
  double cpus = 0;
  int64_t prepared_at_ms = 0;

  // The command of a Procfile type; nullptr when there is none.
  const ProcfileEntry* Find(const std::string& type) const;
  // "web, worker": the process types (the `release` entry excluded).
  std::string TypeList() const;
};

class ReleaseStore {
 public:
  // `server` names this host in error messages.
  ReleaseStore(std::string root, ProcessRunner* runner, const Clock* clock, std::string server)
      : root_(std::move(root)), runner_(runner), clock_(clock), server_(std::move(server)) {}

  // Unpacks spec.archive_path with `tar` and records the release. When the
  // release is already prepared it is returned as it is, unless it came from a
  // different archive (AlreadyExists).
  absl::StatusOr<Release> Prepare(const ReleaseSpec& spec, const OutputFn& out);
  // NotFound when the release was not prepared on this host.
  absl::StatusOr<Release> Load(const std::string& app, int64_t version) const;
  // The output of the release command's successful run, if it had one.
  std::optional<std::string> ReleaseCommandOutput(const Release& release) const;
  absl::Status MarkReleaseCommandDone(const Release& release, const std::string& output) const;
  // Removes every release of the app. OK when there is none.
  absl::Status RemoveApp(const std::string& app) const;

 private:
  std::string ReleaseDir(const std::string& app, int64_t version) const;
  absl::Status Unpack(const ReleaseSpec& spec, const std::string& tree, const OutputFn& out);

  std::string root_;
  ProcessRunner* runner_;
  const Clock* clock_;
  std::string server_;
};

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_RELEASE_STORE_H_
