// The Dokku service (dokku.proto) on the CLI's Unix socket: what Dokku adds to
// an app — port maps, storage, check settings, services — and image deploys.
// Thin like AppsService: validates what users typed, saves the desired state
// in the store, and hands the change to the op engine as a `dokku` op (or a
// config op, for a service reached over its exposed port).
//
// Pinning: storage and a service that is not exposed live on one server, so
// an app mounting storage or linked to such a service is pinned there (a pin
// committed by the op). A link is refused while the app runs on another server
// (move it first with `dflow apps pin`); a mount is refused while it runs on
// more than one, or on none and is not pinned (nothing says where the data
// should live). An exposed service is linked by config: its URL carries the
// service host's address and exposed port, and the app is not pinned.
//
// dokku_service.cc: ports, storage, checks, image deploys;
// dokku_services.cc: services.
#ifndef DFLOW_CONTROLLER_API_DOKKU_SERVICE_H_
#define DFLOW_CONTROLLER_API_DOKKU_SERVICE_H_

#include <set>
#include <string>

#include "controller/api/context.h"
#include "dflow/controller/v1/dokku.grpc.pb.h"

namespace dflow::api {

class DokkuService final : public controller::v1::Dokku::Service {
 public:
  explicit DokkuService(ControllerContext* ctx) : ctx_(ctx) {}

  grpc::Status SetPorts(grpc::ServerContext*, const controller::v1::SetPortsRequest*,
                        controller::v1::OpRef*) override;
  grpc::Status MountStorage(grpc::ServerContext*, const controller::v1::StorageMountRequest*,
                            controller::v1::OpRef*) override;
  grpc::Status UnmountStorage(grpc::ServerContext*, const controller::v1::StorageMountRequest*,
                              controller::v1::OpRef*) override;
  grpc::Status SetCheck(grpc::ServerContext*, const controller::v1::SetCheckRequest*,
                        controller::v1::OpRef*) override;
  grpc::Status UnsetCheck(grpc::ServerContext*, const controller::v1::UnsetCheckRequest*,
                          controller::v1::OpRef*) override;
  grpc::Status GetAppExtras(grpc::ServerContext*, const controller::v1::AppExtrasRequest*,
                            controller::v1::AppExtras*) override;
  grpc::Status DeployImage(grpc::ServerContext*, const controller::v1::DeployImageRequest*,
                           controller::v1::OpRef*) override;

  grpc::Status CreateService(grpc::ServerContext*, const controller::v1::CreateServiceRequest*,
                             controller::v1::DokkuService*) override;
  grpc::Status LinkService(grpc::ServerContext*, const controller::v1::ServiceLinkRequest*,
                           controller::v1::OpRef*) override;
  grpc::Status UnlinkService(grpc::ServerContext*, const controller::v1::ServiceLinkRequest*,
                             controller::v1::OpRef*) override;
  grpc::Status DestroyService(grpc::ServerContext*, const controller::v1::DestroyServiceRequest*,
                              controller::v1::DestroyServiceResponse*) override;
  grpc::Status ListServices(grpc::ServerContext*, const controller::v1::ListServicesRequest*,
                            controller::v1::ListServicesResponse*) override;

 private:
  absl::StatusOr<store::App> FindApp(const std::string& name);
  // Servers the app's live instances are on.
  absl::StatusOr<std::set<std::string>> ServersOf(const std::string& app);

  ControllerContext* ctx_;
};

// Submits a `dokku` op for a domain change when the app runs on a Dokku server
// (domains_service.cc calls it): the op's id, or 0 when it runs on none.
absl::StatusOr<int64_t> DomainOpOnDokku(ControllerContext* ctx, const std::string& app,
                                        const std::string& host, bool add);
// The same, for callers that do not follow the op.
absl::Status ApplyDomainOnDokku(ControllerContext* ctx, const std::string& app,
                                const std::string& host, bool add);

// Submits a `dokku` op that puts the app's stored certificate on each Dokku
// server it runs on (certs:add), or removes it there when none is stored
// (certs_service.cc). The op's id, or 0 when the app runs on no Dokku server.
absl::StatusOr<int64_t> ApplyCertOnDokku(ControllerContext* ctx, const std::string& app);

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_DOKKU_SERVICE_H_
