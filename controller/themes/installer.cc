// Installer: install, the runtime checks, rendering and the source archive.
// installer_lifecycle.cc: the supervisor, uninstall, upgrade, secrets.
#include "controller/themes/installer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/hostname.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "controller/api/source_archive.h"
#include "controller/git/repos.h"
#include "controller/ops/crash_point.h"
#include "controller/routing/routing.h"
#include "themes/render.h"
#include "themes/secrets.h"

namespace dflow::controller_themes {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxBundleBytes = int64_t{200} << 20;

}  // namespace

absl::StatusOr<std::string> Installer::ProcfileOf(const themes::Theme& t,
                                                  const std::string& digest) {
  BlobStore blobs(ctx_->archive_dir);
  auto procfile = api::ReadProcfile(blobs.Path(digest));
  if (procfile.ok() || t.source.kind != themes::Source::Kind::kGit) return procfile;
  // A git source without a Procfile: Dokku's build decides the command; the
  // controller needs only the process type.
  return absl::StrCat("web: (the command Dokku's build of ", t.source.git, " sets)\n");
}

absl::StatusOr<std::map<std::string, std::string>> Installer::RenderConfig(
    const CatalogTheme& c, const std::string& app, const std::map<std::string, std::string>& inputs,
    const std::map<std::string, themes::ServiceConnection>& services,
    std::map<std::string, std::string>* merged, bool* generated_all,
    std::vector<std::string>* domains) {
  const themes::Theme& t = c.theme;
  ASSIGN_OR_RETURN(auto secrets, ctx_->store->GetThemeSecrets(app));
  std::map<std::string, std::string> fresh;
  for (const auto& s : t.secrets) {
    if (secrets.count(s.name)) continue;
    ASSIGN_OR_RETURN(fresh[s.name], themes::GenerateSecret(s));
  }
  *generated_all = fresh.size() == t.secrets.size();
  themes::RenderContext rc;
  rc.app_name = app;
  rc.app_url = ctx_->routes != nullptr ? ctx_->routes->AppUrl(app)
                                       : absl::StrCat("http://", app, ".localhost");
  rc.inputs = inputs;
  rc.secrets = secrets;
  rc.secrets.insert(fresh.begin(), fresh.end());
  rc.services = services;
  ASSIGN_OR_RETURN(themes::RenderedTheme r, themes::Render(t, rc));
  // Stored only once the values are known to render: a refused install
  // leaves nothing behind.
  if (!fresh.empty()) RETURN_IF_ERROR(ctx_->store->AddThemeSecrets(app, fresh));
  *merged = r.inputs;
  if (domains != nullptr) *domains = r.domains;
  std::map<std::string, std::string> env(r.env.begin(), r.env.end());
  return env;
}

absl::StatusOr<std::string> Installer::SourceDigest(const CatalogTheme& c) {
  const themes::Theme& t = c.theme;
  BlobStore blobs(ctx_->archive_dir);
  if (!c.archive_digest.empty()) {
    if (!blobs.Has(c.archive_digest)) {
      return absl::DataLossError(absl::StrCat("the archive of theme ", t.name,
                                              " is missing from the controller; add it again"));
    }
    return c.archive_digest;
  }
  if (t.source.kind == themes::Source::Kind::kGit) return FetchGitSource(t);
  if (t.source.kind != themes::Source::Kind::kBundle) {
    return absl::FailedPreconditionError(
        absl::StrCat("theme ", t.name, " has no source archive this controller can deploy"));
  }
  // A built-in bundle: packed the same way every time (sorted, fixed owner
  // and times), so the same bundle is the same release source.
  std::string dir = (fs::path(c.dir) / t.source.bundle).string();
  ASSIGN_OR_RETURN(std::string nonce, RandomBytes(8));
  std::string tmp = absl::StrCat(ctx_->archive_dir, "/.theme-", HexEncode(nonce), ".tar.gz");
  PosixProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"tar",
               "--sort=name",
               "--mtime=@0",
               "--owner=0",
               "--group=0",
               "--numeric-owner",
               "--exclude=.git",
               "-czf",
               tmp,
               "-C",
               dir,
               "."};
  spec.deadline = std::chrono::seconds(60);
  auto result = runner.Run(spec);
  auto cleanup = [&] { unlink(tmp.c_str()); };
  if (!result.ok() || result->exit_code != 0) {
    cleanup();
    return absl::InternalError(absl::StrCat(
        "packing the bundle of theme ", t.name, " (", dir,
        ") failed: ", result.ok() ? result->stderr_data : std::string(result.status().message())));
  }
  auto data = ReadFile(tmp);
  cleanup();
  if (!data.ok()) return data.status();
  ASSIGN_OR_RETURN(auto writer, blobs.NewWriter(kMaxBundleBytes));
  RETURN_IF_ERROR(writer->Append(*data));
  return writer->Commit();
}

absl::Status Installer::CheckInputs(const themes::Theme& t, const std::string& app,
                                    const std::map<std::string, std::string>& inputs) {
  // A render with stand-ins for what is not known yet (secrets, services).
  themes::RenderContext probe;
  probe.app_name = app;
  probe.app_url = absl::StrCat("http://", app, ".localhost");
  probe.inputs = inputs;
  for (const auto& s : t.secrets) probe.secrets[s.name] = "x";
  for (const auto& s : t.services) {
    probe.services[s.name] = {"x://u:p@h:1/d", "h", "1", "u", "p", "d"};
  }
  return themes::Render(t, probe).status();
}

absl::Status Installer::AddThemeDomains(const std::string& app,
                                        const std::vector<std::string>& domains,
                                        const std::vector<std::string>& theme_before,
                                        std::vector<std::string>* theme_domains) {
  theme_domains->clear();
  if (domains.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string base, ctx_->store->GetSetting(routing::kBaseDomainSetting,
                                                             routing::kDefaultBaseDomain));
  ASSIGN_OR_RETURN(auto existing, ctx_->store->ListDomains());
  for (const auto& d : domains) {
    const std::string host = LowerHostname(d);
    if (host.empty()) continue;  // an optional input left empty
    if (auto it = existing.find(host); it != existing.end() && it->second == app) {
      if (std::find(theme_before.begin(), theme_before.end(), host) != theme_before.end()) {
        theme_domains->push_back(host);
      }
      continue;
    }
    RETURN_IF_ERROR(ValidateHostname(absl::StrCat("domain of theme app ", app), host));
    // As `dflow domains add`: APP.BASE names belong to the apps.
    const std::string suffix = "." + base;
    if (host.size() > suffix.size() && absl::EndsWith(host, suffix)) {
      std::string label = host.substr(0, host.size() - suffix.size());
      if (label != app && ctx_->store->GetApp(label).ok()) {
        return absl::AlreadyExistsError(
            absl::StrCat("the theme's domain ", host, " is app ", label,
                         "'s own address; install with --set for another hostname"));
      }
      if (label == app) continue;  // the app's own address already
    }
    if (auto s = ctx_->store->AddDomain(app, host); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("adding the theme's domain ", host, " to ", app,
                                                 " failed: ", s.message()));
    }
    theme_domains->push_back(host);
  }
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  return absl::OkStatus();
}

void Installer::CrashPoint(int n) {
  static const auto point = ops::CrashPointFromEnv();
  if (!point.ok() || !point->has_value() ||
      !(*point)->Matches("theme-install", n, ops::CrashPhase::kAfterCommit)) {
    return;
  }
  // Fires once per data directory, as the engine's points do.
  const std::string marker = ctx_->data_dir + "/test-crash-fired";
  if (auto fired = ReadFile(marker); fired.ok() && *fired == (*point)->text) return;
  (void)WriteFileAtomic(marker, (*point)->text, 0600);
  spdlog::warn("DFLOW_TEST_CRASH_AT: dying after write {} of a theme install", n);
  _exit(137);
}

absl::StatusOr<ops::OpRef> Installer::Install(const InstallRequest& req) {
  RETURN_IF_ERROR(ValidateAppName(req.app));
  if (!req.server.empty()) RETURN_IF_ERROR(ValidateServerName(req.server));
  ASSIGN_OR_RETURN(CatalogTheme c, catalog_->Get(req.theme));
  const themes::Theme& t = c.theme;
  SuperviseOnce();
  std::lock_guard lock(mu_);
  if (ctx_->store->GetApp(req.app).ok()) {
    auto prior = ctx_->store->GetThemeInstall(req.app);
    return absl::AlreadyExistsError(
        prior.ok() ? absl::StrCat("app ", req.app, " is already installed from theme ",
                                  prior->theme, " ", prior->version, " (", prior->state,
                                  "); `dflow themes upgrade ", req.app, "` updates it")
                   : absl::StrCat("app ", req.app, " already exists; choose another --app name"));
  }
  if (auto prior = ctx_->store->GetThemeInstall(req.app);
      prior.ok() && prior->state == "uninstalling" && prior->op_id == 0) {
    // A service the removal could not destroy holds the old data; the
    // secrets that went with it are gone, so it must not be reused.
    return absl::FailedPreconditionError(absl::StrCat("the previous install of ", req.app,
                                                      " is not removed yet: ", prior->error,
                                                      "; install again once it is"));
  }
  ASSIGN_OR_RETURN(std::string server, PlaceInstall(t, req.server));
  const bool on_dokku = NeedsDokkuServer(t);
  std::string digest, procfile;
  if (t.source.kind != themes::Source::Kind::kImage) {
    ASSIGN_OR_RETURN(digest, SourceDigest(c));
    ASSIGN_OR_RETURN(procfile, ProcfileOf(t, digest));
  }
  std::map<std::string, themes::ServiceConnection> services;
  if (!t.services.empty()) {
    // The inputs are checked first: a refused install creates no service.
    RETURN_IF_ERROR(CheckInputs(t, req.app, req.inputs));
    // Created before the app (or kept from an uninstall --keep-data and
    // reused): the env needs their connection details.
    ASSIGN_OR_RETURN(services, EnsureServices(t, req.app, server));
  }
  std::map<std::string, std::string> inputs;
  std::vector<std::string> domains;
  bool generated_all = true;
  ASSIGN_OR_RETURN(
      auto env, RenderConfig(c, req.app, req.inputs, services, &inputs, &generated_all, &domains));

  store::ThemeInstall install;
  install.app = req.app;
  install.theme = t.name;
  install.version = t.version;
  install.inputs = inputs;
  install.keep_on_failure = req.keep_on_failure;
  install.secrets_generated = generated_all;
  install.created_at_ms = ctx_->clock->NowMs();
  RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(install));
  CrashPoint(0);

  store::App app;
  app.name = req.app;
  app.memory_bytes = t.resources.memory_bytes;
  app.cpus = t.resources.cpus;
  if (t.healthcheck) {
    app.health_path = t.healthcheck->path;
    app.health_timeout_ms = t.healthcheck->timeout_ms;
  }
  app.scale = t.processes;
  app.config = env;
  app.pinned_server = server;
  if (auto s = ctx_->store->CreateApp(app); !s.ok()) {
    install.state = "rolled_back";
    install.created_app = false;
    install.error = std::string(s.message());
    if (generated_all) {
      (void)ctx_->store->DeleteThemeSecrets(req.app);
      for (const auto& l : DestroyOwnedServices(t, req.app))
        absl::StrAppend(&install.error, "; ", l);
    }
    (void)ctx_->store->SaveThemeInstall(install);
    return s;
  }
  CrashPoint(1);
  if (ctx_->repos != nullptr) {
    if (auto s = ctx_->repos->Ensure(req.app); !s.ok())
      spdlog::warn("{}", std::string(s.message()));
  }
  // On Dokku the links, storage, ports and checks are saved in the store and
  // applied by the rollout on the server before the instances start there.
  std::string what = absl::StrCat("theme ", t.name, " ", t.version);
  absl::StatusOr<ops::OpRef> op;
  absl::Status saved = AddThemeDomains(req.app, domains, {}, &install.domains);
  if (saved.ok() && on_dokku) saved = SaveDokkuSettings(t, req.app);
  if (!saved.ok()) {
    op = saved;
  } else if (t.source.kind == themes::Source::Kind::kImage) {
    op = ctx_->engine->DeployImage(req.app, t.source.image, what, "dflow themes install");
  } else {
    op = ctx_->engine->Deploy(req.app, digest, procfile, what, "dflow themes install");
  }
  if (!op.ok()) {
    install.error = std::string(op.status().message());
    install.state = req.keep_on_failure ? "failed" : "rolled_back";
    if (!req.keep_on_failure) {
      if (auto d = ctx_->engine->Destroy(req.app); d.ok()) {
        install.state = "undoing";  // the supervisor finishes it
        install.op_id = d->id;
      }
      if (generated_all) (void)ctx_->store->DeleteThemeSecrets(req.app);
    }
    (void)ctx_->store->SaveThemeInstall(install);
    return op.status();
  }
  CrashPoint(2);
  install.op_id = op->id;
  RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(install));
  spdlog::info("installing theme {} {} as app {} (op {})", t.name, t.version, req.app, op->id);
  return op;
}

}  // namespace dflow::controller_themes
