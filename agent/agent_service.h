// The agent's gRPC service. Every RPC first checks that the caller presented the
// controller's certificate (CN dflow-controller, signed by the CA — the TLS layer
// verified the signature); any other peer gets PERMISSION_DENIED.
#ifndef DFLOW_AGENT_AGENT_SERVICE_H_
#define DFLOW_AGENT_AGENT_SERVICE_H_

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "agent/agent_config.h"
#include "dflow/agent/v1/agent.grpc.pb.h"

namespace dflow::agent {

class AgentService final : public agent::v1::Agent::Service {
 public:
  AgentService(std::string data_dir, std::function<AgentConfig()> config)
      : data_dir_(std::move(data_dir)), config_(std::move(config)) {}

  grpc::Status Describe(grpc::ServerContext* context, const agent::v1::DescribeRequest* request,
                        agent::v1::DescribeResponse* response) override;

 private:
  std::string data_dir_;
  std::function<AgentConfig()> config_;
};

// OK when the peer is the controller.
grpc::Status CheckControllerPeer(const grpc::ServerContext& context);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_AGENT_SERVICE_H_
