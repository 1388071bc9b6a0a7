#include "agent/agent_service.h"

#include "agent/facts.h"
#include "common/grpc_status.h"
#include "common/tls.h"

namespace dflow::agent {

grpc::Status CheckControllerPeer(const grpc::ServerContext& context) {
  if (PeerCommonName(context) != tls::kControllerCommonName) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this agent accepts requests only from its controller");
  }
  return grpc::Status::OK;
}

grpc::Status AgentService::Describe(grpc::ServerContext* context,
                                    const agent::v1::DescribeRequest*,
                                    agent::v1::DescribeResponse* response) {
  if (auto s = CheckControllerPeer(*context); !s.ok()) return s;
  AgentConfig config = config_();
  response->set_name(config.name);
  *response->mutable_facts() = CollectFacts(data_dir_, config.runtime);
  response->mutable_labels()->insert(config.labels.begin(), config.labels.end());
  return grpc::Status::OK;
}

}  // namespace dflow::agent
