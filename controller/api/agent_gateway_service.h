// The controller's gRPC service for agents (TLS port). Join needs no client
// certificate and is authorized by the one-time token; every other RPC needs a
// client certificate this controller issued and has not revoked.
#ifndef DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_
#define DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_

#include "controller/api/context.h"
#include "dflow/controller/v1/agent_gateway.grpc.pb.h"

namespace dflow::api {

class AgentGatewayService final : public controller::v1::AgentGateway::Service {
 public:
  explicit AgentGatewayService(ControllerContext* ctx) : ctx_(ctx) {}

  grpc::Status Join(grpc::ServerContext* context, const controller::v1::JoinRequest* request,
                    controller::v1::JoinResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context,
                         const controller::v1::HeartbeatRequest* request,
                         controller::v1::HeartbeatResponse* response) override;

 private:
  ControllerContext* ctx_;
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_
