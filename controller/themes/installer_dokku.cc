// Installer on Dokku servers: where an install goes, the theme's services
// (created through the agent, or reused when kept), and the links, storage,
// ports and checks saved for the rollout to apply (issue 5's Dokku extras).
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/crypto.h"
#include "common/dokku_names.h"
#include "common/files.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "controller/ops/engine.h"
#include "controller/themes/installer.h"

namespace dflow::controller_themes {
namespace {

std::string SourceWords(const themes::Theme& t) {
  switch (t.source.kind) {
    case themes::Source::Kind::kImage:
      return "an image (" + t.source.image + ")";
    case themes::Source::Kind::kGit:
      return absl::StrCat("a git repository (", t.source.git, " at ", t.source.ref, ")");
    default:
      if (!t.services.empty())
        return absl::StrCat("a ", themes::SourceKindName(t.source.kind), " with services");
      // The LocalRuntime runs processes on the host: it has no container path
      // to keep a volume at, so a theme with volumes goes to Dokku, never
      // runs without its data.
      return absl::StrCat("a ", themes::SourceKindName(t.source.kind), " with volumes (",
                          t.volumes.front().path, ")");
  }
}

// What a Dokku server cannot do for this theme yet.
absl::Status DokkuCanRun(const themes::Theme& t, const std::string& server) {
  for (const auto& s : t.services) {
    if (!ValidateServiceKind(s.type).ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "theme ", t.name, " needs a ", s.type, " service (", s.name, "); dflow creates ",
          "postgres, redis and mysql services on Dokku (", server, ") so far"));
    }
  }
  return absl::OkStatus();
}

// A volume given to root on a Dokku that cannot chown to it (before 0.38;
// CheckStorageOwnerOnDokku in common/dokku_names), refused before anything
// is created rather than at the storage step.
absl::Status VolumesFit(const themes::Theme& t, const store::Server& server) {
  if (DokkuChownsToRoot(server.facts.dokku_version)) return absl::OkStatus();
  for (const auto& v : t.volumes) {
    if (v.chown != "root") continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "theme ", t.name, " gives its volume ", v.name, " (", v.path, ") to root, which Dokku ",
        server.facts.dokku_version, " on ", server.name,
        " cannot do (before 0.38 its chown helper takes herokuish, heroku or paketo only): "
        "install it on a server with Dokku 0.38 or later, or change the volume's chown"));
  }
  return absl::OkStatus();
}

int64_t Seconds(int64_t ms) { return std::max<int64_t>(1, (ms + 999) / 1000); }

}  // namespace

absl::StatusOr<std::string> Installer::FetchGitSource(const themes::Theme& t) {
  // git fetch of the one commit at `ref` into a scratch repository, then git
  // archive of it: the release archive Dokku builds (git:from-archive), kept
  // in the blob store like any release's source. argv only; no credentials
  // prompt; the URL and ref passed the manifest's validation.
  ASSIGN_OR_RETURN(std::string nonce, RandomBytes(8));
  std::string dir = absl::StrCat(ctx_->archive_dir, "/.git-", HexEncode(nonce));
  std::string out = dir + ".tar.gz";
  PosixProcessRunner runner;
  std::map<std::string, std::string> env = {
      {"GIT_TERMINAL_PROMPT", "0"}, {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", dir}};
  auto run = [&](std::vector<std::string> argv) -> absl::Status {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = env;
    spec.deadline = std::chrono::minutes(5);
    auto r = runner.Run(spec);
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) {
      // FailedPrecondition, not Unavailable: the CLI reads Unavailable as
      // "the controller cannot be reached".
      return absl::FailedPreconditionError(absl::StrCat(
          "fetching ", t.source.git, " at ", t.source.ref, " for theme ", t.name,
          " failed: ", r->timed_out ? "it took longer than 5 minutes" : r->stderr_data));
    }
    return absl::OkStatus();
  };
  absl::Status s = run({"git", "init", "-q", dir});
  if (s.ok())
    s = run({"git", "-C", dir, "fetch", "-q", "--depth", "1", t.source.git, t.source.ref});
  if (s.ok()) s = run({"git", "-C", dir, "archive", "--format=tar.gz", "-o", out, "FETCH_HEAD"});
  absl::StatusOr<std::string> data = s.ok() ? ReadFile(out) : absl::StatusOr<std::string>(s);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  unlink(out.c_str());
  if (!data.ok()) return data.status();
  BlobStore blobs(ctx_->archive_dir);
  ASSIGN_OR_RETURN(auto writer, blobs.NewWriter(int64_t{200} << 20));
  RETURN_IF_ERROR(writer->Append(*data));
  return writer->Commit();
}

bool NeedsDokkuServer(const themes::Theme& t) {
  return t.source.kind == themes::Source::Kind::kImage ||
         t.source.kind == themes::Source::Kind::kGit || !t.services.empty() || !t.volumes.empty();
}

std::string ServiceNameFor(const std::string& app, const std::string& name) {
  std::string out = app + "_" + name;
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

absl::StatusOr<std::string> Installer::PlaceInstall(const themes::Theme& t,
                                                    const std::string& server) {
  ASSIGN_OR_RETURN(auto servers, ctx_->store->ListServers());
  if (!server.empty()) {
    auto it = std::find_if(servers.begin(), servers.end(),
                           [&](const store::Server& s) { return s.name == server; });
    if (it == servers.end()) {
      return absl::NotFoundError(
          absl::StrCat("no server named ", server, "; `dflow servers ls` lists them"));
    }
    if (it->runtime != "dokku" && NeedsDokkuServer(t)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "theme ", t.name, " runs from ", SourceWords(t), ", which needs a Dokku server; ", server,
          " runs the LocalRuntime (", it->runtime,
          "), which runs Procfile apps only. Install it on a server whose agent runs "
          "`dflow-agent run --runtime dokku` (--server NAME), or pick a bundle theme such as "
          "statuspage"));
    }
    if (it->runtime == "dokku" && NeedsDokkuServer(t)) RETURN_IF_ERROR(DokkuCanRun(t, server));
    if (it->runtime == "dokku") RETURN_IF_ERROR(VolumesFit(t, *it));
    return server;
  }
  if (!NeedsDokkuServer(t)) return std::string();
  std::vector<const store::Server*> dokku;
  for (const auto& s : servers) {
    if (s.runtime == "dokku" && s.health == store::Health::kHealthy && !s.draining) {
      dokku.push_back(&s);
    }
  }
  if (dokku.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "theme ", t.name, " runs from ", SourceWords(t),
        " and needs a Dokku server, but no healthy server runs Dokku (the LocalRuntime runs "
        "Procfile apps only); add one with `dflow-agent run --runtime dokku` and pass "
        "--server NAME"));
  }
  if (dokku.size() > 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "choose the Dokku server that holds ", t.name, "'s data with --server (one of: ",
        absl::StrJoin(dokku, ", ",
                      [](std::string* out, const store::Server* s) { out->append(s->name); }),
        ")"));
  }
  RETURN_IF_ERROR(DokkuCanRun(t, dokku.front()->name));
  RETURN_IF_ERROR(VolumesFit(t, *dokku.front()));
  return dokku.front()->name;
}

absl::StatusOr<std::map<std::string, themes::ServiceConnection>> Installer::EnsureServices(
    const themes::Theme& t, const std::string& app, const std::string& server) {
  std::map<std::string, themes::ServiceConnection> out;
  for (const auto& s : t.services) {
    std::string name = ServiceNameFor(app, s.name);
    RETURN_IF_ERROR(ValidateServiceName(name));
    std::string dsn;
    if (auto existing = ctx_->store->GetService(name); existing.ok()) {
      if (existing->server != server || existing->kind != s.type) {
        return absl::FailedPreconditionError(
            absl::StrCat("service ", name, " (", existing->kind, ") already lives on ",
                         existing->server, "; install ", app, " there with --server ",
                         existing->server, ", or destroy the service first"));
      }
      // Kept by an uninstall --keep-data: its data too. The store keeps no
      // password, so the URL is read from the server.
      auto read = ctx_->agents->GetService(server, s.type, name);
      if (!read.ok()) {
        return absl::Status(read.status().code(),
                            absl::StrCat("reading the URL of ", s.type, " service ", name, " on ",
                                         server, " failed: ", read.status().message()));
      }
      dsn = read->dsn;
    } else {
      auto made = ctx_->agents->CreateService(server, "theme-service-" + name, s.type, name,
                                              /*expose=*/false);
      if (!made.ok()) {
        return absl::Status(
            made.status().code(),
            absl::StrCat("creating ", s.type, " service ", name, " on ", server, " for theme ",
                         t.name, " failed: ", made.status().message()));
      }
      store::Service record{.name = name, .kind = s.type, .server = server, .dsn = made->dsn};
      RETURN_IF_ERROR(ctx_->store->CreateService(record));
      dsn = made->dsn;
    }
    auto conn = themes::SplitServiceUrl(dsn);
    if (!conn.ok()) {
      return absl::InternalError(
          absl::StrCat("service ", name, " on ", server,
                       " gave a URL dflow cannot split: ", conn.status().message()));
    }
    out[s.name] = *conn;
  }
  return out;
}

absl::Status Installer::SaveDokkuSettings(const themes::Theme& t, const std::string& app,
                                          bool upgrade) {
  for (const auto& s : t.services) {
    RETURN_IF_ERROR(ctx_->store->LinkService({ServiceNameFor(app, s.name), app, ""}));
  }
  if (upgrade) {
    ASSIGN_OR_RETURN(store::AppExtras extras, ctx_->store->GetAppExtras(app));
    for (const auto& m : extras.storage) {
      bool kept = std::any_of(t.volumes.begin(), t.volumes.end(), [&](const themes::Volume& v) {
        return v.path == m.container_dir && app + "-" + v.name == m.source;
      });
      // Only what an install of the theme mounted (APP-VOLUME); mounts made
      // with `dflow storage mount` stay.
      if (kept || m.source.rfind(app + "-", 0) != 0) continue;
      ASSIGN_OR_RETURN(store::StorageMount removed,
                       ctx_->store->RemoveAppStorage(app, m.container_dir));
      nlohmann::json params = {
          {"action", "unmount"},
          {"source", removed.source},
          {"container_dir", removed.container_dir},
          {"what", absl::StrCat("unmount ", removed.source, " from ", removed.container_dir)}};
      ASSIGN_OR_RETURN(auto op, ctx_->engine->ChangeDokku(
                                    app, params.dump(),
                                    absl::StrCat("theme upgrade: unmount ", removed.source,
                                                 " from ", removed.container_dir, " in ", app)));
      spdlog::info("theme upgrade of {}: {} is no longer a volume (op {}); its data stays", app,
                   removed.container_dir, op.id);
    }
  }
  for (const auto& v : t.volumes) {
    store::StorageMount mount{app + "-" + v.name, v.path, v.chown};
    RETURN_IF_ERROR(ValidateStorageMount(mount.source, mount.container_dir));
    RETURN_IF_ERROR(ValidateStorageChown(mount.source, mount.chown));
    RETURN_IF_ERROR(ctx_->store->AddAppStorage(app, mount));
  }
  if (t.port > 0)
    RETURN_IF_ERROR(ctx_->store->SetAppPorts(app, {absl::StrCat("http:80:", t.port)}));
  if (t.healthcheck) {
    const auto& h = *t.healthcheck;
    // Dokku's timeout is per attempt; the theme's is the whole wait.
    std::string attempts = std::to_string(h.attempts);
    std::string timeout = std::to_string(std::max<int64_t>(1, Seconds(h.timeout_ms) / h.attempts));
    RETURN_IF_ERROR(ValidateCheckSetting("attempts", attempts));
    RETURN_IF_ERROR(ctx_->store->SetAppCheck(app, "attempts", attempts));
    RETURN_IF_ERROR(ctx_->store->SetAppCheck(app, "timeout", timeout));
  }
  return absl::OkStatus();
}

std::vector<std::string> Installer::DestroyOwnedServices(const themes::Theme& t,
                                                         const std::string& app) {
  std::vector<std::string> left;
  for (const auto& s : t.services) {
    auto service = ctx_->store->GetService(ServiceNameFor(app, s.name));
    if (!service.ok()) continue;
    if (!service->links.empty()) {
      spdlog::warn("service {} is still linked; not destroyed with the install of {}",
                   service->name, app);
      continue;
    }
    agents::DokkuChange change{.kind = agents::DokkuChange::Kind::kDestroyService,
                               .service_kind = service->kind,
                               .service = service->name};
    auto out = ctx_->agents->ChangeDokku(
        service->server, absl::StrCat("theme-service-destroy-", service->name), change);
    if (!out.ok()) {
      // The record stays, so `dflow services destroy` can finish it.
      left.push_back(absl::StrCat(
          service->kind, " service ", service->name, " on ", service->server,
          " was not destroyed (", out.status().message(), "); its data is still there: `dflow ",
          "services destroy ", service->name, "` destroys it once ", service->server,
          " is reachable (if ", service->server, " was away while ", app, " was destroyed, app ",
          app, " is still there, linked to the service, until dflow ",
          "removes it when the server is back: `dflow status` lists it until then)"));
      continue;
    }
    (void)ctx_->store->DeleteService(service->name);
  }
  return left;
}

}  // namespace dflow::controller_themes
