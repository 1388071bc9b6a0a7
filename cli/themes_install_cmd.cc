// dflow themes install NAME --app APP [--set k=v]… [--server S] [--keep-on-failure]
//             | uninstall APP [--keep-data] | upgrade APP [--version V] | secrets APP [--reveal]
//             | package APP [-o DIR]
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/themes_cmd.h"
#include "common/files.h"
#include "dflow/controller/v1/themes.grpc.pb.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct InstallOptions {
  std::string theme;
  std::string app;
  std::string server;
  std::vector<std::string> sets;
  bool keep_on_failure = false;
  bool keep_data = false;
  std::string version;
  bool reveal = false;
  bool json = false;
  bool detach = false;
  std::string out_dir;
};

// Writes a packaged theme to `dir` (created; refused when it holds files).
absl::Status WritePackage(const std::string& dir, const v1::PackageAppResponse& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return UsageError(absl::StrCat("-o ", dir, " is not empty; give a new directory"));
  }
  if (auto s = EnsureDir(dir, 0755); !s.ok()) return s;
  if (auto s = WriteFileAtomic(dir + "/theme.yaml", r.manifest(), 0644); !s.ok()) return s;
  if (!r.archive_name().empty()) {
    if (auto s = WriteFileAtomic(dir + "/" + r.archive_name(), r.archive(), 0644); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSets(const std::vector<std::string>& sets, v1::InstallThemeRequest* req) {
  for (const auto& s : sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError(
          absl::StrCat("--set \"", s, "\" must be INPUT=VALUE, e.g. --set title=Ops"));
    }
    std::string key = s.substr(0, eq);
    if (req->inputs().count(key)) return UsageError(absl::StrCat("--set ", key, " is given twice"));
    (*req->mutable_inputs())[key] = s.substr(eq + 1);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReportThemeLeftovers(Client& client, const std::string& app) {
  v1::GetThemeSecretsRequest req;
  req.set_app(app);
  auto stub = v1::Themes::NewStub(client.channel());
  v1::ThemeSecretsResponse resp;
  auto ctx = client.Context();
  if (grpc::Status s = stub->GetThemeSecrets(ctx.get(), req, &resp); !s.ok()) {
    // NotFound: no theme app, or nothing left; Unimplemented: no themes service.
    if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
        s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return absl::OkStatus();
    }
    std::cerr << "warning: could not check what is left of " << app
              << "'s theme install: " << s.error_message() << "\n";
    return absl::OkStatus();
  }
  if (resp.state() != "uninstalling" || resp.error().empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(resp.error());
}

void RegisterThemeInstalls(CLI::App* themes, Globals& g) {
  auto o = std::make_shared<InstallOptions>();

  auto* install = themes->add_subcommand(
      "install",
      "Install a theme as a new app: secrets generated, env rendered, source deployed, health "
      "checked, as one operation; a failure removes what it created unless --keep-on-failure");
  install->add_option("NAME", o->theme, "Theme name (`dflow themes ls`)")->required();
  install->add_option("--app", o->app, "Name of the new app")->required();
  install->add_option("--set", o->sets,
                      "INPUT=VALUE for one of the theme's inputs (repeatable; `dflow themes show "
                      "NAME` lists them)");
  install->add_option("--server", o->server,
                      "Put the app on this server (pinned there); image and git themes, and "
                      "themes with services or volumes, need a Dokku server (without --server: "
                      "the only healthy one)");
  install->add_flag("--keep-on-failure", o->keep_on_failure,
                    "Keep the app and its secrets when the install fails (to look at its logs)");
  AddDetachFlag(install, o->detach);
  install->footer("Example: dflow themes install statuspage --app status --set title=Ops");
  install->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      v1::InstallThemeRequest req;
      req.set_theme(o->theme);
      req.set_app(o->app);
      req.set_server(o->server);
      req.set_keep_on_failure(o->keep_on_failure);
      if (auto s = ParseSets(o->sets, &req); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::OpRef ref;
      auto ctx = client.Context(120);
      if (grpc::Status s = stub->InstallTheme(ctx.get(), req, &ref); !s.ok()) {
        return client.Error(s);
      }
      if (!o->detach) {
        std::cout << "installing theme " << o->theme << " as app " << o->app << " (op " << ref.id()
                  << ")\n";
      }
      absl::Status s = FollowOp(client, ref, {.app = o->app, .detach = o->detach});
      if (o->detach) return s;
      if (!s.ok()) {
        return absl::Status(
            s.code(),
            absl::StrCat(s.message(), o->keep_on_failure ? "; the app is kept (--keep-on-failure)"
                                                         : "; the install is undone (the app "
                                                           "and its new secrets are removed)"));
      }
      std::cout << "installed " << o->app << "; its generated secrets: `dflow themes secrets "
                << o->app << " --reveal`\n";
      return absl::OkStatus();
    };
  });

  auto* uninstall = themes->add_subcommand(
      "uninstall", "Remove an app installed from a theme, with its secrets unless --keep-data");
  uninstall->add_option("APP", o->app, "App name")->required();
  uninstall->add_flag("--keep-data", o->keep_data,
                      "Keep the generated secrets (and on Dokku its volumes and services) so a "
                      "later install of the same app reuses them");
  AddDetachFlag(uninstall, o->detach);
  uninstall->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      v1::UninstallThemeRequest req;
      req.set_app(o->app);
      req.set_keep_data(o->keep_data);
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::OpRef ref;
      auto ctx = client.Context();
      if (grpc::Status s = stub->UninstallTheme(ctx.get(), req, &ref); !s.ok()) {
        return client.Error(s);
      }
      absl::Status followed = FollowOp(client, ref, {.app = o->app, .detach = o->detach});
      if (!followed.ok() || o->detach) return followed;
      return ReportThemeLeftovers(client, o->app);
    };
  });

  auto* upgrade = themes->add_subcommand(
      "upgrade",
      "Deploy the catalog's version of an app's theme with the same inputs and secrets "
      "(secrets the new version adds are generated; none is ever regenerated); if its deploy "
      "fails, the old version keeps running with its config, domains and Dokku settings");
  upgrade->add_option("APP", o->app, "App name")->required();
  upgrade->footer(
      "Domains the theme gave the app that the new version drops are removed (not those added "
      "with `dflow domains add`); a service the new version drops is unlinked and kept with its "
      "data (`dflow services destroy NAME` destroys it). Both are printed as `note:` lines.");
  upgrade->add_option("--version", o->version,
                      "The version to upgrade to; it must be the catalog's (default: it)");
  AddDetachFlag(upgrade, o->detach);
  upgrade->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      v1::UpgradeThemeRequest req;
      req.set_app(o->app);
      req.set_version(o->version);
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::OpRef ref;
      auto ctx = client.Context(120);
      if (grpc::Status s = stub->UpgradeTheme(ctx.get(), req, &ref); !s.ok()) {
        return client.Error(s);
      }
      for (const auto& n : ref.notes()) std::cout << "note: " << n << "\n";
      return FollowOp(client, ref, {.app = o->app, .detach = o->detach});
    };
  });

  auto* package = themes->add_subcommand(
      "package",
      "Write a theme from a running app: its source (its image, its git URL at a commit a "
      "webhook fetched, else the live release's archive), process types, port, health check, "
      "resources, domains, services, volumes, and its config keys as inputs (current values "
      "as defaults) or secrets (never their values)");
  package->add_option("APP", o->app, "App name")->required();
  package->add_option("-o,--output", o->out_dir, "Directory to write (default ./APP-theme)");
  package->footer("Then: dflow themes add DIR && dflow themes install APP --app NEW --server S");
  package->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      std::string dir = o->out_dir.empty() ? o->app + "-theme" : o->out_dir;
      Target target = ResolveTarget(g.controller);
      Client client(target);
      // A release archive may exceed gRPC's default 4 MiB for a reply.
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(16 << 20);
      auto channel =
          grpc::CreateCustomChannel(target.address, grpc::InsecureChannelCredentials(), args);
      auto stub = v1::Themes::NewStub(channel);
      v1::PackageAppRequest req;
      req.set_app(o->app);
      v1::PackageAppResponse resp;
      auto ctx = client.Context(120);
      if (grpc::Status s = stub->PackageApp(ctx.get(), req, &resp); !s.ok()) {
        return client.Error(s);
      }
      if (auto s = WritePackage(dir, resp); !s.ok()) return s;
      std::cout << "wrote " << dir << "/theme.yaml"
                << (resp.archive_name().empty() ? "" : " and " + dir + "/" + resp.archive_name())
                << " from " << o->app << " v" << resp.release() << "\n";
      return absl::OkStatus();
    };
  });

  auto* secrets = themes->add_subcommand(
      "secrets", "Show the secrets generated for an app, masked unless --reveal");
  secrets->add_option("APP", o->app, "App name")->required();
  secrets->add_flag("--reveal", o->reveal, "Print the values (recorded as an event)");
  secrets->add_flag(
      "--json", o->json,
      "Print a JSON object {app, theme, version, state, error, secrets: {NAME: value}}");
  secrets->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      v1::GetThemeSecretsRequest req;
      req.set_app(o->app);
      req.set_reveal(o->reveal);
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::ThemeSecretsResponse resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->GetThemeSecrets(ctx.get(), req, &resp); !s.ok()) {
        return client.Error(s);
      }
      if (o->json) {
        nlohmann::json values = nlohmann::json::object();
        for (const auto& s : resp.secrets()) values[s.name()] = s.value();
        PrintJson({{"app", resp.app()},
                   {"theme", resp.theme()},
                   {"version", resp.version()},
                   {"state", resp.state()},
                   {"error", resp.error()},
                   {"secrets", values}});
        return absl::OkStatus();
      }
      std::cout << resp.app() << ": theme " << resp.theme() << " " << resp.version() << " ("
                << resp.state() << ")\n";
      if (!resp.error().empty()) std::cout << "last error: " << resp.error() << "\n";
      Table t({"SECRET", "VALUE"});
      for (const auto& s : resp.secrets()) t.Add({s.name(), s.value()});
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
