// Installer: upgrade, and what a failed upgrade puts back.
//
// An upgrade records what the app has before it changes anything (health
// check, ports, storage, checks, custom domains, links to the install's
// services) in the install record; when the deploy does not make the new
// release current, RestorePrevious puts all of it back in the store and, on
// Dokku, on the server (unmount/remove/unlink/unset ops for what the upgrade added,
// then an "apply" op for the rest), so neither the server nor a later
// rollout keeps the new version's settings.
//
// What the new version drops: domains the theme gave the app are removed
// (not those added with `dflow domains add`); a service the install created
// is unlinked and kept with its data (an upgrade never destroys data), and
// the upgrade's notes say how to destroy it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/hostname.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/dokku_service.h"
#include "controller/routing/routing.h"
#include "controller/themes/installer.h"

namespace dflow::controller_themes {
namespace {

using json = nlohmann::json;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool SameMount(const store::StorageMount& a, const store::StorageMount& b) {
  return a.source == b.source && a.container_dir == b.container_dir;
}

}  // namespace

std::map<std::string, std::string> InputsFor(const themes::Theme& t,
                                             const std::map<std::string, std::string>& stored) {
  std::map<std::string, std::string> out;
  for (const auto& input : t.inputs) {
    if (auto it = stored.find(input.name); it != stored.end()) {
      out[input.name] = it->second;
    } else if (input.default_value) {
      out[input.name] = *input.default_value;
    }
  }
  return out;
}

bool Installer::OnDokku(const std::string& app) {
  auto a = ctx_->store->GetApp(app);
  if (!a.ok() || a->pinned_server.empty()) return false;
  auto server = ctx_->store->GetServer(a->pinned_server);
  return server.ok() && server->runtime == "dokku";
}

std::vector<store::ServiceLink> Installer::InstallLinks(const std::string& app,
                                                        const store::AppExtras& extras) {
  // The install's services are named APP_NAME (ServiceNameFor).
  const std::string prefix = ServiceNameFor(app, "");
  std::vector<store::ServiceLink> out;
  for (const auto& s : extras.services) {
    if (s.name.rfind(prefix, 0) != 0) continue;
    out.push_back({s.name, app, s.links.empty() ? "" : s.links.front().split_prefix});
  }
  return out;
}

absl::Status Installer::SubmitDokkuChange(const std::string& app, json params) {
  const std::string what = params.value("what", "");
  auto op = ctx_->engine->ChangeDokku(app, params.dump(), what);
  if (!op.ok()) return op.status();
  spdlog::info("theme upgrade of {}: {} (op {})", app, what, op->id);
  return absl::OkStatus();
}

absl::Status Installer::UnlinkDroppedServices(const CatalogTheme& c, const std::string& app,
                                              const store::AppExtras& before,
                                              std::vector<std::string>* notes) {
  std::set<std::string> kept;
  for (const auto& s : c.theme.services) kept.insert(ServiceNameFor(app, s.name));
  for (const auto& link : InstallLinks(app, before)) {
    if (kept.count(link.service)) continue;
    ASSIGN_OR_RETURN(store::Service service, ctx_->store->GetService(link.service));
    RETURN_IF_ERROR(ctx_->store->UnlinkService(link.service, app));
    RETURN_IF_ERROR(
        SubmitDokkuChange(app, {{"action", "unlink"},
                                {"service", service.name},
                                {"service_kind", service.kind},
                                {"split_prefix", link.split_prefix},
                                {"only_server", service.server},
                                {"what", absl::StrCat("theme upgrade: unlink ", service.kind,
                                                      " service ", service.name, " from ", app)}}));
    notes->push_back(absl::StrCat(
        c.theme.name, " ", c.theme.version, " no longer uses ", service.kind, " service ",
        service.name, " on ", service.server, ": it is unlinked from ", app,
        " and kept with its data; `dflow services destroy ", service.name, "` destroys it"));
  }
  return absl::OkStatus();
}

absl::Status Installer::RemoveDroppedDomains(const CatalogTheme& c, const std::string& app,
                                             const std::vector<std::string>& before,
                                             const std::vector<std::string>& after,
                                             std::vector<std::string>* notes) {
  ASSIGN_OR_RETURN(auto owners, ctx_->store->ListDomains());
  for (const auto& host : before) {
    if (Contains(after, host)) continue;
    auto it = owners.find(host);
    if (it == owners.end() || it->second != app) continue;  // removed by the user already
    RETURN_IF_ERROR(ctx_->store->RemoveDomain(app, host));
    RETURN_IF_ERROR(api::ApplyDomainOnDokku(ctx_, app, host, /*add=*/false));
    notes->push_back(absl::StrCat("domain ", host, " is removed from ", app, ": ", c.theme.name,
                                  " ", c.theme.version, " no longer has it"));
  }
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  return absl::OkStatus();
}

void Installer::RestorePrevious(store::ThemeInstall& in) {
  auto warn = [&](const std::string& what, const absl::Status& s) {
    if (!s.ok()) spdlog::warn("restoring the {} of {}: {}", what, in.app, std::string(s.message()));
  };
  if (in.has_previous) {
    warn("health check", ctx_->store->SetAppHealthCheck(in.app, in.previous_health_path,
                                                        in.previous_health_timeout_ms));
    if (in.has_previous_settings) RestorePreviousSettings(in);
  }
  auto a = ctx_->store->GetApp(in.app);
  if (!a.ok() || a->current_release == 0) return;
  auto release = ctx_->store->GetRelease(in.app, a->current_release);
  if (!release.ok()) return warn("config", release.status());
  warn("config", ctx_->store->SetAppConfig(in.app, release->config));
}

void Installer::RestorePreviousSettings(store::ThemeInstall& in) {
  const std::string& app = in.app;
  auto warn = [&](const std::string& what, const absl::Status& s) {
    if (!s.ok()) spdlog::warn("restoring the {} of {}: {}", what, app, std::string(s.message()));
  };
  auto now = ctx_->store->GetAppExtras(app);
  auto owners = ctx_->store->ListDomains();
  if (!now.ok() || !owners.ok()) {
    return warn("Dokku settings", now.ok() ? owners.status() : now.status());
  }
  const bool dokku = OnDokku(app) && ctx_->engine != nullptr;
  const std::string why = " (put back after a failed theme upgrade)";
  if (now->ports != in.previous_ports)
    warn("ports", ctx_->store->SetAppPorts(app, in.previous_ports));
  for (const auto& m : now->storage) {
    auto same = [&](const store::StorageMount& p) { return SameMount(p, m); };
    if (std::any_of(in.previous_storage.begin(), in.previous_storage.end(), same)) continue;
    warn("storage", ctx_->store->RemoveAppStorage(app, m.container_dir).status());
    if (dokku) {
      warn("storage", SubmitDokkuChange(app, {{"action", "unmount"},
                                              {"source", m.source},
                                              {"container_dir", m.container_dir},
                                              {"what", absl::StrCat("unmount ", m.source, " from ",
                                                                    m.container_dir, why)}}));
    }
  }
  for (const auto& m : in.previous_storage) warn("storage", ctx_->store->AddAppStorage(app, m));
  // A check the new version added is unset on the server too: "apply" only
  // sets what the store holds, and the agent keeps the settings it was sent
  // for its next deploys (wait-to-retire also on Dokku itself).
  for (const auto& [k, v] : now->checks) {
    if (in.previous_checks.count(k)) continue;
    warn("checks", ctx_->store->RemoveAppCheck(app, k));
    if (dokku) {
      warn("checks",
           SubmitDokkuChange(app, {{"action", "unset_check"},
                                   {"key", k},
                                   {"what", absl::StrCat("unset check ", k, " of ", app, why)}}));
    }
  }
  for (const auto& [k, v] : in.previous_checks) {
    auto it = now->checks.find(k);
    if (it == now->checks.end() || it->second != v)
      warn("checks", ctx_->store->SetAppCheck(app, k, v));
  }
  auto linked_before = [&](const std::string& name) {
    return std::any_of(in.previous_links.begin(), in.previous_links.end(),
                       [&](const store::ServiceLink& l) { return l.service == name; });
  };
  for (const auto& link : InstallLinks(app, *now)) {
    if (linked_before(link.service)) continue;
    warn("links", ctx_->store->UnlinkService(link.service, app));
    auto service = ctx_->store->GetService(link.service);
    if (dokku && service.ok()) {
      warn("links",
           SubmitDokkuChange(
               app, {{"action", "unlink"},
                     {"service", service->name},
                     {"service_kind", service->kind},
                     {"split_prefix", link.split_prefix},
                     {"only_server", service->server},
                     {"what", absl::StrCat("unlink ", service->name, " from ", app, why)}}));
    }
  }
  for (const auto& link : in.previous_links) warn("links", ctx_->store->LinkService(link));
  for (const auto& [host, owner] : *owners) {
    if (owner != app || Contains(in.previous_domains, host)) continue;
    warn("domains", ctx_->store->RemoveDomain(app, host));
    if (dokku) warn("domains", api::ApplyDomainOnDokku(ctx_, app, host, /*add=*/false));
  }
  for (const auto& host : in.previous_domains) {
    if (auto it = owners->find(host); it == owners->end()) {
      warn("domains", ctx_->store->AddDomain(app, host));
    }
  }
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  in.domains = in.previous_theme_domains;
  // Ports, checks, mounts, links and domains from before, on the server now:
  // the failed rollout applied the new version's.
  if (dokku) {
    warn("Dokku settings",
         SubmitDokkuChange(app, {{"action", "apply"},
                                 {"what", absl::StrCat("apply the Dokku settings of ", app,
                                                       " from before the theme upgrade")}}));
  }
}

absl::StatusOr<ops::OpRef> Installer::Upgrade(const std::string& app, const std::string& version,
                                              std::vector<std::string>* notes) {
  std::vector<std::string> ignored;
  if (notes == nullptr) notes = &ignored;
  RETURN_IF_ERROR(ValidateAppName(app));
  SuperviseOnce();
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(store::ThemeInstall in, ctx_->store->GetThemeInstall(app));
  if (in.state != "installed" && in.state != "failed") {
    return absl::FailedPreconditionError(absl::StrCat(
        "app ", app, " is ", in.state, " (theme ", in.theme, "); upgrade it once it is installed"));
  }
  ASSIGN_OR_RETURN(store::App a, ctx_->store->GetApp(app));
  ASSIGN_OR_RETURN(CatalogTheme c, catalog_->Get(in.theme));
  if (!version.empty() && version != c.theme.version) {
    return absl::NotFoundError(absl::StrCat("theme ", in.theme, " is at version ", c.theme.version,
                                            " in the catalog, not ", version,
                                            "; `dflow themes add DIR` adds the version you want"));
  }
  ASSIGN_OR_RETURN(std::string server, PlaceInstall(c.theme, a.pinned_server));
  std::string digest, procfile;
  if (c.theme.source.kind != themes::Source::Kind::kImage) {
    ASSIGN_OR_RETURN(digest, SourceDigest(c));
    ASSIGN_OR_RETURN(procfile, ProcfileOf(c.theme, digest));
  }
  std::map<std::string, themes::ServiceConnection> services;
  if (!c.theme.services.empty()) {
    ASSIGN_OR_RETURN(services, EnsureServices(c.theme, app, server));
  }
  std::map<std::string, std::string> inputs;
  bool generated_all = false;
  // Stored inputs and secrets are reused; only secrets the new version adds
  // are generated.
  std::vector<std::string> domains;
  ASSIGN_OR_RETURN(auto env, RenderConfig(c, app, InputsFor(c.theme, in.inputs), services, &inputs,
                                          &generated_all, &domains));
  std::map<std::string, std::string> config = a.config;
  for (const auto& [k, v] : env) config[k] = v;
  // Recorded before anything changes, so a crash from here on leaves
  // "upgrading" for the supervisor to finish or undo. The inputs and version
  // change once the new release is current; everything else the upgrade
  // changes is kept in the record to be put back if it fails.
  ASSIGN_OR_RETURN(store::AppExtras extras, ctx_->store->GetAppExtras(app));
  ASSIGN_OR_RETURN(auto owners, ctx_->store->ListDomains());
  const std::string prior_state = in.state, prior_error = in.error;
  in.has_previous = true;
  in.has_previous_settings = true;
  in.previous_health_path = a.health_path;
  in.previous_health_timeout_ms = a.health_timeout_ms;
  in.previous_ports = extras.ports;
  in.previous_storage = extras.storage;
  in.previous_checks = extras.checks;
  in.previous_domains.clear();
  for (const auto& [host, owner] : owners) {
    if (owner == app) in.previous_domains.push_back(host);
  }
  in.previous_links = InstallLinks(app, extras);
  in.previous_theme_domains = in.domains;
  in.state = "upgrading";
  in.op_id = 0;
  in.error.clear();
  RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(in));
  std::string what = absl::StrCat("theme ", c.theme.name, " ", in.version, " -> ", c.theme.version);
  absl::StatusOr<ops::OpRef> op;
  std::vector<std::string> theme_domains;
  absl::Status saved = AddThemeDomains(app, domains, in.previous_theme_domains, &theme_domains);
  if (saved.ok()) {
    saved = RemoveDroppedDomains(c, app, in.previous_theme_domains, theme_domains, notes);
  }
  in.domains = theme_domains;
  if (saved.ok() && NeedsDokkuServer(c.theme)) {
    saved = SaveDokkuSettings(c.theme, app, /*upgrade=*/true);
  }
  if (saved.ok() && OnDokku(app)) saved = UnlinkDroppedServices(c, app, extras, notes);
  if (saved.ok()) {
    saved = ctx_->store->SetAppHealthCheck(
        app, c.theme.healthcheck ? c.theme.healthcheck->path : std::string(),
        c.theme.healthcheck ? c.theme.healthcheck->timeout_ms : 0);
  }
  if (saved.ok()) saved = ctx_->store->SetAppConfig(app, config);
  if (saved.ok()) saved = ctx_->store->SaveThemeInstall(in);  // the theme's domains now
  if (saved.ok()) CrashPoint(3);
  if (!saved.ok()) {
    op = saved;
  } else if (c.theme.source.kind == themes::Source::Kind::kImage) {
    op = ctx_->engine->DeployImage(app, c.theme.source.image, what, "dflow themes upgrade");
  } else {
    op = ctx_->engine->Deploy(app, digest, procfile, what, "dflow themes upgrade");
  }
  if (!op.ok()) {
    RestorePrevious(in);
    in.has_previous = false;
    in.state = prior_state;
    in.error = prior_error;
    (void)ctx_->store->SaveThemeInstall(in);
    return op.status();
  }
  CrashPoint(4);
  in.op_id = op->id;
  RETURN_IF_ERROR(ctx_->store->SaveThemeInstall(in));
  for (const auto& n : *notes) spdlog::info("theme upgrade of {}: {}", app, n);
  return op;
}

}  // namespace dflow::controller_themes
