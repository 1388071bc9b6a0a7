// dflow ports set|ls, storage mount|unmount|ls, checks set|unset|ls: what Dokku adds
// to an app. Input is checked here first (a usage error, exit 2), then by the
// controller; a change is an operation followed like `dflow config set`.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/dokku_client.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "common/dokku_names.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string app;
  std::vector<std::string> maps;
  std::string mount;  // SOURCE:/container/dir (mount) or [SOURCE:]/container/dir (unmount)
  std::string chown;  // mount of a named storage: its owner ("" = herokuish)
  std::string key;
  std::string value;
  bool json = false;
  bool detach = false;
};

absl::StatusOr<v1::AppExtras> Extras(Client& client, const std::string& app) {
  v1::AppExtrasRequest req;
  req.set_app(app);
  return CallDokku(client, &v1::Dokku::Stub::GetAppExtras, req);
}

void PrintWhere(const v1::AppExtras& e) {
  std::cout << "Dokku servers: "
            << (e.servers().empty() ? "none yet (applied at its first deploy)"
                                    : absl::StrJoin(e.servers(), ", "))
            << (e.pinned_server().empty() ? "" : absl::StrCat("; pinned to ", e.pinned_server()))
            << "\n";
}

// Registers `GROUP ls APP [--json]` printing `print`'s part of the extras.
void AddLs(CLI::App* group, Globals& g, const char* help,
           std::function<void(const v1::AppExtras&, bool)> print) {
  auto o = std::make_shared<Options>();
  auto* ls = group->add_subcommand("ls", help);
  ls->add_option("APP", o->app, "App name")->required();
  ls->add_flag("--json", o->json, "Print JSON");
  ls->callback([&g, o, print] {
    g.action = [&g, o, print]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      auto e = Extras(client, o->app);
      if (!e.ok()) return e.status();
      print(*e, o->json);
      return absl::OkStatus();
    };
  });
}

template <typename Req>
absl::Status Change(Globals& g, const Options& o,
                    grpc::Status (v1::Dokku::Stub::*method)(grpc::ClientContext*, const Req&,
                                                            v1::OpRef*),
                    const Req& req) {
  Client client(ResolveTarget(g.controller));
  auto ref = CallDokku(client, method, req);
  if (!ref.ok()) return ref.status();
  return FollowOp(client, *ref, {.app = o.app, .detach = o.detach});
}

void RegisterPorts(CLI::App& app, Globals& g) {
  auto* ports = app.add_subcommand("ports", "Port maps of an app's Dokku proxy (Dokku servers)");
  ports->require_subcommand(1);
  auto o = std::make_shared<Options>();
  auto* set = ports->add_subcommand(
      "set", "Replace APP's port maps on every Dokku server it runs on (dokku ports:set)");
  set->add_option("APP", o->app, "App name")->required();
  set->add_option("MAP", o->maps,
                  "SCHEME:HOST_PORT:CONTAINER_PORT (scheme http, https, tcp, udp, grpc, grpcs; "
                  "ports 1-65535), e.g. http:80:5000")
      ->required();
  AddDetachFlag(set, o->detach);
  set->footer(
      "Saved, then applied by an operation on each Dokku server APP runs on, and on every\n"
      "server a later deploy places it on. Example: dflow ports set shop http:80:5000 "
      "https:443:5000");
  set->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      for (const auto& m : o->maps) RETURN_IF_USAGE(ValidatePortMap(m));
      v1::SetPortsRequest req;
      req.set_app(o->app);
      for (const auto& m : o->maps) req.add_maps(m);
      return Change(g, *o, &v1::Dokku::Stub::SetPorts, req);
    };
  });
  AddLs(ports, g, "Show APP's saved port maps", [](const v1::AppExtras& e, bool json) {
    if (json) {
      PrintJson({{"app", e.app()},
                 {"ports", std::vector<std::string>(e.ports().begin(), e.ports().end())}});
      return;
    }
    if (e.ports().empty()) std::cout << "no port maps set (Dokku detects them at deploy)\n";
    for (const auto& p : e.ports()) std::cout << p << "\n";
    PrintWhere(e);
  });
}

void RegisterStorage(CLI::App& app, Globals& g) {
  auto* storage =
      app.add_subcommand("storage", "Persistent storage mounted into an app (Dokku servers)");
  storage->require_subcommand(1);
  auto o = std::make_shared<Options>();
  auto* mount = storage->add_subcommand(
      "mount", "Mount named storage or a host path into APP; pins APP to that server");
  mount->add_option("APP", o->app, "App name")->required();
  mount
      ->add_option("SOURCE:DIR", o->mount,
                   "NAME:/container/dir (NAME: letters, digits, _ and -, created with "
                   "storage:create) or /host/path:/container/dir (an existing directory)")
      ->required();
  mount->add_option("--chown", o->chown,
                    "Owner of a named storage's directory: herokuish (uid 32767, the default), "
                    "heroku (1000), paketo (2000), root (0; Dokku 0.38+) or false (no chown)");
  AddDetachFlag(mount, o->detach);
  mount->footer(
      "Storage lives on one server: APP is pinned to the Dokku server it runs on (or is\n"
      "already pinned to), and is never placed elsewhere; refused while APP runs on several\n"
      "servers or on none and is not pinned (`dflow apps pin APP SERVER` first). The mount\n"
      "takes effect at the next deploy or `dflow restart APP`.\n"
      "A named storage's directory is chowned (recursively) to --chown on every Dokku version\n"
      "(storage:ensure-directory before 0.38, storage:create since): herokuish (32767) suits\n"
      "buildpack apps; an image running as another user needs its uid, e.g. heroku (1000)\n"
      "for images that run as `node`. A host path keeps its owner: Dokku does not chown\n"
      "outside its storage directory, so --chown is refused with one.\n"
      "Example: dflow storage mount shop shop-data:/app/data\n"
      "         dflow storage mount n8n n8n-data:/home/node/.n8n --chown heroku");
  auto* unmount = storage->add_subcommand(
      "unmount", "Remove a mount from APP (the data stays on the server; so does the pin)");
  unmount->add_option("APP", o->app, "App name")->required();
  unmount->add_option("DIR", o->mount, "/container/dir, or SOURCE:/container/dir")->required();
  AddDetachFlag(unmount, o->detach);
  for (auto* cmd : {mount, unmount}) {
    cmd->callback([&g, o, is_mount = cmd == mount] {
      g.action = [&g, o, is_mount]() -> absl::Status {
        if (auto s = CheckAppArg(o->app); !s.ok()) return s;
        size_t colon = o->mount.rfind(':');
        std::string source = colon == std::string::npos ? "" : o->mount.substr(0, colon);
        std::string dir = colon == std::string::npos ? o->mount : o->mount.substr(colon + 1);
        if (is_mount) {
          if (colon == std::string::npos) {
            return UsageError(absl::StrCat("\"", o->mount,
                                           "\" is not SOURCE:/container/dir, e.g. "
                                           "shop-data:/app/data"));
          }
          RETURN_IF_USAGE(ValidateStorageMount(source, dir));
          RETURN_IF_USAGE(ValidateStorageChown(source, o->chown));
        } else if (dir.empty() || dir[0] != '/') {
          return UsageError(
              absl::StrCat("the container directory \"", dir, "\" must be an absolute path"));
        }
        v1::StorageMountRequest req;
        req.set_app(o->app);
        req.set_source(source);
        req.set_container_dir(dir);
        if (is_mount) req.set_chown(o->chown);
        return Change(g, *o,
                      is_mount ? &v1::Dokku::Stub::MountStorage : &v1::Dokku::Stub::UnmountStorage,
                      req);
      };
    });
  }
  AddLs(storage, g, "Show APP's mounts", [](const v1::AppExtras& e, bool json) {
    if (json) {
      nlohmann::json mounts = nlohmann::json::array();
      for (const auto& m : e.storage()) {
        mounts.push_back({{"source", m.source()},
                          {"container_dir", m.container_dir()},
                          {"named", m.named()},
                          {"chown", m.chown()}});
      }
      PrintJson({{"app", e.app()}, {"storage", mounts}, {"pinned_server", e.pinned_server()}});
      return;
    }
    Table t({"SOURCE", "CONTAINER DIR", "KIND", "OWNER"});
    for (const auto& m : e.storage()) {
      t.Add({m.source(), m.container_dir(), m.named() ? "named storage" : "host path",
             m.chown().empty() ? "-" : m.chown()});
    }
    t.Print(std::cout);
    PrintWhere(e);
  });
}

void RegisterChecks(CLI::App& app, Globals& g) {
  auto* checks = app.add_subcommand("checks", "Health check settings of an app (Dokku servers)");
  checks->require_subcommand(1);
  auto o = std::make_shared<Options>();
  auto* set = checks->add_subcommand("set", "Set one health check setting of APP");
  set->add_option("APP", o->app, "App name")->required();
  set->add_option("KEY", o->key, "wait | timeout | attempts | wait-to-retire")->required();
  set->add_option("VALUE", o->value, "Whole seconds (attempts: a count), 0 to 86400")->required();
  AddDetachFlag(set, o->detach);
  set->footer(
      "wait, timeout and attempts tune the health check dflow writes into the app.json of the\n"
      "next deploy (healthchecks.web; it needs the app's --health-path); wait-to-retire is\n"
      "`dokku checks:set APP wait-to-retire N` at once: how long old containers serve after a\n"
      "deploy. Example: dflow checks set shop wait 5");
  set->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      RETURN_IF_USAGE(ValidateCheckSetting(o->key, o->value));
      v1::SetCheckRequest req;
      req.set_app(o->app);
      req.set_key(o->key);
      req.set_value(o->value);
      return Change(g, *o, &v1::Dokku::Stub::SetCheck, req);
    };
  });
  auto* unset = checks->add_subcommand("unset", "Remove one health check setting of APP");
  unset->add_option("APP", o->app, "App name")->required();
  unset->add_option("KEY", o->key, "wait | timeout | attempts | wait-to-retire")->required();
  AddDetachFlag(unset, o->detach);
  unset->footer(
      "Dokku's default applies again. wait, timeout and attempts leave the app.json of the\n"
      "next deploy; wait-to-retire is `dokku checks:set APP wait-to-retire` (no value) at once\n"
      "on every Dokku server, also those APP is stopped on. A KEY that is not set is an error\n"
      "(exit 1), as for `dflow storage unmount`. Example: dflow checks unset shop wait-to-retire");
  unset->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      RETURN_IF_USAGE(ValidateCheckKey(o->key));
      v1::UnsetCheckRequest req;
      req.set_app(o->app);
      req.set_key(o->key);
      return Change(g, *o, &v1::Dokku::Stub::UnsetCheck, req);
    };
  });
  AddLs(checks, g, "Show APP's saved health check settings", [](const v1::AppExtras& e, bool json) {
    if (json) {
      PrintJson({{"app", e.app()}, {"checks", Sorted(e.checks())}});
      return;
    }
    if (e.checks().empty()) std::cout << "no check settings (Dokku's defaults apply)\n";
    for (const auto& [k, v] : Sorted(e.checks())) std::cout << k << " " << v << "\n";
    PrintWhere(e);
  });
}

}  // namespace

void RegisterDokku(CLI::App& app, Globals& g) {
  RegisterPorts(app, g);
  RegisterStorage(app, g);
  RegisterChecks(app, g);
}

}  // namespace dflow::cli
