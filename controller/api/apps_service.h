// The Apps service (apps.proto) on the CLI's Unix socket. Thin: it validates
// what users typed, reads the store, hands changes to the op engine as ops and
// maps Status to gRPC codes. Every error says what failed, where, and what to
// do next; a request that fails validation changes nothing.
//
// Split by concern: apps_service.cc (apps, instances, releases, config),
// apps_changes.cc (upload and the RPCs that start ops), apps_streams.cc (logs,
// one-off runs and ops).
#ifndef DFLOW_CONTROLLER_API_APPS_SERVICE_H_
#define DFLOW_CONTROLLER_API_APPS_SERVICE_H_

#include "controller/api/context.h"
#include "dflow/controller/v1/apps.grpc.pb.h"

namespace dflow::api {

class AppsService final : public controller::v1::Apps::Service {
 public:
  explicit AppsService(ControllerContext* ctx) : ctx_(ctx) {}

  grpc::Status CreateApp(grpc::ServerContext*, const controller::v1::CreateAppRequest*,
                         controller::v1::App*) override;
  grpc::Status ListApps(grpc::ServerContext*, const controller::v1::ListAppsRequest*,
                        controller::v1::ListAppsResponse*) override;
  grpc::Status GetApp(grpc::ServerContext*, const controller::v1::GetAppRequest*,
                      controller::v1::App*) override;
  grpc::Status DestroyApp(grpc::ServerContext*, const controller::v1::DestroyAppRequest*,
                          controller::v1::OpRef*) override;
  grpc::Status UploadSource(grpc::ServerContext*, grpc::ServerReader<controller::v1::SourceChunk>*,
                            controller::v1::UploadSourceResponse*) override;
  grpc::Status Deploy(grpc::ServerContext*, const controller::v1::DeployRequest*,
                      controller::v1::OpRef*) override;
  grpc::Status Scale(grpc::ServerContext*, const controller::v1::ScaleRequest*,
                     controller::v1::OpRef*) override;
  grpc::Status SetConfig(grpc::ServerContext*, const controller::v1::SetConfigRequest*,
                         controller::v1::OpRef*) override;
  grpc::Status GetConfig(grpc::ServerContext*, const controller::v1::GetConfigRequest*,
                         controller::v1::GetConfigResponse*) override;
  grpc::Status ListReleases(grpc::ServerContext*, const controller::v1::ListReleasesRequest*,
                            controller::v1::ListReleasesResponse*) override;
  grpc::Status Rollback(grpc::ServerContext*, const controller::v1::RollbackRequest*,
                        controller::v1::OpRef*) override;
  grpc::Status Pin(grpc::ServerContext*, const controller::v1::PinRequest*,
                   controller::v1::OpRef*) override;
  grpc::Status Restart(grpc::ServerContext*, const controller::v1::RestartRequest*,
                       controller::v1::OpRef*) override;
  grpc::Status ListInstances(grpc::ServerContext*, const controller::v1::ListInstancesRequest*,
                             controller::v1::ListInstancesResponse*) override;
  grpc::Status Logs(grpc::ServerContext*, const controller::v1::LogsRequest*,
                    grpc::ServerWriter<controller::v1::LogLine>*) override;
  grpc::Status Run(grpc::ServerContext*, const controller::v1::RunRequest*,
                   grpc::ServerWriter<controller::v1::RunOutput>*) override;
  grpc::Status ListOps(grpc::ServerContext*, const controller::v1::ListOpsRequest*,
                       controller::v1::ListOpsResponse*) override;
  grpc::Status GetOp(grpc::ServerContext*, const controller::v1::GetOpRequest*,
                     controller::v1::Op*) override;
  grpc::Status WatchOp(grpc::ServerContext*, const controller::v1::WatchOpRequest*,
                       grpc::ServerWriter<controller::v1::OpProgress>*) override;
  grpc::Status CancelOp(grpc::ServerContext*, const controller::v1::CancelOpRequest*,
                        controller::v1::Op*) override;

  // domains_service.cc
  grpc::Status AddDomain(grpc::ServerContext*, const controller::v1::DomainRequest*,
                         controller::v1::ListDomainsResponse*) override;
  grpc::Status RemoveDomain(grpc::ServerContext*, const controller::v1::DomainRequest*,
                            controller::v1::ListDomainsResponse*) override;
  grpc::Status ListDomains(grpc::ServerContext*, const controller::v1::ListDomainsRequest*,
                           controller::v1::ListDomainsResponse*) override;
  grpc::Status DomainsDns(grpc::ServerContext*, const controller::v1::ListDomainsRequest*,
                          controller::v1::DomainsDnsResponse*) override;

  // certs_service.cc
  grpc::Status AddCert(grpc::ServerContext*, const controller::v1::AddCertRequest*,
                       controller::v1::AppCert*) override;
  grpc::Status RemoveCert(grpc::ServerContext*, const controller::v1::RemoveCertRequest*,
                          controller::v1::RemoveCertResponse*) override;
  grpc::Status ListCerts(grpc::ServerContext*, const controller::v1::ListCertsRequest*,
                         controller::v1::ListCertsResponse*) override;

 private:
  // The app, after validating its name; NotFound says how to list or create one.
  absl::StatusOr<store::App> FindApp(const std::string& name);
  // Fills an App message: instance counts and the human status.
  absl::Status Describe(const store::App& app, controller::v1::App* out);

  ControllerContext* ctx_;
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_APPS_SERVICE_H_
