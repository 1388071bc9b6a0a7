// AgentService: what Dokku adds (domains, ports, storage, checks, services),
// each RPC one Runtime call. Names are checked here as well as in the
// controller: the agent trusts its caller's identity, not its input.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/agent_service.h"
#include "agent/runtime/runtime.h"
#include "common/dokku_names.h"
#include "common/grpc_status.h"
#include "common/hostname.h"
#include "common/names.h"
#include "common/x509.h"

namespace dflow::agent {
namespace {

namespace av1 = agent::v1;

constexpr size_t kMaxOutput = 1 << 20;

// Collects a call's output, keeping the last kMaxOutput bytes.
struct Collected {
  std::string text;
  OutputFn fn() {
    return [this](const std::string& chunk) {
      text += chunk;
      if (text.size() > 2 * kMaxOutput) text.erase(0, text.size() - kMaxOutput);
    };
  }
};

}  // namespace

absl::Status AgentService::NeedsDokku(const absl::Status& s) const {
  if (s.code() != absl::StatusCode::kUnimplemented) return s;
  return absl::FailedPreconditionError(
      absl::StrCat("server ", ServerName(), " runs the ", runtime_->Kind(), " runtime; ",
                   s.message(), " need a Dokku server (dflow-agent run --runtime dokku)"));
}

grpc::Status AgentService::DokkuCall(const grpc::ServerContext& context, const char* rpc,
                                     const std::string& key,
                                     std::initializer_list<absl::Status> checks,
                                     const std::function<absl::Status(const OutputFn&)>& call,
                                     av1::DokkuOutput* response) {
  if (auto s = Ready(context, rpc, key); !s.ok()) return s;
  for (const absl::Status& c : checks) {
    if (!c.ok()) return ToGrpc(c);
  }
  Collected out;
  if (absl::Status s = call(out.fn()); !s.ok()) return ToGrpc(NeedsDokku(s));
  response->set_output(std::move(out.text));
  return grpc::Status::OK;
}

grpc::Status AgentService::AddDomain(grpc::ServerContext* c, const av1::AppDomainRequest* r,
                                     av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "AddDomain", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateHostname("domain", r->host())},
      [&](const OutputFn& out) { return runtime_->AddDomain(r->app(), r->host(), out); }, response);
}

grpc::Status AgentService::RemoveDomain(grpc::ServerContext* c, const av1::AppDomainRequest* r,
                                        av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "RemoveDomain", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateHostname("domain", r->host())},
      [&](const OutputFn& out) { return runtime_->RemoveDomain(r->app(), r->host(), out); },
      response);
}

grpc::Status AgentService::SetPorts(grpc::ServerContext* c, const av1::SetPortsRequest* r,
                                    av1::DokkuOutput* response) {
  absl::Status maps = absl::OkStatus();
  for (const auto& m : r->maps()) {
    if (maps.ok()) maps = ValidatePortMap(m);
  }
  return DokkuCall(
      *c, "SetPorts", r->idempotency_key(), {ValidateAppName(r->app()), maps},
      [&](const OutputFn& out) {
        return runtime_->SetPorts(r->app(), {r->maps().begin(), r->maps().end()}, out);
      },
      response);
}

grpc::Status AgentService::MountStorage(grpc::ServerContext* c, const av1::StorageRequest* r,
                                        av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "MountStorage", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateStorageMount(r->source(), r->container_dir()),
       ValidateStorageChown(r->source(), r->chown())},
      [&](const OutputFn& out) {
        return runtime_->MountStorage(r->app(), r->source(), r->container_dir(), r->chown(), out);
      },
      response);
}

grpc::Status AgentService::UnmountStorage(grpc::ServerContext* c, const av1::StorageRequest* r,
                                          av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "UnmountStorage", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateStorageMount(r->source(), r->container_dir())},
      [&](const OutputFn& out) {
        return runtime_->UnmountStorage(r->app(), r->source(), r->container_dir(), out);
      },
      response);
}

grpc::Status AgentService::SetCheck(grpc::ServerContext* c, const av1::SetCheckRequest* r,
                                    av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "SetCheck", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateCheckSetting(r->key(), r->value())},
      [&](const OutputFn& out) { return runtime_->SetCheck(r->app(), r->key(), r->value(), out); },
      response);
}

grpc::Status AgentService::UnsetCheck(grpc::ServerContext* c, const av1::UnsetCheckRequest* r,
                                      av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "UnsetCheck", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateCheckKey(r->key())},
      [&](const OutputFn& out) { return runtime_->UnsetCheck(r->app(), r->key(), out); }, response);
}

grpc::Status AgentService::LinkService(grpc::ServerContext* c, const av1::LinkServiceRequest* r,
                                       av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "LinkService", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateServiceKind(r->kind()), ValidateServiceName(r->name()),
       ValidateSplitPrefix(r->split_prefix())},
      [&](const OutputFn& out) {
        return runtime_->LinkService(r->kind(), r->name(), r->app(), r->split_prefix(), out);
      },
      response);
}

grpc::Status AgentService::UnlinkService(grpc::ServerContext* c, const av1::LinkServiceRequest* r,
                                         av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "UnlinkService", r->idempotency_key(),
      {ValidateAppName(r->app()), ValidateServiceKind(r->kind()), ValidateServiceName(r->name()),
       ValidateSplitPrefix(r->split_prefix())},
      [&](const OutputFn& out) {
        return runtime_->UnlinkService(r->kind(), r->name(), r->app(), r->split_prefix(), out);
      },
      response);
}

grpc::Status AgentService::DestroyService(grpc::ServerContext* c,
                                          const av1::DestroyServiceRequest* r,
                                          av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "DestroyService", r->idempotency_key(),
      {ValidateServiceKind(r->kind()), ValidateServiceName(r->name())},
      [&](const OutputFn& out) { return runtime_->DestroyService(r->kind(), r->name(), out); },
      response);
}

// The controller checked the pair (common/x509); checked again here, so a
// pair that does not match never reaches Dokku.
grpc::Status AgentService::AddCert(grpc::ServerContext* c, const av1::AppCertRequest* r,
                                   av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "AddCert", r->idempotency_key(),
      {ValidateAppName(r->app()), tls::CheckKeyMatchesCertificate(r->key_pem(), r->cert_pem())},
      [&](const OutputFn& out) {
        return runtime_->AddCert(r->app(), r->cert_pem(), r->key_pem(), out);
      },
      response);
}

grpc::Status AgentService::RemoveCert(grpc::ServerContext* c, const av1::AppCertRequest* r,
                                      av1::DokkuOutput* response) {
  return DokkuCall(
      *c, "RemoveCert", r->idempotency_key(), {ValidateAppName(r->app())},
      [&](const OutputFn& out) { return runtime_->RemoveCert(r->app(), out); }, response);
}

grpc::Status AgentService::CreateService(grpc::ServerContext* context,
                                         const av1::CreateServiceRequest* request,
                                         av1::ServiceInfo* response) {
  if (auto s = Ready(*context, "CreateService", request->idempotency_key()); !s.ok()) return s;
  for (const absl::Status& s :
       {ValidateServiceKind(request->kind()), ValidateServiceName(request->name())}) {
    if (!s.ok()) return ToGrpc(s);
  }
  Collected out;
  auto info =
      runtime_->CreateService(request->kind(), request->name(), request->expose(), out.fn());
  if (!info.ok()) return ToGrpc(NeedsDokku(info.status()));
  response->set_dsn(info->dsn);
  response->set_exposed_port(info->exposed_port);
  response->set_output(std::move(out.text));
  return grpc::Status::OK;
}

// A read: no idempotency key, nothing printed (the URL holds the password).
grpc::Status AgentService::GetService(grpc::ServerContext* context,
                                      const av1::GetServiceRequest* request,
                                      av1::ServiceInfo* response) {
  if (auto s = Ready(*context, "GetService"); !s.ok()) return s;
  for (const absl::Status& s :
       {ValidateServiceKind(request->kind()), ValidateServiceName(request->name())}) {
    if (!s.ok()) return ToGrpc(s);
  }
  auto info = runtime_->GetService(request->kind(), request->name());
  if (!info.ok()) return ToGrpc(NeedsDokku(info.status()));
  response->set_dsn(info->dsn);
  response->set_exposed_port(info->exposed_port);
  return grpc::Status::OK;
}

}  // namespace dflow::agent
