#include "controller/api/cli_service.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_status.h"
#include "common/join_token.h"
#include "common/names.h"
#include "common/version.h"
#include "common/x509.h"
#include "controller/api/convert.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;

constexpr int64_t kMaxTokenTtlSeconds = 7 * 24 * 3600;

// "<ms>_<seq>" -> seq; empty -> 0.
absl::StatusOr<int64_t> SeqFromToken(const std::string& token) {
  if (token.empty()) return 0;
  std::vector<std::string> parts = absl::StrSplit(token, '_');
  int64_t seq = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &seq) || seq < 0) {
    return absl::InvalidArgumentError(absl::StrCat("continuation token \"", token,
                                                   "\" is not valid: it has the form <ms>_<seq>"));
  }
  return seq;
}

}  // namespace

grpc::Status CliService::Status(grpc::ServerContext*, const v1::StatusRequest*,
                                v1::StatusResponse* response) {
  auto servers = ctx_->store->ListServers();
  if (!servers.ok()) return ToGrpc(servers.status());
  response->set_version(kVersion);
  response->set_agent_address(ctx_->advertise_address);
  response->set_data_dir(ctx_->data_dir);
  response->set_started_at_ms(ctx_->started_at_ms);
  response->set_servers_total(static_cast<int>(servers->size()));
  for (const auto& s : *servers) {
    v1::Server p;
    ToProto(s, ctx_->fleet->Reachable(s.name), &p);
    if (p.status() == "healthy") response->set_servers_healthy(response->servers_healthy() + 1);
    if (p.status() == "unreachable") {
      response->set_servers_unreachable(response->servers_unreachable() + 1);
    }
    if (p.status() == "draining") response->set_servers_draining(response->servers_draining() + 1);
  }
  // The last few events, oldest first.
  auto recent = ctx_->store->RecentEvents(10);
  if (!recent.ok()) return ToGrpc(recent.status());
  for (const auto& e : *recent) ToProto(e, response->add_recent_events());
  // Certificates that expire within 30 days (or have), soonest first.
  auto certs = ctx_->store->ListAppCerts();
  if (!certs.ok()) return ToGrpc(certs.status());
  std::sort(certs->begin(), certs->end(),
            [](const auto& a, const auto& b) { return a.not_after_ms < b.not_after_ms; });
  const int64_t soon = ctx_->store->clock()->NowMs() + int64_t{30} * 24 * 3600 * 1000;
  for (const auto& c : *certs) {
    if (c.not_after_ms > soon) continue;
    auto* e = response->add_expiring_certs();
    e->set_app(c.app);
    e->set_not_after_ms(c.not_after_ms);
    e->set_subject(tls::InspectCertificate(c.cert_pem).value_or(tls::CertificateInfo{}).subject_cn);
  }
  auto removals = ctx_->store->ListPendingRemovals();
  if (!removals.ok()) return ToGrpc(removals.status());
  for (const auto& r : *removals) {
    auto* p = response->add_pending_removals();
    p->set_server(r.server);
    p->set_app(r.app);
    p->set_kind(r.kind);
    p->set_what(r.what);
    p->set_reason(r.reason);
    p->set_created_at_ms(r.created_at_ms);
  }
  return grpc::Status::OK;
}

grpc::Status CliService::CreateJoinToken(grpc::ServerContext*,
                                         const v1::CreateJoinTokenRequest* request,
                                         v1::CreateJoinTokenResponse* response) {
  int64_t ttl = request->ttl_seconds() == 0 ? 3600 : request->ttl_seconds();
  if (ttl < 0 || ttl > kMaxTokenTtlSeconds) {
    return ToGrpc(absl::InvalidArgumentError("--ttl must be between 1s and 7d"));
  }
  auto token = NewJoinToken(ctx_->advertise_address, ctx_->ca_fingerprint);
  if (!token.ok()) return ToGrpc(token.status());
  int64_t expires = ctx_->clock->NowMs() + ttl * 1000;
  if (auto s = ctx_->store->CreateJoinToken(token->Id(), expires); !s.ok()) return ToGrpc(s);
  response->set_token(token->Encode());
  response->set_expires_at_ms(expires);
  return grpc::Status::OK;
}

grpc::Status CliService::ListServers(grpc::ServerContext*, const v1::ListServersRequest*,
                                     v1::ListServersResponse* response) {
  auto servers = ctx_->store->ListServers();
  if (!servers.ok()) return ToGrpc(servers.status());
  for (const auto& s : *servers) {
    ToProto(s, ctx_->fleet->Reachable(s.name), response->add_servers());
  }
  return grpc::Status::OK;
}

grpc::Status CliService::GetServer(grpc::ServerContext*, const v1::GetServerRequest* request,
                                   v1::Server* response) {
  auto server = ctx_->store->GetServer(request->name());
  if (!server.ok()) return ToGrpc(server.status());
  ToProto(*server, ctx_->fleet->Reachable(server->name), response);
  return grpc::Status::OK;
}

grpc::Status CliService::LabelServer(grpc::ServerContext*, const v1::LabelServerRequest* request,
                                     v1::Server* response) {
  std::map<std::string, std::string> set(request->set().begin(), request->set().end());
  for (const auto& [k, v] : set) {
    if (auto s = ValidateLabel(k, v); !s.ok()) return ToGrpc(s);
  }
  std::vector<std::string> remove(request->remove().begin(), request->remove().end());
  for (const auto& k : remove) {
    if (auto s = ValidateLabel(k, ""); !s.ok()) return ToGrpc(s);
  }
  if (set.empty() && remove.empty()) {
    return ToGrpc(absl::InvalidArgumentError("give at least one k=v to set or --remove k"));
  }
  auto server = ctx_->store->SetLabels(request->name(), set, remove);
  if (!server.ok()) return ToGrpc(server.status());
  ctx_->fleet->OnServerChanged(server->name, {server->labels, server->draining});
  ToProto(*server, ctx_->fleet->Reachable(server->name), response);
  return grpc::Status::OK;
}

grpc::Status CliService::SetDraining(grpc::ServerContext*, const v1::SetDrainingRequest* request,
                                     v1::Server* response) {
  auto server = ctx_->store->SetDraining(request->name(), request->draining());
  if (!server.ok()) return ToGrpc(server.status());
  ctx_->fleet->OnServerChanged(server->name, {server->labels, server->draining});
  ToProto(*server, ctx_->fleet->Reachable(server->name), response);
  return grpc::Status::OK;
}

grpc::Status CliService::RemoveServer(grpc::ServerContext*, const v1::RemoveServerRequest* request,
                                      v1::RemoveServerResponse*) {
  if (auto s = ctx_->store->RemoveServer(request->name(), request->force()); !s.ok()) {
    return ToGrpc(s);
  }
  ctx_->fleet->OnRemoved(request->name());
  return grpc::Status::OK;
}

grpc::Status CliService::ListEvents(grpc::ServerContext*, const v1::ListEventsRequest* request,
                                    v1::ListEventsResponse* response) {
  auto after = SeqFromToken(request->continuation_token());
  if (!after.ok()) return ToGrpc(after.status());
  int limit = request->limit() <= 0 ? 100 : std::min(request->limit(), 1000);
  auto events = ctx_->store->ListEvents(*after, limit + 1);
  if (!events.ok()) return ToGrpc(events.status());
  bool has_next = static_cast<int>(events->size()) > limit;
  if (has_next) events->pop_back();
  for (const auto& e : *events) ToProto(e, response->add_events());
  response->set_continuation_token(events->empty() ? request->continuation_token()
                                                   : events->back().Token());
  response->set_has_next(has_next);
  return grpc::Status::OK;
}

}  // namespace dflow::api
