// DokkuService: services (postgres, redis) on one Dokku server each, linked to
// apps (dokku_service.h has the pinning rules).
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dokku_names.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "controller/api/apps_convert.h"
#include "controller/api/dokku_service.h"
#include "controller/ops/engine.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;
using json = nlohmann::json;

void ToProto(const store::Service& s, v1::DokkuService* out) {
  out->set_name(s.name);
  out->set_kind(s.kind);
  out->set_server(s.server);
  out->set_exposed(s.exposed);
  out->set_exposed_port(s.exposed_port);
  out->set_created_at_ms(s.created_at_ms);
  for (const auto& l : s.links) {
    auto* link = out->add_links();
    link->set_app(l.app);
    link->set_split_prefix(l.split_prefix);
  }
}

// The config an exposed service gives a linked app: its URL with the service
// host's address and exposed port, and the split variables when asked. The
// store keeps no password: with `with_password` the URL is read from the
// service's host (KIND:info --dsn); without (an unlink needs only the keys)
// the stored one serves.
absl::StatusOr<std::map<std::string, std::string>> ExposedConfig(ControllerContext* ctx,
                                                                 const store::Service& s,
                                                                 const std::string& prefix,
                                                                 bool with_password) {
  ASSIGN_OR_RETURN(store::Server server, ctx->store->GetServer(s.server));
  std::string host = server.address.substr(0, server.address.rfind(':'));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::string dsn = s.dsn;
  if (with_password) {
    auto read = ctx->agents->GetService(s.server, s.kind, s.name);
    if (!read.ok()) {
      return absl::Status(absl::IsUnavailable(read.status()) ? absl::StatusCode::kFailedPrecondition
                                                             : read.status().code(),
                          absl::StrCat("reading the URL of ", s.kind, " service ", s.name, " on ",
                                       s.server, " failed: ", read.status().message(),
                                       absl::IsUnavailable(read.status())
                                           ? "; try again once the server is reachable"
                                           : ""));
    }
    dsn = read->dsn;
  }
  auto parts = SplitServiceUrl(dsn);
  std::string scheme = dsn.substr(0, dsn.find("://"));
  std::string auth = parts["USER"] + (parts["PASSWORD"].empty() ? "" : ":" + parts["PASSWORD"]);
  std::string hostport = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                         std::to_string(s.exposed_port);
  std::string url = absl::StrCat(scheme, "://", auth, auth.empty() ? "" : "@", hostport,
                                 parts["DATABASE"].empty() ? "" : "/" + parts["DATABASE"]);
  std::map<std::string, std::string> config = {{ServiceUrlVariable(s.kind), url}};
  if (!prefix.empty()) {
    parts["HOST"] = host;
    parts["PORT"] = std::to_string(s.exposed_port);
    for (const auto& [k, v] : parts) config[prefix + k] = v;
  }
  return config;
}

}  // namespace

grpc::Status DokkuService::CreateService(grpc::ServerContext*,
                                         const v1::CreateServiceRequest* request,
                                         v1::DokkuService* response) {
  if (auto s = ValidateServiceKind(request->kind()); !s.ok()) return ToGrpc(s);
  if (auto s = ValidateServiceName(request->name()); !s.ok()) return ToGrpc(s);
  if (auto existing = ctx_->store->GetService(request->name()); existing.ok()) {
    return ToGrpc(
        absl::AlreadyExistsError(absl::StrCat("service ", request->name(), " already exists (",
                                              existing->kind, " on ", existing->server, ")")));
  }
  auto servers = ctx_->store->ListServers();
  if (!servers.ok()) return ToGrpc(servers.status());
  std::vector<std::string> dokku;
  for (const auto& s : *servers) {
    if (s.runtime == "dokku" && s.health == store::Health::kHealthy && !s.draining) {
      dokku.push_back(s.name);
    }
  }
  std::string server = request->server();
  if (server.empty()) {
    if (dokku.size() != 1) {
      return ToGrpc(absl::FailedPreconditionError(
          dokku.empty() ? std::string("no healthy Dokku server to create the service on; join "
                                      "one with `dflow-agent join … --runtime dokku`")
                        : absl::StrCat("choose the server that holds the service's data with "
                                       "--server (one of: ",
                                       absl::StrJoin(dokku, ", "), ")")));
    }
    server = dokku.front();
  } else {
    auto record = ctx_->store->GetServer(server);
    if (!record.ok()) return ToGrpc(record.status());
    if (record->runtime != "dokku") {
      return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
          "server ", server, " runs the ", record->runtime,
          " runtime; services need a Dokku server (dflow-agent run --runtime dokku)")));
    }
  }
  // A durable operation: its step creates the service (asking Dokku first) and
  // then records it, so a controller killed on the way finishes it.
  auto ref =
      ctx_->engine->CreateService(request->kind(), request->name(), server, request->expose());
  if (!ref.ok()) return ToGrpc(ref.status());
  response->set_name(request->name());
  response->set_kind(request->kind());
  response->set_server(server);
  response->set_exposed(request->expose());
  ToProto(*ref, response->mutable_op());
  return grpc::Status::OK;
}

grpc::Status DokkuService::LinkService(grpc::ServerContext*, const v1::ServiceLinkRequest* request,
                                       v1::OpRef* response) {
  auto service = ctx_->store->GetService(request->service());
  if (!service.ok()) return ToGrpc(service.status());
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ValidateSplitPrefix(request->split_prefix()); !s.ok()) return ToGrpc(s);
  const store::ServiceLink link{service->name, app->name, request->split_prefix()};
  if (service->exposed) {
    // Reached over the network: the URL goes into the app's config (a config
    // release, rolled out like `dflow config set`); the app stays unpinned.
    auto config = ExposedConfig(ctx_, *service, request->split_prefix(), /*with_password=*/true);
    if (!config.ok()) return ToGrpc(config.status());
    if (auto s = ctx_->store->LinkService(link); !s.ok()) return ToGrpc(s);
    return ToGrpc([&]() -> absl::Status {
      ASSIGN_OR_RETURN(auto ref, ctx_->engine->ChangeConfig(app->name, *config, {}));
      ToProto(ref, response);
      return absl::OkStatus();
    }());
  }
  // The service's data is on its server: the app runs there and nowhere else.
  if (!app->pinned_server.empty() && app->pinned_server != service->server) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("app ", app->name, " is pinned to ", app->pinned_server, " but service ",
                     service->name, " lives on ", service->server,
                     "; pin the app there first (`dflow apps pin ", app->name, " ", service->server,
                     "`), or create the service with --expose to reach it over the "
                     "network")));
  }
  auto on = ServersOf(app->name);
  if (!on.ok()) return ToGrpc(on.status());
  std::vector<std::string> elsewhere;
  for (const auto& s : *on) {
    if (s != service->server) elsewhere.push_back(s);
  }
  if (!elsewhere.empty()) {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "app ", app->name, " runs on ", absl::StrJoin(*on, ", "), " but service ", service->name,
        " lives on ", service->server,
        " (its data stays there): move the app "
        "first with `dflow apps pin ",
        app->name, " ", service->server, "`, then link; or create the service with --expose")));
  }
  if (auto s = ctx_->store->LinkService(link); !s.ok()) return ToGrpc(s);
  json params = {{"action", "link"},
                 {"service", service->name},
                 {"service_kind", service->kind},
                 {"split_prefix", link.split_prefix},
                 {"only_server", service->server},
                 {"what", absl::StrCat("link ", service->kind, " service ", service->name, " to ",
                                       app->name)}};
  if (app->pinned_server != service->server) params["pin"] = service->server;
  auto ref = ctx_->engine->ChangeDokku(app->name, params.dump(), params["what"].get<std::string>());
  if (!ref.ok()) return ToGrpc(ref.status());
  ToProto(*ref, response);
  return grpc::Status::OK;
}

grpc::Status DokkuService::UnlinkService(grpc::ServerContext*,
                                         const v1::ServiceLinkRequest* request,
                                         v1::OpRef* response) {
  auto service = ctx_->store->GetService(request->service());
  if (!service.ok()) return ToGrpc(service.status());
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  std::string prefix;
  bool linked = false;
  for (const auto& l : service->links) {
    if (l.app == app->name) {
      linked = true;
      prefix = l.split_prefix;
    }
  }
  if (!linked) {
    return ToGrpc(absl::NotFoundError(
        absl::StrCat("service ", service->name, " is not linked to ", app->name)));
  }
  if (auto s = ctx_->store->UnlinkService(service->name, app->name); !s.ok()) return ToGrpc(s);
  absl::StatusOr<ops::OpRef> ref;
  if (service->exposed) {
    auto config = ExposedConfig(ctx_, *service, prefix, /*with_password=*/false);
    if (!config.ok()) return ToGrpc(config.status());
    std::vector<std::string> unset;
    for (const auto& [k, v] : *config) unset.push_back(k);
    ref = ctx_->engine->ChangeConfig(app->name, {}, unset);
  } else {
    json params = {{"action", "unlink"},
                   {"service", service->name},
                   {"service_kind", service->kind},
                   {"split_prefix", prefix},
                   {"only_server", service->server},
                   {"what", absl::StrCat("unlink ", service->kind, " service ", service->name,
                                         " from ", app->name)}};
    // The pin stays (`dflow apps unpin` lifts it).
    ref = ctx_->engine->ChangeDokku(app->name, params.dump(), params["what"].get<std::string>());
  }
  if (!ref.ok()) return ToGrpc(ref.status());
  api::ToProto(*ref, response);
  return grpc::Status::OK;
}

grpc::Status DokkuService::DestroyService(grpc::ServerContext*,
                                          const v1::DestroyServiceRequest* request,
                                          v1::DestroyServiceResponse* response) {
  auto service = ctx_->store->GetService(request->name());
  if (!service.ok()) return ToGrpc(service.status());
  if (!service->links.empty()) {
    std::vector<std::string> apps;
    for (const auto& l : service->links) apps.push_back(l.app);
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("service ", service->name, " is linked to ", absl::StrJoin(apps, ", "),
                     "; unlink it first (`dflow services unlink ", service->name, " ",
                     apps.size() == 1 ? apps.front() : "APP", "`)")));
  }
  auto ref = ctx_->engine->DestroyService(service->name);
  if (!ref.ok()) return ToGrpc(ref.status());
  ToProto(*ref, response->mutable_op());
  return grpc::Status::OK;
}

grpc::Status DokkuService::ListServices(grpc::ServerContext*, const v1::ListServicesRequest*,
                                        v1::ListServicesResponse* response) {
  auto all = ctx_->store->ListServices();
  if (!all.ok()) return ToGrpc(all.status());
  for (const auto& s : *all) ToProto(s, response->add_services());
  return grpc::Status::OK;
}

}  // namespace dflow::api
