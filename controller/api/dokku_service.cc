// DokkuService: ports, storage, checks, image deploys (dokku_service.h).
#include "controller/api/dokku_service.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/dokku_names.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/apps_convert.h"
#include "controller/ops/engine.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;
using json = nlohmann::json;

grpc::Status Started(const absl::StatusOr<ops::OpRef>& ref, v1::OpRef* response) {
  if (!ref.ok()) return ToGrpc(ref.status());
  ToProto(*ref, response);
  return grpc::Status::OK;
}

// Saves nothing itself: submits the op that applies what the store holds.
absl::StatusOr<ops::OpRef> Apply(ControllerContext* ctx, const std::string& app, json params,
                                 const std::string& what) {
  params["what"] = what;
  if (!params.contains("action")) params["action"] = "apply";
  return ctx->engine->ChangeDokku(app, params.dump(), what);
}

}  // namespace

absl::StatusOr<store::App> DokkuService::FindApp(const std::string& name) {
  RETURN_IF_ERROR(ValidateAppName(name));
  return ctx_->store->GetApp(name);
}

absl::StatusOr<std::set<std::string>> DokkuService::ServersOf(const std::string& app) {
  ASSIGN_OR_RETURN(auto instances, ctx_->store->ListInstances(app));
  std::set<std::string> out;
  for (const auto& i : instances) {
    if (i.state == store::kInstancePending || i.state == store::kInstanceRunning ||
        i.state == store::kInstanceCrashed) {
      out.insert(i.server);
    }
  }
  return out;
}

namespace {

// Whether a change of `app` has a Dokku server to go to: one it has an instance
// on, or, for a removal, any Dokku server (the app may exist there stopped, and
// rollouts only add what the store holds; the op plans where, plan_dokku.cc).
absl::StatusOr<bool> ForDokku(ControllerContext* ctx, const std::string& app, bool removal) {
  if (removal) {
    ASSIGN_OR_RETURN(auto servers, ctx->store->ListServers());
    for (const auto& s : servers) {
      if (s.runtime == "dokku") return true;
    }
    return false;
  }
  ASSIGN_OR_RETURN(auto instances, ctx->store->ListInstances(app));
  for (const auto& i : instances) {
    auto server = ctx->store->GetServer(i.server);
    if (server.ok() && server->runtime == "dokku") return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<int64_t> DomainOpOnDokku(ControllerContext* ctx, const std::string& app,
                                        const std::string& host, bool add) {
  if (ctx->engine == nullptr) return 0;
  ASSIGN_OR_RETURN(bool on_dokku, ForDokku(ctx, app, !add));
  if (!on_dokku) return 0;
  json params = {{"action", add ? "add_domain" : "remove_domain"}, {"host", host}};
  ASSIGN_OR_RETURN(auto ref, Apply(ctx, app, params,
                                   absl::StrCat(add ? "add domain " : "remove domain ", host,
                                                add ? " to " : " from ", app)));
  return ref.id;
}

absl::Status ApplyDomainOnDokku(ControllerContext* ctx, const std::string& app,
                                const std::string& host, bool add) {
  return DomainOpOnDokku(ctx, app, host, add).status();
}

absl::StatusOr<int64_t> ApplyCertOnDokku(ControllerContext* ctx, const std::string& app) {
  if (ctx->engine == nullptr) return 0;
  ASSIGN_OR_RETURN(auto certs, ctx->store->ListAppCerts());
  bool removal = true;
  for (const auto& c : certs) removal = removal && c.app != app;
  ASSIGN_OR_RETURN(bool on_dokku, ForDokku(ctx, app, removal));
  if (!on_dokku) return 0;
  ASSIGN_OR_RETURN(auto ref, Apply(ctx, app, {{"action", "cert"}},
                                   absl::StrCat("certificate of ", app, " on Dokku's proxy")));
  return ref.id;
}

grpc::Status DokkuService::SetPorts(grpc::ServerContext*, const v1::SetPortsRequest* request,
                                    v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  std::vector<std::string> maps(request->maps().begin(), request->maps().end());
  if (maps.empty()) {
    return ToGrpc(absl::InvalidArgumentError("give at least one port map, e.g. http:80:5000"));
  }
  for (const auto& m : maps) {
    if (auto s = ValidatePortMap(m); !s.ok()) return ToGrpc(s);
  }
  if (auto s = ctx_->store->SetAppPorts(app->name, maps); !s.ok()) return ToGrpc(s);
  return Started(
      Apply(ctx_, app->name, json::object(),
            absl::StrCat("set the ports of ", app->name, " to ", absl::StrJoin(maps, " "))),
      response);
}

grpc::Status DokkuService::MountStorage(grpc::ServerContext*,
                                        const v1::StorageMountRequest* request,
                                        v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ValidateStorageMount(request->source(), request->container_dir()); !s.ok()) {
    return ToGrpc(s);
  }
  if (auto s = ValidateStorageChown(request->source(), request->chown()); !s.ok()) {
    return ToGrpc(s);
  }
  // Storage lives on one server: the app is pinned there.
  auto on = ServersOf(app->name);
  if (!on.ok()) return ToGrpc(on.status());
  std::string server = app->pinned_server;
  if (server.empty()) {
    if (on->size() != 1) {
      return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
          "storage lives on one server, and app ", app->name,
          on->empty() ? " runs nowhere yet" : absl::StrCat(" runs on ", absl::StrJoin(*on, ", ")),
          "; pin it first to the Dokku server that should hold the data (`dflow apps pin ",
          app->name, " SERVER`), then mount")));
    }
    server = *on->begin();
  }
  auto record = ctx_->store->GetServer(server);
  if (!record.ok()) return ToGrpc(record.status());
  if (record->runtime != "dokku") {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "app ", app->name, " is on server ", server, ", which runs the ", record->runtime,
        " runtime; storage needs a Dokku server (dflow-agent run --runtime dokku): pin the app to "
        "one first (`dflow apps pin ",
        app->name, " SERVER`)")));
  }
  store::StorageMount mount{request->source(), request->container_dir(),
                            StorageChownOrDefault(request->source(), request->chown())};
  // Refused before it is saved, or every later apply there would fail on it.
  if (auto s =
          CheckStorageOwnerOnDokku(mount.chown, mount.source, record->facts.dokku_version, server);
      !s.ok()) {
    return ToGrpc(s);
  }
  if (auto s = ctx_->store->AddAppStorage(app->name, mount); !s.ok()) return ToGrpc(s);
  json params = json::object();
  if (app->pinned_server != server) params["pin"] = server;
  return Started(
      Apply(ctx_, app->name, params,
            absl::StrCat("mount ", mount.source, " at ", mount.container_dir, " in ", app->name)),
      response);
}

grpc::Status DokkuService::UnmountStorage(grpc::ServerContext*,
                                          const v1::StorageMountRequest* request,
                                          v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto removed = ctx_->store->RemoveAppStorage(app->name, request->container_dir());
  if (!removed.ok()) return ToGrpc(removed.status());
  json params = {{"action", "unmount"},
                 {"source", removed->source},
                 {"container_dir", removed->container_dir}};
  // The pin stays: the data is still on that server (`dflow apps unpin` lifts it).
  return Started(Apply(ctx_, app->name, params,
                       absl::StrCat("unmount ", removed->source, " from ", removed->container_dir,
                                    " in ", app->name)),
                 response);
}

grpc::Status DokkuService::SetCheck(grpc::ServerContext*, const v1::SetCheckRequest* request,
                                    v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ValidateCheckSetting(request->key(), request->value()); !s.ok()) return ToGrpc(s);
  if (auto s = ctx_->store->SetAppCheck(app->name, request->key(), request->value()); !s.ok()) {
    return ToGrpc(s);
  }
  return Started(Apply(ctx_, app->name, json::object(),
                       absl::StrCat("set check ", request->key(), " of ", app->name, " to ",
                                    request->value())),
                 response);
}

// Not set: NotFound, as `storage unmount` and `domains rm` of what is not
// there. A removal (plan_dokku.cc): the op also reaches the healthy Dokku
// servers the app does not run on, where it may exist stopped.
grpc::Status DokkuService::UnsetCheck(grpc::ServerContext*, const v1::UnsetCheckRequest* request,
                                      v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ValidateCheckKey(request->key()); !s.ok()) return ToGrpc(s);
  auto extras = ctx_->store->GetAppExtras(app->name);
  if (!extras.ok()) return ToGrpc(extras.status());
  if (extras->checks.count(request->key()) == 0) {
    return ToGrpc(
        absl::NotFoundError(absl::StrCat("check ", request->key(), " of app ", app->name,
                                         " is not set; see `dflow checks ls ", app->name, "`")));
  }
  if (auto s = ctx_->store->RemoveAppCheck(app->name, request->key()); !s.ok()) return ToGrpc(s);
  return Started(Apply(ctx_, app->name, {{"action", "unset_check"}, {"key", request->key()}},
                       absl::StrCat("unset check ", request->key(), " of ", app->name)),
                 response);
}

grpc::Status DokkuService::GetAppExtras(grpc::ServerContext*, const v1::AppExtrasRequest* request,
                                        v1::AppExtras* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto extras = ctx_->store->GetAppExtras(app->name);
  if (!extras.ok()) return ToGrpc(extras.status());
  auto on = ServersOf(app->name);
  if (!on.ok()) return ToGrpc(on.status());
  response->set_app(app->name);
  for (const auto& p : extras->ports) response->add_ports(p);
  for (const auto& m : extras->storage) {
    auto* out = response->add_storage();
    out->set_source(m.source);
    out->set_container_dir(m.container_dir);
    out->set_named(IsNamedStorage(m.source));
    out->set_chown(m.chown);
  }
  response->mutable_checks()->insert(extras->checks.begin(), extras->checks.end());
  for (const auto& s : extras->services) response->add_services(s.name);
  response->set_pinned_server(app->pinned_server);
  for (const auto& s : *on) {
    auto server = ctx_->store->GetServer(s);
    if (server.ok() && server->runtime == "dokku") response->add_servers(s);
  }
  return grpc::Status::OK;
}

grpc::Status DokkuService::DeployImage(grpc::ServerContext*, const v1::DeployImageRequest* request,
                                       v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ValidatePinnedImage(request->image()); !s.ok()) return ToGrpc(s);
  return Started(
      ctx_->engine->DeployImage(app->name, request->image(), request->description(), "dflow CLI"),
      response);
}

}  // namespace dflow::api
