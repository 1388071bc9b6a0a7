#include "controller/api/agent_gateway_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/join_token.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/convert.h"

namespace dflow::api {
namespace {

constexpr int kAgentCertDays = 825;

absl::Status CheckJoinRequest(const controller::v1::JoinRequest& r) {
  RETURN_IF_ERROR(ValidateServerName(r.name()));
  RETURN_IF_ERROR(ValidateHostPort(r.address()));
  for (const auto& [k, v] : r.labels()) RETURN_IF_ERROR(ValidateLabel(k, v));
  if (r.csr_pem().empty()) return absl::InvalidArgumentError("join request carries no CSR");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> AgentGatewayService::CachedFingerprint(const std::string& pem) {
  {
    std::lock_guard lock(fingerprints_mu_);
    auto it = fingerprints_.find(pem);
    if (it != fingerprints_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::string fingerprint, tls::Fingerprint(pem));
  std::lock_guard lock(fingerprints_mu_);
  if (fingerprints_.size() >= kMaxCachedFingerprints) fingerprints_.clear();
  fingerprints_.emplace(pem, fingerprint);
  return fingerprint;
}

grpc::Status AgentGatewayService::Join(grpc::ServerContext* context,
                                       const controller::v1::JoinRequest* request,
                                       controller::v1::JoinResponse* response) {
  auto token = DecodeJoinToken(request->token());
  if (!token.ok()) return ToGrpc(token.status());
  if (token->ca_fingerprint != ctx_->ca_fingerprint) {
    return ToGrpc(absl::PermissionDeniedError(
        "join token was made by another controller (its CA fingerprint differs); create one "
        "on this controller with `dflow servers join-token`"));
  }
  if (auto s = CheckJoinRequest(*request); !s.ok()) return ToGrpc(s);

  std::string host;
  int port = 0;
  SplitHostPort(request->address(), &host, &port);
  std::string cn = absl::StrCat(tls::kAgentCommonNamePrefix, request->name());
  auto cert = tls::IssueCertificate(ctx_->ca, request->csr_pem(), cn, host, kAgentCertDays);
  if (!cert.ok()) return ToGrpc(cert.status());
  auto fingerprint = tls::Fingerprint(*cert);
  if (!fingerprint.ok()) return ToGrpc(fingerprint.status());

  store::JoinRecord rec;
  rec.token_id = token->Id();
  rec.name = request->name();
  rec.address = request->address();
  rec.runtime = request->facts().runtime().empty() ? "local" : request->facts().runtime();
  rec.labels.insert(request->labels().begin(), request->labels().end());
  rec.facts = FromProto(request->facts());
  rec.cert_fingerprint = *fingerprint;
  if (auto s = ctx_->store->JoinServer(rec); !s.ok()) {
    spdlog::warn("join of {} from {} refused: {}", request->name(), context->peer(), s.ToString());
    return ToGrpc(s);
  }
  ctx_->fleet->OnJoined(rec.name, rec.cert_fingerprint);
  ctx_->fleet->OnServerChanged(rec.name, {rec.labels, false});
  spdlog::info("server {} joined from {}", rec.name, rec.address);
  response->set_certificate_pem(*cert);
  response->set_ca_pem(ctx_->ca.cert_pem);
  return grpc::Status::OK;
}

grpc::Status AgentGatewayService::Heartbeat(grpc::ServerContext* context,
                                            const controller::v1::HeartbeatRequest* request,
                                            controller::v1::HeartbeatResponse* response) {
  std::string pem = PeerCertificatePem(*context);
  if (pem.empty()) {
    return ToGrpc(absl::UnauthenticatedError(
        "heartbeat needs the agent's client certificate; run `dflow-agent join` first"));
  }
  auto fingerprint = CachedFingerprint(pem);
  if (!fingerprint.ok()) return ToGrpc(fingerprint.status());
  auto name = ctx_->fleet->Authorize(*fingerprint);
  if (!name.ok()) return ToGrpc(name.status());
  if (PeerCommonName(*context) != absl::StrCat(tls::kAgentCommonNamePrefix, *name)) {
    return ToGrpc(absl::PermissionDeniedError("certificate name does not match its server"));
  }
  auto view = ctx_->fleet->Heartbeat(*name, FromProto(request->facts()));
  if (!view.ok()) return ToGrpc(view.status());
  response->mutable_labels()->insert(view->labels.begin(), view->labels.end());
  response->set_draining(view->draining);
  response->set_interval_ms(ctx_->fleet->options().heartbeat_interval.count());
  return grpc::Status::OK;
}

}  // namespace dflow::api
