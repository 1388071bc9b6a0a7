// DokkuRuntime: what a stop changes on Dokku — the scale-down (or the deploy
// back of an undone release) and, before it, the stop timeout that carries
// the stop's grace.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/status_macros.h"

namespace dflow::agent {

absl::Status DokkuRuntime::ApplyStop(const std::string& app, DokkuApp& a,
                                     std::chrono::milliseconds grace, const OutputFn& log) {
  // Dokku's stop timeout is whole seconds; the containers this change stops
  // get the grace (at least 1 s: 0 would be an immediate kill).
  const int stop_seconds = static_cast<int>(std::max<int64_t>(1, (grace.count() + 999) / 1000));
  const std::chrono::milliseconds deadline = options_.command_timeout + grace;
  const int64_t newest = NewestInstanceRelease(a);
  absl::Status s;
  if (newest != 0 && newest != a.deployed_release && a.releases.count(newest) > 0) {
    // What is left is an older release than Dokku runs: the deploy was undone.
    const DokkuRelease& back = a.releases.at(newest);
    s = EnsureStopTimeout(app, stop_seconds, log);
    if (s.ok()) s = Deploy(app, a, back, DokkuFormation(a, back), deadline, log);
  } else if (a.deployed_release != 0 && a.releases.count(a.deployed_release) > 0) {
    std::map<std::string, int> formation = DokkuFormation(a, a.releases.at(a.deployed_release));
    if (formation != a.formation) {
      s = EnsureStopTimeout(app, stop_seconds, log);
      if (s.ok()) s = Scale(app, formation, /*skip_deploy=*/false, deadline, log);
      if (s.ok()) s = Verify(app, formation);
      if (s.ok()) a.formation = formation;
    }
  }
  RETURN_IF_ERROR(Commit(app, a));
  return s;
}

// Dokku's stop timeout: the ps property stop-timeout-seconds since 0.36.0
// (docs/processes/process-management.md, "Changing process management
// settings"; plugins/ps/ps.go DefaultProperties; scheduler-docker-local's
// retire and stop read it with `ps-get-property`), reported by `ps:report` as
// stop-timeout-seconds (0.36–0.38.7) or ps-stop-timeout-seconds (0.38.8+, both
// keys). Before 0.36 it is the app's DOKKU_DOCKER_STOP_TIMEOUT config var
// (v0.35.20 docs/configuration/environment-variables.md,
// scheduler-docker-local/internal-functions); 0.36 migrates it to the property
// (docs/appendices/0.36.0-migration-guide.md). "" when the app sets none.
absl::StatusOr<std::string> DokkuRuntime::StopTimeout(const std::string& app) {
  if (!version_.AtLeast(0, 36, 0)) {
    ASSIGN_OR_RETURN(auto config, DokkuConfig(app));
    auto it = config.find("DOKKU_DOCKER_STOP_TIMEOUT");
    return it == config.end() ? std::string() : it->second;
  }
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"ps:report", app, "--format", "json"}));
  ASSIGN_OR_RETURN(DokkuReport report, ParseJsonReport(r.out));
  return ReportValue(report, "ps", "stop-timeout-seconds");
}

absl::Status DokkuRuntime::EnsureStopTimeout(const std::string& app, int seconds,
                                             const OutputFn& out) {
  const std::string want = absl::StrCat(seconds);
  ASSIGN_OR_RETURN(std::string now, StopTimeout(app));
  if (now == want) return absl::OkStatus();
  if (version_.AtLeast(0, 36, 0)) {
    RETURN_IF_ERROR(Dokku(app, {"ps:set", app, "stop-timeout-seconds", want}, out).status());
  } else {
    RETURN_IF_ERROR(
        Dokku(app,
              {"config:set", "--no-restart", app, absl::StrCat("DOKKU_DOCKER_STOP_TIMEOUT=", want)},
              out)
            .status());
  }
  ASSIGN_OR_RETURN(now, StopTimeout(app));  // read back
  if (now != want) {
    return absl::DataLossError(absl::StrCat(
        "after the change Dokku on server ", options_.server_name, " reports a stop timeout of ",
        now.empty() ? "(none)" : now, " s for ", app, " (asked: ", want, " s)"));
  }
  return absl::OkStatus();
}

}  // namespace dflow::agent
