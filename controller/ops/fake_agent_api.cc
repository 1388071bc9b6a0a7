#include "controller/ops/fake_agent_api.h"

#include "absl/strings/str_cat.h"

namespace dflow::ops {

void FakeAgentApi::SetInject(std::function<absl::Status(const Call&)> inject) {
  std::lock_guard lock(mu_);
  inject_ = std::move(inject);
}

void FakeAgentApi::SetUnreachable(const std::string& server, bool unreachable) {
  std::lock_guard lock(mu_);
  if (unreachable) {
    unreachable_.insert(server);
  } else {
    unreachable_.erase(server);
  }
}

void FakeAgentApi::Vanish(const std::string& server, const std::string& id) {
  std::lock_guard lock(mu_);
  instances_[server].erase(id);
}

void FakeAgentApi::SetLogs(const std::string& server, std::vector<agents::AgentLogLine> lines) {
  std::lock_guard lock(mu_);
  logs_[server] = std::move(lines);
}

void FakeAgentApi::SetState(const std::string& server, const std::string& id,
                            const std::string& state) {
  std::lock_guard lock(mu_);
  auto it = instances_[server].find(id);
  if (it != instances_[server].end()) it->second.state = state;
}

void FakeAgentApi::Plant(const std::string& server, const agents::AgentInstance& instance) {
  std::lock_guard lock(mu_);
  instances_[server][instance.id] = instance;
}

std::vector<FakeAgentApi::Call> FakeAgentApi::Calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

std::vector<FakeAgentApi::Call> FakeAgentApi::CallsTo(const std::string& method) const {
  std::lock_guard lock(mu_);
  std::vector<Call> out;
  for (const auto& c : calls_) {
    if (c.method == method) out.push_back(c);
  }
  return out;
}

void FakeAgentApi::ClearCalls() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

std::map<std::string, agents::AgentInstance> FakeAgentApi::Running(
    const std::string& server) const {
  std::lock_guard lock(mu_);
  auto it = instances_.find(server);
  return it == instances_.end() ? std::map<std::string, agents::AgentInstance>{} : it->second;
}

std::vector<agents::AgentInstance> FakeAgentApi::AllRunning() const {
  std::lock_guard lock(mu_);
  std::vector<agents::AgentInstance> out;
  for (const auto& [server, by_id] : instances_) {
    for (const auto& [id, i] : by_id) out.push_back(i);
  }
  return out;
}

int FakeAgentApi::Spawns(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = spawns_.find(id);
  return it == spawns_.end() ? 0 : it->second;
}

std::map<std::string, std::string> FakeAgentApi::PreparedEnv(const std::string& server,
                                                             const std::string& app,
                                                             int64_t version) const {
  std::lock_guard lock(mu_);
  auto s = prepared_.find(server);
  if (s == prepared_.end()) return {};
  auto r = s->second.find(absl::StrCat(app, "@v", version));
  return r == s->second.end() ? std::map<std::string, std::string>{} : r->second;
}

absl::Status FakeAgentApi::Enter(const Call& call) {
  std::function<absl::Status(const Call&)> inject;
  {
    std::lock_guard lock(mu_);
    calls_.push_back(call);
    if (unreachable_.count(call.server) > 0) {
      return absl::UnavailableError(
          absl::StrCat("server ", call.server, " (fake) is unreachable during ", call.method));
    }
    inject = inject_;
  }
  return inject ? inject(call) : absl::OkStatus();
}

absl::Status FakeAgentApi::EnsureArchive(const std::string& server, const std::string& digest,
                                         const std::string& local_path) {
  if (auto s = Enter({"EnsureArchive", server, "", digest}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  archives_[server].insert(digest);
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> FakeAgentApi::PrepareRelease(
    const std::string& server, const std::string& key, const agents::PrepareSpec& spec) {
  if (auto s = Enter({"PrepareRelease", server, key, absl::StrCat(spec.app, "@v", spec.version),
                      spec.version});
      !s.ok()) {
    return s;
  }
  std::lock_guard lock(mu_);
  // An image release (Dokku's git:from-image) has no archive, as on a real agent.
  if (spec.image.empty() && archives_[server].count(spec.digest) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("on server ", server, ": archive ", spec.digest, " is not here"));
  }
  prepared_[server][absl::StrCat(spec.app, "@v", spec.version)] = spec.env;
  return std::map<std::string, std::string>{{"web", "python3 app.py"}};
}

absl::StatusOr<std::string> FakeAgentApi::RunReleaseCommand(const std::string& server,
                                                            const std::string& key,
                                                            const std::string& app, int64_t version,
                                                            std::chrono::milliseconds timeout) {
  if (auto s = Enter({"RunReleaseCommand", server, key, absl::StrCat(app, "@v", version), version});
      !s.ok()) {
    return s;
  }
  return std::string("release command ok\n");
}

absl::StatusOr<agents::AgentInstance> FakeAgentApi::StartInstance(const std::string& server,
                                                                  const std::string& key,
                                                                  const agents::StartSpec& spec) {
  if (auto s = Enter({"StartInstance", server, key, spec.id, spec.release}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto& here = instances_[server];
  auto it = here.find(spec.id);
  if (it != here.end()) return it->second;  // already started: the same instance
  if (prepared_[server].count(absl::StrCat(spec.app, "@v", spec.release)) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("on server ", server, ": ", spec.app, " v", spec.release, " is not prepared"));
  }
  agents::AgentInstance i;
  i.id = spec.id;
  i.app = spec.app;
  i.process = spec.process;
  i.release = spec.release;
  i.port = next_port_++;
  i.state = "running";
  spawns_[spec.id]++;
  here[spec.id] = i;
  return i;
}

absl::Status FakeAgentApi::StopInstance(const std::string& server, const std::string& key,
                                        const std::string& id, std::chrono::milliseconds grace) {
  if (auto s = Enter({"StopInstance", server, key, id}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  instances_[server].erase(id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<agents::AgentInstance>> FakeAgentApi::ListInstances(
    const std::string& server) {
  if (auto s = Enter({"ListInstances", server, "", ""}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  std::vector<agents::AgentInstance> out;
  for (const auto& [id, i] : instances_[server]) out.push_back(i);
  return out;
}

absl::StatusOr<std::vector<agents::AgentLogLine>> FakeAgentApi::Logs(const std::string& server,
                                                                     const std::string& app,
                                                                     const std::string& process,
                                                                     int lines) {
  if (auto s = Enter({"Logs", server, "", app}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  std::vector<agents::AgentLogLine> out;
  for (const auto& l : logs_[server]) {
    if (process.empty() || l.process == process) out.push_back(l);
  }
  if (lines > 0 && static_cast<int>(out.size()) > lines) out.erase(out.begin(), out.end() - lines);
  return out;
}

absl::StatusOr<int> FakeAgentApi::RunOneOff(const std::string& server, const std::string& app,
                                            int64_t version, const std::vector<std::string>& argv,
                                            std::chrono::milliseconds timeout,
                                            const std::function<void(const std::string&)>& out) {
  if (auto s = Enter({"RunOneOff", server, "", absl::StrCat(app, "@v", version), version});
      !s.ok()) {
    return s;
  }
  for (const auto& a : argv) out(a + "\n");
  return 0;
}

absl::StatusOr<std::string> FakeAgentApi::ChangeDokku(const std::string& server,
                                                      const std::string& key,
                                                      const agents::DokkuChange& change) {
  if (auto s = Enter({"ChangeDokku", server, key, change.app, static_cast<int64_t>(change.kind)});
      !s.ok()) {
    return s;
  }
  if (change.kind == agents::DokkuChange::Kind::kDestroyService) {
    std::lock_guard lock(mu_);
    services_[server].erase(change.service);
    service_kinds_[server].erase(change.service);
  }
  return std::string("changed\n");
}

absl::Status FakeAgentApi::DestroyApp(const std::string& server, const std::string& key,
                                      const std::string& app) {
  if (auto s = Enter({"DestroyApp", server, key, app}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  std::erase_if(instances_[server], [&](const auto& kv) { return kv.second.app == app; });
  return absl::OkStatus();
}

absl::StatusOr<agents::ServiceResult> FakeAgentApi::CreateService(const std::string& server,
                                                                  const std::string& key,
                                                                  const std::string& kind,
                                                                  const std::string& name,
                                                                  bool expose) {
  if (auto s = Enter({"CreateService", server, key, name}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto& held = services_[server];
  if (held.count(name) == 0) {
    held[name] = {
        absl::StrCat(kind, "://", kind, ":pw-", name, "@dokku-", kind, "-", name, ":5432/", name),
        expose ? next_port_++ : 0,
        absl::StrCat("=====> ", kind, " container created: ", name, "\n")};
    service_kinds_[server][name] = kind;
    return held[name];
  }
  agents::ServiceResult r = held[name];
  r.output = "";
  return r;
}

absl::StatusOr<agents::ServiceResult> FakeAgentApi::GetService(const std::string& server,
                                                               const std::string& kind,
                                                               const std::string& name) {
  if (auto s = Enter({"GetService", server, "", name}); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = services_[server].find(name);
  if (it == services_[server].end()) {
    return absl::NotFoundError(absl::StrCat(kind, " service ", name, " does not exist"));
  }
  agents::ServiceResult r = it->second;
  r.output = "";
  return r;
}

std::map<std::string, std::string> FakeAgentApi::Services(const std::string& server) const {
  std::lock_guard lock(mu_);
  auto it = service_kinds_.find(server);
  return it == service_kinds_.end() ? std::map<std::string, std::string>{} : it->second;
}

}  // namespace dflow::ops
