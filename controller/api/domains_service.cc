// AppsService: an app's custom domains (routed by every server's router).
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/hostname.h"
#include "common/status_macros.h"
#include "controller/api/apps_service.h"
#include "controller/api/dokku_service.h"
#include "controller/routing/dns_records.h"
#include "controller/routing/routing.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;

// The app's URL and custom domains.
absl::Status FillDomains(ControllerContext* ctx, const std::string& app,
                         v1::ListDomainsResponse* out) {
  ASSIGN_OR_RETURN(auto domains, ctx->store->ListDomains());
  out->set_app(app);
  if (ctx->routes != nullptr) out->set_url(ctx->routes->AppUrl(app));
  for (const auto& [host, owner] : domains) {
    if (owner == app) out->add_domains(host);
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status AppsService::AddDomain(grpc::ServerContext*, const v1::DomainRequest* request,
                                    v1::ListDomainsResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  const std::string host = LowerHostname(request->host());
  if (auto s = ValidateHostname("domain", host); !s.ok()) return ToGrpc(s);
  // APP.BASE names are the apps' own: another app's is refused.
  auto base = ctx_->store->GetSetting(routing::kBaseDomainSetting, routing::kDefaultBaseDomain);
  if (!base.ok()) return ToGrpc(base.status());
  const std::string suffix = "." + *base;
  if (host.size() > suffix.size() &&
      host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
    std::string label = host.substr(0, host.size() - suffix.size());
    if (label == app->name) {
      return ToGrpc(absl::AlreadyExistsError(
          absl::StrCat(host, " is already app ", app->name, "'s own address")));
    }
    if (ctx_->store->GetApp(label).ok()) {
      return ToGrpc(absl::AlreadyExistsError(absl::StrCat(
          "domain ", host, " is app ", label, "'s own address; choose another hostname")));
    }
  }
  if (auto s = ctx_->store->AddDomain(app->name, host); !s.ok()) return ToGrpc(s);
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  // On Dokku servers Dokku's proxy serves the domain: an op runs domains:add
  // (the CLI follows it).
  auto op = DomainOpOnDokku(ctx_, app->name, host, true);
  if (!op.ok()) return ToGrpc(op.status());
  response->set_dokku_op(*op);
  return ToGrpc(FillDomains(ctx_, app->name, response));
}

grpc::Status AppsService::RemoveDomain(grpc::ServerContext*, const v1::DomainRequest* request,
                                       v1::ListDomainsResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ctx_->store->RemoveDomain(app->name, LowerHostname(request->host())); !s.ok()) {
    return ToGrpc(s);
  }
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  auto op = DomainOpOnDokku(ctx_, app->name, LowerHostname(request->host()), false);
  if (!op.ok()) return ToGrpc(op.status());
  response->set_dokku_op(*op);
  return ToGrpc(FillDomains(ctx_, app->name, response));
}

grpc::Status AppsService::ListDomains(grpc::ServerContext*, const v1::ListDomainsRequest* request,
                                      v1::ListDomainsResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  return ToGrpc(FillDomains(ctx_, app->name, response));
}

grpc::Status AppsService::DomainsDns(grpc::ServerContext*, const v1::ListDomainsRequest* request,
                                     v1::DomainsDnsResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto hosts = routing::AppHostnames(ctx_->store, app->name);
  if (!hosts.ok()) return ToGrpc(hosts.status());
  auto servers = ctx_->store->ListServers();
  if (!servers.ok()) return ToGrpc(servers.status());
  auto instances = ctx_->store->ListInstances(app->name);
  if (!instances.ok()) return ToGrpc(instances.status());
  response->set_app(app->name);
  for (const auto& r : routing::BuildDnsRecords(
           *hosts, *servers, *instances,
           [this](const std::string& s) { return ctx_->fleet->Reachable(s); })) {
    auto* out = response->add_records();
    out->set_host(r.host);
    out->set_type(r.type);
    out->set_value(r.value);
    out->set_server(r.server);
    out->set_status(r.status);
    out->set_unreachable_since_ms(r.unreachable_since_ms);
    out->set_instances(r.instances);
  }
  return grpc::Status::OK;
}

}  // namespace dflow::api
