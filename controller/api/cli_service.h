// The controller's gRPC service for the dflow CLI (Unix socket). Thin: validate,
// call the store or the fleet, map Status to gRPC codes.
#ifndef DFLOW_CONTROLLER_API_CLI_SERVICE_H_
#define DFLOW_CONTROLLER_API_CLI_SERVICE_H_

#include "controller/api/context.h"
#include "dflow/controller/v1/cli.grpc.pb.h"

namespace dflow::api {

class CliService final : public controller::v1::Cli::Service {
 public:
  explicit CliService(ControllerContext* ctx) : ctx_(ctx) {}

  grpc::Status Status(grpc::ServerContext*, const controller::v1::StatusRequest*,
                      controller::v1::StatusResponse*) override;
  grpc::Status CreateJoinToken(grpc::ServerContext*, const controller::v1::CreateJoinTokenRequest*,
                               controller::v1::CreateJoinTokenResponse*) override;
  grpc::Status ListServers(grpc::ServerContext*, const controller::v1::ListServersRequest*,
                           controller::v1::ListServersResponse*) override;
  grpc::Status GetServer(grpc::ServerContext*, const controller::v1::GetServerRequest*,
                         controller::v1::Server*) override;
  grpc::Status LabelServer(grpc::ServerContext*, const controller::v1::LabelServerRequest*,
                           controller::v1::Server*) override;
  grpc::Status SetDraining(grpc::ServerContext*, const controller::v1::SetDrainingRequest*,
                           controller::v1::Server*) override;
  grpc::Status RemoveServer(grpc::ServerContext*, const controller::v1::RemoveServerRequest*,
                            controller::v1::RemoveServerResponse*) override;
  grpc::Status ListEvents(grpc::ServerContext*, const controller::v1::ListEventsRequest*,
                          controller::v1::ListEventsResponse*) override;

 private:
  ControllerContext* ctx_;
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_CLI_SERVICE_H_
