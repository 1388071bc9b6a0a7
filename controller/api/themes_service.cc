#include "controller/api/themes_service.h"

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "controller/themes/package.h"
#include "themes/secrets.h"

namespace dflow::api {

namespace v1 = controller::v1;

void ToProto(const controller_themes::CatalogTheme& c, bool with_manifest, v1::ThemeInfo* out) {
  const themes::Theme& t = c.theme;
  out->set_name(t.name);
  out->set_version(t.version);
  out->set_description(t.description);
  out->set_source_kind(themes::SourceKindName(t.source.kind));
  switch (t.source.kind) {
    case themes::Source::Kind::kImage:
      out->set_source(t.source.image);
      break;
    case themes::Source::Kind::kGit:
      out->set_source(absl::StrCat(t.source.git, "@", t.source.ref));
      break;
    case themes::Source::Kind::kBundle:
      out->set_source(t.source.bundle);
      break;
    case themes::Source::Kind::kRelease:
      out->set_source(t.source.release);
      break;
  }
  out->set_origin(c.origin);
  out->set_port(t.port);
  for (const auto& in : t.inputs) {
    v1::ThemeInput* p = out->add_inputs();
    p->set_name(in.name);
    p->set_description(in.description);
    p->set_type(in.type);
    p->set_has_default(in.default_value.has_value());
    p->set_default_value(in.default_value.value_or(""));
    p->set_required(in.required);
    p->set_pattern(in.pattern);
  }
  for (const auto& s : t.secrets) out->add_secrets(s.name);
  for (const auto& s : t.services) {
    out->add_services(absl::StrCat(s.name, " (", s.type, s.version.empty() ? "" : " ", s.version,
                                   ": ", absl::StrJoin(s.wants, ", "), ")"));
  }
  for (const auto& v : t.volumes) {
    out->add_volumes(absl::StrCat(v.path, v.backup ? " (backup)" : ""));
  }
  if (t.healthcheck) out->set_healthcheck_path(t.healthcheck->path);
  if (with_manifest) out->set_manifest(c.manifest);
  out->set_archive_digest(c.archive_digest);
  out->set_added_at_ms(c.added_at_ms);
}

grpc::Status ThemesService::ListThemes(grpc::ServerContext*, const v1::ListThemesRequest*,
                                       v1::ListThemesResponse* response) {
  for (const auto& t : catalog_->List()) ToProto(t, false, response->add_themes());
  return grpc::Status::OK;
}

grpc::Status ThemesService::GetTheme(grpc::ServerContext*, const v1::GetThemeRequest* request,
                                     v1::ThemeInfo* response) {
  auto t = catalog_->Get(request->name());
  if (!t.ok()) return ToGrpc(t.status());
  ToProto(*t, true, response);
  return grpc::Status::OK;
}

grpc::Status ThemesService::AddTheme(grpc::ServerContext*, const v1::AddThemeRequest* request,
                                     v1::ThemeInfo* response) {
  auto t = catalog_->Add(request->manifest(), request->archive(), ctx_->clock->NowMs());
  if (!t.ok()) return ToGrpc(t.status());
  spdlog::info("custom theme {} {} added", t->theme.name, t->theme.version);
  ToProto(*t, false, response);
  return grpc::Status::OK;
}

namespace {

grpc::Status Started(const absl::StatusOr<ops::OpRef>& op, v1::OpRef* out) {
  if (!op.ok()) return ToGrpc(op.status());
  out->set_id(op->id);
  out->set_queued_behind(op->queued_behind);
  out->set_release(op->release);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ThemesService::InstallTheme(grpc::ServerContext*,
                                         const v1::InstallThemeRequest* request,
                                         v1::OpRef* response) {
  controller_themes::InstallRequest req;
  req.theme = request->theme();
  req.app = request->app();
  req.server = request->server();
  req.inputs.insert(request->inputs().begin(), request->inputs().end());
  req.keep_on_failure = request->keep_on_failure();
  return Started(installer_->Install(req), response);
}

grpc::Status ThemesService::UninstallTheme(grpc::ServerContext*,
                                           const v1::UninstallThemeRequest* request,
                                           v1::OpRef* response) {
  return Started(installer_->Uninstall(request->app(), request->keep_data()), response);
}

grpc::Status ThemesService::UpgradeTheme(grpc::ServerContext*,
                                         const v1::UpgradeThemeRequest* request,
                                         v1::OpRef* response) {
  std::vector<std::string> notes;
  grpc::Status s =
      Started(installer_->Upgrade(request->app(), request->version(), &notes), response);
  for (const auto& n : notes) response->add_notes(n);
  return s;
}

grpc::Status ThemesService::GetThemeSecrets(grpc::ServerContext*,
                                            const v1::GetThemeSecretsRequest* request,
                                            v1::ThemeSecretsResponse* response) {
  auto secrets = installer_->Secrets(request->app());
  if (!secrets.ok()) return ToGrpc(secrets.status());
  auto install = ctx_->store->GetThemeInstall(request->app());
  if (!install.ok()) return ToGrpc(install.status());
  response->set_app(install->app);
  response->set_theme(install->theme);
  response->set_version(install->version);
  response->set_state(install->state);
  response->set_error(install->error);
  for (const auto& s : *secrets) {
    v1::ThemeSecret* out = response->add_secrets();
    out->set_name(s.name);
    out->set_value(request->reveal() ? s.value : themes::MaskSecret(s.value));
  }
  if (request->reveal()) {
    spdlog::info("the secrets of {} were revealed to the CLI", install->app);
    (void)ctx_->store->AppendEvent("theme.secrets_revealed", "", install->app,
                                   "the generated secrets of " + install->app + " were revealed");
  }
  return grpc::Status::OK;
}

grpc::Status ThemesService::PackageApp(grpc::ServerContext*, const v1::PackageAppRequest* request,
                                       v1::PackageAppResponse* response) {
  if (auto s = ValidateAppName(request->app()); !s.ok()) return ToGrpc(s);
  auto app = ctx_->store->GetApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (app->current_release == 0) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("app ", app->name, " has no live release to package; deploy it first")));
  }
  auto release = ctx_->store->GetRelease(app->name, app->current_release);
  if (!release.ok()) return ToGrpc(release.status());
  // Keys an install filled from generated secrets stay secrets.
  std::set<std::string> secret_keys;
  if (auto in = ctx_->store->GetThemeInstall(app->name); in.ok()) {
    if (auto c = catalog_->Get(in->theme); c.ok()) {
      for (const auto& e : c->theme.env) {
        if (e.value.find("secrets.") != std::string::npos) secret_keys.insert(e.key);
      }
    }
  }
  auto extras = ctx_->store->GetAppExtras(app->name);  // Dokku: ports, storage, services
  if (!extras.ok()) return ToGrpc(extras.status());
  auto origin = controller_themes::ReadAppOrigin(*ctx_->store, *app);  // git URL, domains
  if (!origin.ok()) return ToGrpc(origin.status());
  auto packaged = controller_themes::PackageApp(*app, *release, secret_keys, *extras, *origin);
  if (!packaged.ok()) return ToGrpc(packaged.status());
  response->set_manifest(packaged->manifest);
  response->set_release(release->version);
  if (packaged->needs_archive) {
    BlobStore blobs(ctx_->archive_dir);
    if (!blobs.Has(release->source_digest)) {
      return ToGrpc(absl::DataLossError(
          absl::StrCat("the archive of ", app->name, " v", release->version, " is missing")));
    }
    auto data = ReadFile(blobs.Path(release->source_digest));
    if (!data.ok()) return ToGrpc(data.status());
    if (data->size() > (size_t{15} << 20)) {
      return ToGrpc(absl::FailedPreconditionError(
          absl::StrCat("the release archive of ", app->name, " is ", data->size() >> 20,
                       " MiB; a packaged theme's archive may be at most 15 MiB")));
    }
    response->set_archive(*std::move(data));
    response->set_archive_name(controller_themes::kReleaseArchiveName);
  }
  return grpc::Status::OK;
}

}  // namespace dflow::api
