// DokkuRuntime: reading back what Dokku runs — instances, logs — and one-off runs.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

// Instances of one process type in the order they take container slots:
// within each release, the oldest start first (web.1 is the first started).
std::map<std::string, int> SlotOf(const DokkuApp& a) {
  std::vector<const DokkuInstance*> all;
  for (const auto& [id, i] : a.instances) all.push_back(&i);
  std::sort(all.begin(), all.end(), [](const DokkuInstance* x, const DokkuInstance* y) {
    return std::tie(x->process, x->release, x->started_at_ms, x->id) <
           std::tie(y->process, y->release, y->started_at_ms, y->id);
  });
  std::map<std::string, int> slot;
  std::map<std::pair<std::string, int64_t>, int> next;
  for (const DokkuInstance* i : all) slot[i->id] = ++next[{i->process, i->release}];
  return slot;
}

InstanceState StateOf(const std::string& status) {
  if (status == "running") return InstanceState::kRunning;
  if (status == "restarting") return InstanceState::kBackoff;
  if (status == "created") return InstanceState::kStarting;
  if (status == "removing" || status == "paused") return InstanceState::kStopping;
  if (status == "exited" || status == "dead") return InstanceState::kStopped;
  return InstanceState::kFailed;
}

}  // namespace

std::vector<InstanceStatus> DokkuRuntime::ListInstances() {
  std::map<std::string, DokkuApp> apps;
  {
    std::lock_guard lock(mu_);
    apps = state_.apps();
  }
  std::vector<InstanceStatus> out;
  for (const auto& [app, a] : apps) {
    if (a.instances.empty()) continue;
    absl::StatusOr<DokkuPsReport> ps = PsReport(app);
    std::map<std::string, int> slot = SlotOf(a);
    for (const auto& [id, i] : a.instances) {
      InstanceStatus st;
      st.id = id;
      st.app = app;
      st.process = i.process;
      st.release = i.release;
      st.port = a.port;
      st.started_at_ms = i.started_at_ms;
      if (!ps.ok()) {
        st.state = InstanceState::kStopped;
        st.last_error = std::string(ps.status().message());
      } else {
        const DokkuContainer* c = nullptr;
        for (const auto& k : ps->containers) {
          if (k.process == i.process && k.index == slot[id]) c = &k;
        }
        if (c == nullptr) {
          st.state = InstanceState::kStopped;
          st.last_error = absl::StrCat("Dokku runs no ", i.process, ".", slot[id],
                                       " container for it on server ", options_.server_name);
        } else {
          st.state = StateOf(c->status);
          if (st.state != InstanceState::kRunning) {
            st.last_error = absl::StrCat("container ", i.process, ".", c->index, " (", c->cid,
                                         ") is ", c->status);
          }
        }
      }
      out.push_back(st);
    }
  }
  return out;
}

absl::StatusOr<std::vector<LogLine>> DokkuRuntime::Logs(const std::string& app,
                                                        const std::string& process, int n) {
  std::vector<std::string> args = {"logs", app, "--num", std::to_string(std::max(n, 1))};
  if (!process.empty()) args.insert(args.end(), {"--ps", process});
  absl::StatusOr<DokkuOutput> r = Dokku(app, args);
  if (!r.ok()) {
    if (absl::StrContains(r.status().message(), "has not been deployed")) {
      return std::vector<LogLine>{};
    }
    return r.status();
  }
  std::vector<LogLine> lines = ParseDokkuLogs(r->out);
  DokkuApp a = Snapshot(app);
  std::map<std::string, std::string> by_dyno;  // web.1 → the deployed release's instance there
  std::map<std::string, int> slot = SlotOf(a);
  for (const auto& [id, i] : a.instances) {
    if (i.release == a.deployed_release) by_dyno[absl::StrCat(i.process, ".", slot[id])] = id;
  }
  for (LogLine& l : lines) {
    if (auto it = by_dyno.find(l.instance); it != by_dyno.end()) l.instance = it->second;
  }
  if (n > 0 && lines.size() > static_cast<size_t>(n)) lines.erase(lines.begin(), lines.end() - n);
  return lines;
}

absl::StatusOr<int> DokkuRuntime::RunOneOff(const std::string& app, int64_t version,
                                            const std::vector<std::string>& argv,
                                            std::chrono::milliseconds deadline,
                                            const OutputFn& out) {
  if (argv.empty()) return absl::InvalidArgumentError("a one-off command needs a program");
  // `dokku run` starts a container of the image Dokku runs now: only that
  // release can be honoured.
  const int64_t deployed = Snapshot(app).deployed_release;
  if (version > 0 && deployed != version) {
    return absl::FailedPreconditionError(
        deployed == 0
            ? absl::StrCat(app, " v", version, " is not deployed on server ", options_.server_name,
                           " (`dokku run` needs a deployed app); deploy it first")
            : absl::StrCat("Dokku on server ", options_.server_name, " runs ", app, " v", deployed,
                           ", not v", version,
                           " (`dokku run` uses the deployed image); run it "
                           "again once v",
                           version, " is deployed there"));
  }
  DokkuCommand c{.args = {"run", app}, .app = app, .deadline = deadline, .out = out};
  c.args.insert(c.args.end(), argv.begin(), argv.end());
  c.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput r, cli_.Run(c));
  if (r.exit_code == 20) {
    return absl::NotFoundError(
        absl::StrCat("app \"", app, "\" does not exist on server ", options_.server_name));
  }
  return r.exit_code;
}

}  // namespace dflow::agent
