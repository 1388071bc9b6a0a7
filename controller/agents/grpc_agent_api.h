// AgentApi over gRPC + mTLS, presenting the controller's certificate.
#ifndef DFLOW_CONTROLLER_AGENTS_GRPC_AGENT_API_H_
#define DFLOW_CONTROLLER_AGENTS_GRPC_AGENT_API_H_

#include <map>
#include <memory>
#include <mutex>

#include "common/tls.h"
#include "controller/agents/agent_api.h"
#include "controller/store/store.h"

namespace grpc {
class Channel;
}

namespace dflow::agents {

class GrpcAgentApi : public AgentApi {
 public:
  // `identity` is the controller's key and certificate; `ca_pem` verifies agents.
  GrpcAgentApi(store::Store* store, tls::KeyAndCert identity, std::string ca_pem);
  ~GrpcAgentApi() override;

  absl::Status EnsureArchive(const std::string& server, const std::string& digest,
                             const std::string& local_path) override;
  absl::StatusOr<std::map<std::string, std::string>> PrepareRelease(
      const std::string& server, const std::string& key, const PrepareSpec& spec) override;
  absl::StatusOr<std::string> RunReleaseCommand(const std::string& server, const std::string& key,
                                                const std::string& app, int64_t version,
                                                std::chrono::milliseconds timeout) override;
  absl::StatusOr<AgentInstance> StartInstance(const std::string& server, const std::string& key,
                                              const StartSpec& spec) override;
  absl::Status StopInstance(const std::string& server, const std::string& key,
                            const std::string& id, std::chrono::milliseconds grace) override;
  absl::StatusOr<std::vector<AgentInstance>> ListInstances(const std::string& server) override;
  absl::StatusOr<std::vector<AgentLogLine>> Logs(const std::string& server, const std::string& app,
                                                 const std::string& process, int lines) override;
  absl::StatusOr<int> RunOneOff(const std::string& server, const std::string& app, int64_t version,
                                const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout,
                                const std::function<void(const std::string&)>& out) override;
  absl::Status DestroyApp(const std::string& server, const std::string& key,
                          const std::string& app) override;
  absl::StatusOr<RoutesResult> SetRoutes(const std::string& server,
                                         const RoutesSpec& routes) override;
  absl::StatusOr<std::string> ChangeDokku(const std::string& server, const std::string& key,
                                          const DokkuChange& change) override;
  absl::StatusOr<ServiceResult> CreateService(const std::string& server, const std::string& key,
                                              const std::string& kind, const std::string& name,
                                              bool expose) override;
  absl::StatusOr<ServiceResult> GetService(const std::string& server, const std::string& kind,
                                           const std::string& name) override;

 private:
  struct Target;
  absl::StatusOr<Target> Connect(const std::string& server);

  store::Store* store_;
  tls::KeyAndCert identity_;
  std::string ca_pem_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // by address
};

}  // namespace dflow::agents

#endif  // DFLOW_CONTROLLER_AGENTS_GRPC_AGENT_API_H_
