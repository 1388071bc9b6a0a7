// A fake AgentApi for tests: agents in memory, one per server name. It keeps
// instances the way a real agent does (a start of a known id finds it, a stop
// of an unknown id is OK, instances outlive an "unreachable" agent), records
// every call, and lets a test fail or intercept any call.
#ifndef DFLOW_CONTROLLER_OPS_FAKE_AGENT_API_H_
#define DFLOW_CONTROLLER_OPS_FAKE_AGENT_API_H_

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/agents/agent_api.h"

namespace dflow::ops {

class FakeAgentApi : public agents::AgentApi {
 public:
  struct Call {
    std::string method;  // "EnsureArchive", "StartInstance", …
    std::string server;
    std::string key;     // idempotency key ("" where the RPC has none)
    std::string target;  // digest, instance id, "app@vN" or app
    int64_t release = 0;
  };

  // Runs before every call (outside the fake's lock); a non-OK status fails
  // the call with it and changes nothing.
  void SetInject(std::function<absl::Status(const Call&)> inject);
  void SetUnreachable(const std::string& server, bool unreachable);
  // The instance vanishes from its server, as after a host reboot.
  void Vanish(const std::string& server, const std::string& id);
  void SetLogs(const std::string& server, std::vector<agents::AgentLogLine> lines);
  // Sets what the agent reports for an instance ("backoff", "failed", …).
  void SetState(const std::string& server, const std::string& id, const std::string& state);
  // An instance the agent runs without the controller having asked for it.
  void Plant(const std::string& server, const agents::AgentInstance& instance);

  std::vector<Call> Calls() const;
  std::vector<Call> CallsTo(const std::string& method) const;
  void ClearCalls();
  // Instances the server runs now, by id.
  std::map<std::string, agents::AgentInstance> Running(const std::string& server) const;
  // Every running instance on every server.
  std::vector<agents::AgentInstance> AllRunning() const;
  // How many times an instance id was spawned (a start that found it running
  // does not spawn).
  int Spawns(const std::string& id) const;

  absl::Status EnsureArchive(const std::string& server, const std::string& digest,
                             const std::string& local_path) override;
  absl::StatusOr<std::map<std::string, std::string>> PrepareRelease(
      const std::string& server, const std::string& key, const agents::PrepareSpec& spec) override;
  absl::StatusOr<std::string> RunReleaseCommand(const std::string& server, const std::string& key,
                                                const std::string& app, int64_t version,
                                                std::chrono::milliseconds timeout) override;
  absl::StatusOr<agents::AgentInstance> StartInstance(const std::string& server,
                                                      const std::string& key,
                                                      const agents::StartSpec& spec) override;
  absl::Status StopInstance(const std::string& server, const std::string& key,
                            const std::string& id, std::chrono::milliseconds grace) override;
  absl::StatusOr<std::vector<agents::AgentInstance>> ListInstances(
      const std::string& server) override;
  absl::StatusOr<std::vector<agents::AgentLogLine>> Logs(const std::string& server,
                                                         const std::string& app,
                                                         const std::string& process,
                                                         int lines) override;
  absl::StatusOr<int> RunOneOff(const std::string& server, const std::string& app, int64_t version,
                                const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout,
                                const std::function<void(const std::string&)>& out) override;
  // Recorded as "ChangeDokku" with target = the app, release = the change's kind.
  absl::StatusOr<std::string> ChangeDokku(const std::string& server, const std::string& key,
                                          const agents::DokkuChange& change) override;
  absl::Status DestroyApp(const std::string& server, const std::string& key,
                          const std::string& app) override;
  // Services kept per server; the URL's password is "pw-NAME". A second
  // create of one that exists only reads it (as the agent's KIND:exists
  // check does). A kDestroyService ChangeDokku removes it.
  absl::StatusOr<agents::ServiceResult> CreateService(const std::string& server,
                                                      const std::string& key,
                                                      const std::string& kind,
                                                      const std::string& name,
                                                      bool expose) override;
  absl::StatusOr<agents::ServiceResult> GetService(const std::string& server,
                                                   const std::string& kind,
                                                   const std::string& name) override;
  // Services the server holds: name -> kind.
  std::map<std::string, std::string> Services(const std::string& server) const;

  // Env a release was prepared with on a server ("app@vN" -> env).
  std::map<std::string, std::string> PreparedEnv(const std::string& server, const std::string& app,
                                                 int64_t version) const;

 private:
  absl::Status Enter(const Call& call);

  mutable std::mutex mu_;
  std::function<absl::Status(const Call&)> inject_;
  std::set<std::string> unreachable_;
  std::vector<Call> calls_;
  std::map<std::string, std::set<std::string>> archives_;  // server -> digests
  std::map<std::string, std::map<std::string, std::map<std::string, std::string>>> prepared_;
  std::map<std::string, std::map<std::string, agents::AgentInstance>> instances_;
  std::map<std::string, int> spawns_;
  std::map<std::string, std::vector<agents::AgentLogLine>> logs_;
  int next_port_ = 40000;
  std::map<std::string, std::map<std::string, agents::ServiceResult>> services_;  // server -> name
  std::map<std::string, std::map<std::string, std::string>> service_kinds_;
};

}  // namespace dflow::ops

#endif  // DFLOW_CONTROLLER_OPS_FAKE_AGENT_API_H_
