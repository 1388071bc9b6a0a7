// Apps, instances, releases and config (reads and CreateApp).
#include "controller/api/apps_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/apps_convert.h"
#include "controller/git/repos.h"
#include "controller/ops/engine.h"
#include "controller/ops/reconciler.h"
#include "controller/placement/placement.h"
#include "controller/routing/routing.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;

constexpr double kMaxCpus = 1024;

absl::Status ValidateCreate(const v1::CreateAppRequest& r) {
  RETURN_IF_ERROR(ValidateAppName(r.name()));
  for (const auto& [k, v] : r.constraints()) {
    if (auto s = ValidateLabel(k, v); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("constraint ", k, "=", v, ": ", s.message()));
    }
  }
  if (r.memory_bytes() < 0) {
    return absl::InvalidArgumentError(
        "--memory must be 0 (no reservation) or more, e.g. --memory 256M");
  }
  if (!std::isfinite(r.cpus()) || r.cpus() < 0 || r.cpus() > kMaxCpus) {
    return absl::InvalidArgumentError(
        "--cpus must be between 0 (no reservation) and 1024, e.g. --cpus 0.5");
  }
  if (!r.health_path().empty() && r.health_path()[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--health-path \"", r.health_path(), "\" must start with '/', e.g. /health"));
  }
  if (!r.strategy().empty()) {
    if (auto s = placement::ParseStrategy(r.strategy()); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--strategy \"", r.strategy(), "\" is not known: use spread (the default) or binpack"));
    }
  }
  return absl::OkStatus();
}

const store::Op* ActiveOpOf(const std::vector<store::Op>& active, const std::string& app) {
  for (const auto& op : active) {
    if (op.app == app) return &op;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<store::App> AppsService::FindApp(const std::string& name) {
  RETURN_IF_ERROR(ValidateAppName(name));
  return ctx_->store->GetApp(name);
}

absl::Status AppsService::Describe(const store::App& app, v1::App* out) {
  ASSIGN_OR_RETURN(auto instances, ctx_->store->ListInstances(app.name));
  ASSIGN_OR_RETURN(auto active, ctx_->store->ActiveOps());
  std::string status = ops::AppStatus(
      app, instances, [&](const std::string& s) { return ctx_->fleet->Reachable(s); },
      ActiveOpOf(active, app.name));
  ToProto(app, instances, status, out);
  if (ctx_->repos != nullptr) out->set_git_remote(ctx_->repos->Path(app.name));
  if (ctx_->routes != nullptr) {
    out->set_url(ctx_->routes->AppUrl(app.name));
    for (const auto& u : ctx_->routes->AppUrls(app.name)) out->add_urls(u);
  }
  return absl::OkStatus();
}

grpc::Status AppsService::CreateApp(grpc::ServerContext*, const v1::CreateAppRequest* request,
                                    v1::App* response) {
  if (auto s = ValidateCreate(*request); !s.ok()) return ToGrpc(s);
  store::App app;
  app.name = request->name();
  app.constraints.insert(request->constraints().begin(), request->constraints().end());
  app.memory_bytes = request->memory_bytes();
  app.cpus = request->cpus();
  app.health_path = request->health_path();
  app.strategy = request->strategy().empty() ? "spread" : request->strategy();
  app.pinned_server = request->pinned_server();
  if (!app.pinned_server.empty() && !ctx_->store->GetServer(app.pinned_server).ok()) {
    return ToGrpc(absl::NotFoundError(
        absl::StrCat("cannot pin app ", app.name, " to server \"", app.pinned_server,
                     "\": no such server; `dflow servers ls` lists them")));
  }
  if (auto s = ctx_->store->CreateApp(app); !s.ok()) {
    if (absl::IsAlreadyExists(s)) {
      return ToGrpc(absl::AlreadyExistsError(
          absl::StrCat("app \"", app.name, "\" already exists; `dflow apps show ", app.name,
                       "` shows it, or choose another name")));
    }
    return ToGrpc(s);
  }
  auto created = ctx_->store->GetApp(app.name);
  if (!created.ok()) return ToGrpc(created.status());
  if (ctx_->repos != nullptr) {
    if (auto s = ctx_->repos->Ensure(app.name); !s.ok()) return ToGrpc(s);
  }
  return ToGrpc(Describe(*created, response));
}

grpc::Status AppsService::ListApps(grpc::ServerContext*, const v1::ListAppsRequest*,
                                   v1::ListAppsResponse* response) {
  auto apps = ctx_->store->ListApps();
  if (!apps.ok()) return ToGrpc(apps.status());
  for (const auto& app : *apps) {
    if (auto s = Describe(app, response->add_apps()); !s.ok()) return ToGrpc(s);
  }
  return grpc::Status::OK;
}

grpc::Status AppsService::GetApp(grpc::ServerContext*, const v1::GetAppRequest* request,
                                 v1::App* response) {
  auto app = FindApp(request->name());
  if (!app.ok()) return ToGrpc(app.status());
  return ToGrpc(Describe(*app, response));
}

grpc::Status AppsService::DestroyApp(grpc::ServerContext*, const v1::DestroyAppRequest* request,
                                     v1::OpRef* response) {
  auto app = FindApp(request->name());
  if (!app.ok()) return ToGrpc(app.status());
  auto ref = ctx_->engine->Destroy(app->name);
  if (!ref.ok()) return ToGrpc(ref.status());
  ToProto(*ref, response);
  return grpc::Status::OK;
}

grpc::Status AppsService::GetConfig(grpc::ServerContext*, const v1::GetConfigRequest* request,
                                    v1::GetConfigResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  response->mutable_config()->insert(app->config.begin(), app->config.end());
  // Secrets a theme install generated are printed only by `dflow themes
  // secrets APP --reveal`: a value holding one is masked here.
  if (auto secrets = ctx_->store->GetThemeSecrets(app->name); secrets.ok()) {
    for (auto& [key, value] : *response->mutable_config()) {
      for (const auto& [name, secret] : *secrets) {
        if (secret.empty() || value.find(secret) == std::string::npos) continue;
        value = absl::StrCat("******** (theme secret; `dflow themes secrets ", app->name,
                             " --reveal` shows it)");
        break;
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status AppsService::ListReleases(grpc::ServerContext*, const v1::ListReleasesRequest* request,
                                       v1::ListReleasesResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto releases = ctx_->store->ListReleases(app->name);
  if (!releases.ok()) return ToGrpc(releases.status());
  // Newest first, as `dflow releases` and `dflow ops ls` show history.
  for (auto it = releases->rbegin(); it != releases->rend(); ++it) {
    ToProto(*it, response->add_releases());
  }
  return grpc::Status::OK;
}

grpc::Status AppsService::ListInstances(grpc::ServerContext*,
                                        const v1::ListInstancesRequest* request,
                                        v1::ListInstancesResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto instances = ctx_->store->ListInstances(app->name);
  if (!instances.ok()) return ToGrpc(instances.status());
  auto servers = ctx_->store->ListServers();
  if (!servers.ok()) return ToGrpc(servers.status());
  std::map<std::string, std::string> address;
  for (const auto& s : *servers) address[s.name] = s.address;
  for (const auto& i : *instances) ToProto(i, address[i.server], response->add_instances());
  return grpc::Status::OK;
}

}  // namespace dflow::api
