// dflow services create|link|unlink|destroy|ls: postgres, redis and mysql
// services on Dokku servers (the dokku-postgres, dokku-redis and dokku-mysql
// plugins).
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "cli/dokku_client.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "common/dokku_names.h"
#include "common/names.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string kind;
  std::string name;
  std::string app;
  std::string server;
  std::string split_prefix;
  bool expose = false;
  bool json = false;
  bool detach = false;
};

nlohmann::json ServiceJson(const v1::DokkuService& s) {
  nlohmann::json links = nlohmann::json::array();
  for (const auto& l : s.links())
    links.push_back({{"app", l.app()}, {"split_prefix", l.split_prefix()}});
  return {{"name", s.name()},
          {"kind", s.kind()},
          {"server", s.server()},
          {"exposed", s.exposed()},
          {"exposed_port", s.exposed_port()},
          {"links", links},
          {"created_at", JsonTime(s.created_at_ms())}};
}

std::string LinksText(const v1::DokkuService& s) {
  std::vector<std::string> apps;
  for (const auto& l : s.links()) {
    apps.push_back(l.split_prefix().empty() ? l.app()
                                            : absl::StrCat(l.app(), " (", l.split_prefix(), "*)"));
  }
  return apps.empty() ? "-" : absl::StrJoin(apps, ", ");
}

// Waits for the op to end without printing its progress (for --json).
absl::Status WaitForOp(Client& client, int64_t id) {
  while (true) {
    v1::GetOpRequest get;
    get.set_id(id);
    auto op = client.Call(&v1::Apps::Stub::GetOp, get);
    if (!op.ok()) return op.status();
    if (OpEnded(op->state())) return OpOutcome(id, op->state(), op->error());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The service as the store holds it once its create op succeeded.
absl::StatusOr<v1::DokkuService> FindService(Client& client, const std::string& name) {
  auto r = CallDokku(client, &v1::Dokku::Stub::ListServices, v1::ListServicesRequest());
  if (!r.ok()) return r.status();
  for (const auto& s : r->services()) {
    if (s.name() == name) return s;
  }
  return absl::NotFoundError(absl::StrCat("service ", name, " is not recorded"));
}

}  // namespace

void RegisterServices(CLI::App& app, Globals& g) {
  auto* services = app.add_subcommand(
      "services", "Postgres, redis and mysql services on Dokku servers, linked to apps");
  services->require_subcommand(1);
  auto o = std::make_shared<Options>();

  auto* create = services->add_subcommand("create", "Create a service on one Dokku server");
  create->add_option("KIND", o->kind, "postgres | redis | mysql")->required();
  create->add_option("NAME", o->name, "Service name: letters, digits and _ (at most 48)")
      ->required();
  create->add_option("--server", o->server,
                     "The Dokku server that holds its data (default: the only healthy one)");
  create->add_flag("--expose", o->expose,
                   "Expose it on a host port (KIND:expose) so apps on other servers reach it at "
                   "the server's address; linked apps are then not pinned");
  create->add_flag("--json", o->json, "Print the service as JSON");
  AddDetachFlag(create, o->detach);
  create->footer(
      "A durable operation (`dflow ops show ID`): waits until Dokku has created it (an image\n"
      "pull can take minutes); a controller restarted meanwhile finishes it. The controller\n"
      "keeps the service's URL without its password and reads it from the server when a link\n"
      "needs it.\n"
      "Example: dflow services create postgres shopdb --server web-1");
  create->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      RETURN_IF_USAGE(ValidateServiceKind(o->kind));
      RETURN_IF_USAGE(ValidateServiceName(o->name));
      if (!o->server.empty()) RETURN_IF_USAGE(ValidateServerName(o->server));
      Client client(ResolveTarget(g.controller));
      v1::CreateServiceRequest req;
      req.set_kind(o->kind);
      req.set_name(o->name);
      req.set_server(o->server);
      req.set_expose(o->expose);
      auto made = CallDokku(client, &v1::Dokku::Stub::CreateService, req);
      if (!made.ok()) return made.status();
      if (o->json && o->detach) {
        PrintJson({{"name", made->name()}, {"op_id", made->op().id()}});
        return absl::OkStatus();
      }
      // --json keeps stdout to the JSON: the op is waited for, not printed.
      if (auto s = o->json ? WaitForOp(client, made->op().id())
                           : FollowOp(client, made->op(),
                                      {.app = "service:" + o->name, .detach = o->detach});
          !s.ok() || o->detach) {
        return s;
      }
      auto r = FindService(client, o->name);
      if (!r.ok()) return r.status();
      if (o->json) {
        PrintJson(ServiceJson(*r));
      } else {
        std::cout << r->kind() << " service " << r->name() << " is on " << r->server()
                  << (r->exposed() ? absl::StrCat(", exposed on port ", r->exposed_port()) : "")
                  << "; link it with `dflow services link " << r->name() << " APP`\n";
      }
      return absl::OkStatus();
    };
  });

  auto* link = services->add_subcommand("link", "Give APP the service's URL");
  link->add_option("NAME", o->name, "Service name")->required();
  link->add_option("APP", o->app, "App name")->required();
  link->add_option("--split-env", o->split_prefix,
                   "Also set PREFIX_HOST, PREFIX_PORT, PREFIX_USER, PREFIX_PASSWORD and "
                   "PREFIX_DATABASE from the URL (PREFIX_: upper-case letters, digits, _, ending "
                   "in _)")
      ->type_name("PREFIX_");
  AddDetachFlag(link, o->detach);
  link->footer(
      "The app gets DATABASE_URL (postgres, mysql) or REDIS_URL (redis). A service that is not\n"
      "exposed lives on one server: APP is pinned there and never placed elsewhere, and the\n"
      "link is refused while APP runs on another server (`dflow apps pin APP SERVER` moves\n"
      "it first). An exposed service is linked through APP's config (a config release) with\n"
      "the server's address and exposed port, and APP is not pinned.\n"
      "Example: dflow services link shopdb shop --split-env DB_");
  auto* unlink = services->add_subcommand(
      "unlink", "Take the service's URL (and split variables) away from APP; the pin stays");
  unlink->add_option("NAME", o->name, "Service name")->required();
  unlink->add_option("APP", o->app, "App name")->required();
  AddDetachFlag(unlink, o->detach);
  for (auto* cmd : {link, unlink}) {
    cmd->callback([&g, o, is_link = cmd == link] {
      g.action = [&g, o, is_link]() -> absl::Status {
        RETURN_IF_USAGE(ValidateServiceName(o->name));
        if (auto s = CheckAppArg(o->app); !s.ok()) return s;
        if (is_link) RETURN_IF_USAGE(ValidateSplitPrefix(o->split_prefix));
        Client client(ResolveTarget(g.controller));
        v1::ServiceLinkRequest req;
        req.set_service(o->name);
        req.set_app(o->app);
        if (is_link) req.set_split_prefix(o->split_prefix);
        auto ref = CallDokku(
            client, is_link ? &v1::Dokku::Stub::LinkService : &v1::Dokku::Stub::UnlinkService, req);
        if (!ref.ok()) return ref.status();
        return FollowOp(client, *ref, {.app = o->app, .detach = o->detach});
      };
    });
  }

  auto* destroy = services->add_subcommand(
      "destroy", "Destroy a service and its data (refused while it is linked)");
  destroy->add_option("NAME", o->name, "Service name")->required();
  AddDetachFlag(destroy, o->detach);
  destroy->footer("A durable operation (`dflow ops show ID`); waits until Dokku has destroyed it.");
  destroy->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      RETURN_IF_USAGE(ValidateServiceName(o->name));
      Client client(ResolveTarget(g.controller));
      v1::DestroyServiceRequest req;
      req.set_name(o->name);
      auto r = CallDokku(client, &v1::Dokku::Stub::DestroyService, req);
      if (!r.ok()) return r.status();
      if (auto s = FollowOp(client, r->op(), {.app = "service:" + o->name, .detach = o->detach});
          !s.ok() || o->detach) {
        return s;
      }
      std::cout << "service " << o->name << " destroyed\n";
      return absl::OkStatus();
    };
  });

  auto* ls = services->add_subcommand("ls", "Services with their server and linked apps");
  ls->add_flag("--json", o->json,
               "Print an array of {name, kind, server, exposed, exposed_port, links: [{app, "
               "split_prefix}], created_at}");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto r = CallDokku(client, &v1::Dokku::Stub::ListServices, v1::ListServicesRequest());
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& s : r->services()) all.push_back(ServiceJson(s));
        PrintJson(all);
        return absl::OkStatus();
      }
      Table t({"NAME", "KIND", "SERVER", "EXPOSED", "LINKED APPS"});
      for (const auto& s : r->services()) {
        t.Add({s.name(), s.kind(), s.server(),
               s.exposed() ? absl::StrCat("port ", s.exposed_port()) : "no", LinksText(s)});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
