// The agent's gRPC service: a thin layer that checks the caller and translates
// each RPC into a Runtime call (runtime.h) or a BlobStore operation.
//
// Every RPC first checks that the caller presented the controller's certificate
// (CN dflow-controller, signed by the CA — the TLS layer verified the
// signature); any other peer gets PERMISSION_DENIED. absl::Status codes map
// one-to-one onto gRPC codes; messages name the app/instance and this server.
//
// Archives live in DATA/archives/<sha256>.tar.gz. PutArchive's first chunk
// carries the digest; the upload is refused past `max_archive_bytes`
// (RESOURCE_EXHAUSTED) and stored only when the whole stream matches the digest
// (DATA_LOSS otherwise).
//
// Idempotency: the mutating RPCs carry an idempotency key, which is logged; a
// retry is safe because every Runtime call is idempotent by its natural key
// (app+version, instance id) and gives the first call's result.
#ifndef DFLOW_AGENT_AGENT_SERVICE_H_
#define DFLOW_AGENT_AGENT_SERVICE_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "agent/agent_config.h"
#include "common/blob_store.h"
#include "dflow/agent/v1/agent.grpc.pb.h"

namespace dflow::agent {

class Router;
class Runtime;

inline constexpr int64_t kDefaultMaxArchiveBytes = int64_t{2} << 30;  // 2 GiB

class AgentService final : public agent::v1::Agent::Service {
 public:
  // `runtime` may be null (a runtime this build cannot drive): the runtime RPCs
  // then answer FAILED_PRECONDITION. It must outlive the service.
  AgentService(std::string data_dir, std::function<AgentConfig()> config,
               Runtime* runtime = nullptr, int64_t max_archive_bytes = kDefaultMaxArchiveBytes);

  grpc::Status Describe(grpc::ServerContext* context, const agent::v1::DescribeRequest* request,
                        agent::v1::DescribeResponse* response) override;
  grpc::Status HasArchive(grpc::ServerContext* context, const agent::v1::HasArchiveRequest* request,
                          agent::v1::HasArchiveResponse* response) override;
  grpc::Status PutArchive(grpc::ServerContext* context,
                          grpc::ServerReader<agent::v1::ArchiveChunk>* reader,
                          agent::v1::PutArchiveResponse* response) override;
  grpc::Status PrepareRelease(grpc::ServerContext* context,
                              const agent::v1::PrepareReleaseRequest* request,
                              agent::v1::PrepareReleaseResponse* response) override;
  grpc::Status RunReleaseCommand(grpc::ServerContext* context,
                                 const agent::v1::RunReleaseCommandRequest* request,
                                 agent::v1::CommandOutput* response) override;
  grpc::Status StartInstance(grpc::ServerContext* context,
                             const agent::v1::StartInstanceRequest* request,
                             agent::v1::InstanceStatus* response) override;
  grpc::Status StartInstanceStreaming(
      grpc::ServerContext* context, const agent::v1::StartInstanceRequest* request,
      grpc::ServerWriter<agent::v1::StartProgress>* writer) override;
  grpc::Status StopInstance(grpc::ServerContext* context,
                            const agent::v1::StopInstanceRequest* request,
                            agent::v1::StopInstanceResponse* response) override;
  grpc::Status ListInstances(grpc::ServerContext* context,
                             const agent::v1::ListInstancesRequest* request,
                             agent::v1::ListInstancesResponse* response) override;
  grpc::Status Logs(grpc::ServerContext* context, const agent::v1::LogsRequest* request,
                    agent::v1::LogsResponse* response) override;
  grpc::Status RunOneOff(grpc::ServerContext* context, const agent::v1::RunOneOffRequest* request,
                         grpc::ServerWriter<agent::v1::OneOffOutput>* writer) override;
  grpc::Status DestroyApp(grpc::ServerContext* context, const agent::v1::DestroyAppRequest* request,
                          agent::v1::DestroyAppResponse* response) override;
  // agent_routes.cc: hands the table to the router (agent/router/router.h).
  grpc::Status SetRoutes(grpc::ServerContext* context, const agent::v1::SetRoutesRequest* request,
                         agent::v1::SetRoutesResponse* response) override;

  // agent_dokku.cc: what Dokku adds, through the Runtime.
  grpc::Status AddDomain(grpc::ServerContext* context, const agent::v1::AppDomainRequest* request,
                         agent::v1::DokkuOutput* response) override;
  grpc::Status RemoveDomain(grpc::ServerContext* context,
                            const agent::v1::AppDomainRequest* request,
                            agent::v1::DokkuOutput* response) override;
  grpc::Status SetPorts(grpc::ServerContext* context, const agent::v1::SetPortsRequest* request,
                        agent::v1::DokkuOutput* response) override;
  grpc::Status MountStorage(grpc::ServerContext* context, const agent::v1::StorageRequest* request,
                            agent::v1::DokkuOutput* response) override;
  grpc::Status UnmountStorage(grpc::ServerContext* context,
                              const agent::v1::StorageRequest* request,
                              agent::v1::DokkuOutput* response) override;
  grpc::Status SetCheck(grpc::ServerContext* context, const agent::v1::SetCheckRequest* request,
                        agent::v1::DokkuOutput* response) override;
  grpc::Status UnsetCheck(grpc::ServerContext* context, const agent::v1::UnsetCheckRequest* request,
                          agent::v1::DokkuOutput* response) override;
  grpc::Status CreateService(grpc::ServerContext* context,
                             const agent::v1::CreateServiceRequest* request,
                             agent::v1::ServiceInfo* response) override;
  grpc::Status GetService(grpc::ServerContext* context, const agent::v1::GetServiceRequest* request,
                          agent::v1::ServiceInfo* response) override;
  grpc::Status LinkService(grpc::ServerContext* context,
                           const agent::v1::LinkServiceRequest* request,
                           agent::v1::DokkuOutput* response) override;
  grpc::Status UnlinkService(grpc::ServerContext* context,
                             const agent::v1::LinkServiceRequest* request,
                             agent::v1::DokkuOutput* response) override;
  grpc::Status DestroyService(grpc::ServerContext* context,
                              const agent::v1::DestroyServiceRequest* request,
                              agent::v1::DokkuOutput* response) override;
  grpc::Status AddCert(grpc::ServerContext* context, const agent::v1::AppCertRequest* request,
                       agent::v1::DokkuOutput* response) override;
  grpc::Status RemoveCert(grpc::ServerContext* context, const agent::v1::AppCertRequest* request,
                          agent::v1::DokkuOutput* response) override;

  // The router this agent runs (--router-listen), or null. Must outlive the service.
  void set_router(Router* router) { router_ = router; }

 private:
  // OK with the runtime, or the status to answer with.
  grpc::Status Ready(const grpc::ServerContext& context, const char* rpc,
                     const std::string& key = "");
  std::string ServerName() const;
  // agent_dokku.cc: Ready, then `checks` (the first failure answers), then
  // `call` with an output collector; Dokku's output goes into the response.
  grpc::Status DokkuCall(
      const grpc::ServerContext& context, const char* rpc, const std::string& key,
      std::initializer_list<absl::Status> checks,
      const std::function<absl::Status(const std::function<void(const std::string&)>&)>& call,
      agent::v1::DokkuOutput* response);
  // An Unimplemented status from the runtime (something only Dokku does) as
  // FailedPrecondition naming this server's runtime and the way to a Dokku one.
  absl::Status NeedsDokku(const absl::Status& s) const;

  std::string data_dir_;
  std::function<AgentConfig()> config_;
  Runtime* runtime_;
  Router* router_ = nullptr;
  int64_t max_archive_bytes_;
  BlobStore archives_;
};

// OK when the peer is the controller.
grpc::Status CheckControllerPeer(const grpc::ServerContext& context);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_AGENT_SERVICE_H_
