// dflow domains add | rm | ls | dns APP [HOST]
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct DomainsOptions {
  std::string app;
  std::string host;
  bool json = false;
};

void PrintDomains(const v1::ListDomainsResponse& r, bool json, bool with_op = false) {
  if (json) {
    nlohmann::json domains = nlohmann::json::array();
    for (const auto& d : r.domains()) domains.push_back(d);
    nlohmann::json out = {{"app", r.app()}, {"url", r.url()}, {"domains", domains}};
    if (with_op) out["dokku_op"] = r.dokku_op();
    PrintJson(out);
    return;
  }
  std::cout << r.app() << " answers at " << r.url() << "\n";
  if (r.domains().empty()) {
    std::cout << "no custom domains (add one with `dflow domains add " << r.app() << " HOST`)\n";
    return;
  }
  for (const auto& d : r.domains()) std::cout << d << "\n";
}

void PrintDns(const v1::DomainsDnsResponse& r, bool json) {
  if (json) {
    nlohmann::json records = nlohmann::json::array();
    for (const auto& d : r.records()) {
      records.push_back({{"host", d.host()},
                         {"type", d.type()},
                         {"value", d.value()},
                         {"server", d.server()},
                         {"status", d.status()},
                         {"unreachable_since", JsonTime(d.unreachable_since_ms())},
                         {"instances", d.instances()}});
    }
    PrintJson({{"app", r.app()}, {"records", records}});
    return;
  }
  if (r.records().empty()) {
    std::cout << "; app " << r.app()
              << " has no web instances on any server: no DNS records to publish\n";
    return;
  }
  std::cout << "; DNS records for app " << r.app()
            << ": one per server holding its web instances\n";
  for (const auto& d : r.records()) {
    std::string value = d.type() == "CNAME" ? d.value() + "." : d.value();
    std::cout << d.host() << ".\t300\tIN\t" << d.type() << "\t" << value << "\t; " << d.server();
    if (d.status() == "unreachable") {
      std::cout << " unreachable since " << HumanTime(d.unreachable_since_ms())
                << ", remove this record";
    } else if (d.status() == "draining") {
      std::cout << " draining";
    } else {
      std::cout << ", " << d.instances() << " instance" << (d.instances() == 1 ? "" : "s");
    }
    std::cout << "\n";
  }
}

}  // namespace

void RegisterDomains(CLI::App& app, Globals& g) {
  auto o = std::make_shared<DomainsOptions>();
  auto* domains =
      app.add_subcommand("domains", "Custom hostnames an app answers to on every server's router");
  domains->require_subcommand(1);

  auto* add = domains->add_subcommand(
      "add",
      "Route HOST to APP on every router (a DNS name; refused when another app has it); on the "
      "Dokku servers APP runs on, an op runs dokku domains:add, followed until it ends");
  add->add_option("APP", o->app, "App name")->required();
  add->add_option("HOST", o->host, "Hostname, e.g. shop.example.com")->required();
  add->add_flag("--json", o->json,
                "Print a JSON object {app, url, domains, dokku_op} (dokku_op: the op running "
                "domains:add, 0 when none; not followed)");
  auto* rm = domains->add_subcommand(
      "rm",
      "Stop routing HOST to APP; on the Dokku servers APP runs on, an op runs dokku "
      "domains:remove, followed until it ends");
  rm->add_option("APP", o->app, "App name")->required();
  rm->add_option("HOST", o->host, "Hostname")->required();
  rm->add_flag("--json", o->json,
               "Print a JSON object {app, url, domains, dokku_op} (dokku_op: the op running "
               "domains:remove, 0 when none; not followed)");
  auto* ls = domains->add_subcommand("ls", "Show APP's URL and custom domains");
  ls->add_option("APP", o->app, "App name")->required();
  ls->add_flag("--json", o->json, "Print a JSON object {app, url, domains}");

  for (auto* cmd : {add, rm}) {
    cmd->callback([&g, o, cmd, add] {
      g.action = [&g, o, is_add = cmd == add]() -> absl::Status {
        if (auto s = CheckAppArg(o->app); !s.ok()) return s;
        Client client(ResolveTarget(g.controller));
        v1::DomainRequest req;
        req.set_app(o->app);
        req.set_host(o->host);
        auto r =
            client.Call(is_add ? &v1::Apps::Stub::AddDomain : &v1::Apps::Stub::RemoveDomain, req);
        if (!r.ok()) return r.status();
        PrintDomains(*r, o->json, /*with_op=*/true);
        if (r->dokku_op() == 0 || o->json) return absl::OkStatus();
        // Dokku's proxy serves the app there: a failed domains:add is this
        // command's failure, not something to find later in `dflow ops`.
        std::cout << (is_add ? "adding it on the app's Dokku servers (domains:add): op "
                             : "removing it from the app's Dokku servers (domains:remove): op ")
                  << r->dokku_op() << "\n";
        v1::OpRef ref;
        ref.set_id(r->dokku_op());
        return FollowOp(client, ref, {.app = o->app});
      };
    });
  }
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::ListDomainsRequest req;
      req.set_app(o->app);
      auto r = client.Call(&v1::Apps::Stub::ListDomains, req);
      if (!r.ok()) return r.status();
      PrintDomains(*r, o->json);
      return absl::OkStatus();
    };
  });

  auto* dns = domains->add_subcommand(
      "dns",
      "Print the DNS records that spread APP's hostnames over the servers holding its web "
      "instances: one A/AAAA per server (its address from the fleet; CNAME when that is a "
      "hostname), zone-file lines; records of unreachable servers are marked for removal");
  dns->add_option("APP", o->app, "App name")->required();
  dns->add_flag("--json", o->json,
                "Print a JSON object {app, records: [{host, type, value, server, status, "
                "unreachable_since, instances}]}");
  dns->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::ListDomainsRequest req;
      req.set_app(o->app);
      auto r = client.Call(&v1::Apps::Stub::DomainsDns, req);
      if (!r.ok()) return r.status();
      PrintDns(*r, o->json);
      return absl::OkStatus();
    };
  });
  RegisterCerts(app, g);
}

}  // namespace dflow::cli
