// The controller's gRPC service for agents (TLS port). Join needs no client
// certificate and is authorized by the one-time token; every other RPC needs a
// client certificate this controller issued and has not revoked.
#ifndef DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_
#define DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_

#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
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
  // A certificate's fingerprint, parsed once per distinct PEM: heartbeats
  // repeat the same few certificates, and parsing dominates their cost.
  absl::StatusOr<std::string> CachedFingerprint(const std::string& pem);
  static constexpr size_t kMaxCachedFingerprints = 10000;

  ControllerContext* ctx_;
  std::mutex fingerprints_mu_;
  std::unordered_map<std::string, std::string> fingerprints_;
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_AGENT_GATEWAY_SERVICE_H_
