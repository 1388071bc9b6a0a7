// dflow apps create | ls | show | destroy | pin | unpin
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/app_git.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "cli/themes_cmd.h"
#include "common/clock.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

std::string ScaleText(const v1::App& a) {
  if (a.scale().empty()) return "-";
  return absl::StrJoin(Sorted(a.scale()), " ", absl::PairFormatter("="));
}

std::string StatesText(const v1::App& a) {
  if (a.instance_states().empty()) return "none";
  return absl::StrJoin(Sorted(a.instance_states()), " ", absl::PairFormatter("="));
}

nlohmann::json AppJson(const v1::App& a) {
  return {{"name", a.name()},
          {"status", a.status()},
          {"current_release", a.current_release() == 0 ? nlohmann::json(nullptr)
                                                       : nlohmann::json(a.current_release())},
          {"scale", Sorted(a.scale())},
          {"instance_states", Sorted(a.instance_states())},
          {"constraints", Sorted(a.constraints())},
          {"memory_bytes", a.memory_bytes()},
          {"cpus", a.cpus()},
          {"health_path", a.health_path()},
          {"strategy", a.strategy()},
          {"pinned_server",
           a.pinned_server().empty() ? nlohmann::json(nullptr) : nlohmann::json(a.pinned_server())},
          {"git_remote", a.git_remote()},
          {"url", a.url()},
          {"urls", std::vector<std::string>(a.urls().begin(), a.urls().end())},
          {"created_at", JsonTime(a.created_at_ms())}};
}

void PrintApp(const v1::App& a) {
  int64_t now = SystemClock::Get()->NowMs();
  Table t({"name", a.name()});
  t.Add({"status", a.status().empty() ? "-" : a.status()});
  // https:// for the hostnames the app's certificate covers, http:// for the others.
  if (!a.urls().empty()) {
    t.Add({"url", absl::StrJoin(a.urls(), "  ")});
  } else if (!a.url().empty()) {
    t.Add({"url", a.url()});
  }
  t.Add({"release", a.current_release() == 0 ? "none yet (dflow deploy " + a.name() + " --path DIR)"
                                             : ReleaseName(a.current_release())});
  t.Add({"scale", ScaleText(a)});
  t.Add({"instances", StatesText(a)});
  t.Add({"constraints", PairsText(Sorted(a.constraints()))});
  t.Add(
      {"memory", a.memory_bytes() == 0 ? "-" : FormatByteSize(a.memory_bytes()) + " per instance"});
  t.Add({"cpus", a.cpus() == 0 ? "-" : absl::StrCat(a.cpus(), " per instance")});
  t.Add({"health check",
         a.health_path().empty() ? "TCP connect" : absl::StrCat("HTTP GET ", a.health_path())});
  t.Add({"strategy", a.strategy().empty() ? "spread" : a.strategy()});
  if (!a.pinned_server().empty()) t.Add({"pinned to", a.pinned_server() + " (holds its data)"});
  if (!a.git_remote().empty()) t.Add({"git remote", a.git_remote()});
  t.Add({"created",
         absl::StrCat(HumanTime(a.created_at_ms()), " (", Ago(a.created_at_ms(), now), ")")});
  t.Print(std::cout);
}

struct Options {
  std::string name;
  std::vector<std::string> constraints;
  std::string memory;
  std::string cpus;
  std::string health_path;
  std::string strategy = "spread";
  std::string pin;
  std::string server;
  bool json = false;
  bool force = false;
  bool detach = false;
};

}  // namespace

void RegisterApps(CLI::App& app, Globals& g) {
  auto* apps = app.add_subcommand("apps", "Create, list, inspect and destroy apps");
  apps->require_subcommand(1);
  RegisterDomains(app, g);  // dflow domains: an app's hostnames
  auto o = std::make_shared<Options>();

  auto* create = apps->add_subcommand(
      "create", "Create an app (no release yet: ship one with `dflow deploy NAME --path DIR`)");
  create
      ->add_option("NAME", o->name,
                   "App name: 1-48 of lowercase letters, digits and '-', starting and ending "
                   "with a letter or digit")
      ->required();
  create
      ->add_option("--constraint", o->constraints,
                   "Place instances only on servers with this label, key=value (repeatable; "
                   "all must match)")
      ->type_name("KEY=VALUE");
  create
      ->add_option("--memory", o->memory,
                   "Memory reserved per instance, and its limit where the runtime enforces one "
                   "(LocalRuntime: RLIMIT_DATA; Dokku: resource:limit and resource:reserve) "
                   "(e.g. 256M, 1G; default: none reserved)")
      ->type_name("SIZE");
  create
      ->add_option("--cpus", o->cpus,
                   "CPU share reserved per instance, on Dokku also its limit (resource:limit and "
                   "resource:reserve --cpu) (e.g. 0.5; default: none reserved)")
      ->type_name("CPUS");
  create
      ->add_option("--health-path", o->health_path,
                   "HTTP path that must answer 2xx before an instance counts as up (e.g. "
                   "/health; default: a TCP connect to its port)")
      ->type_name("PATH");
  create
      ->add_option("--strategy", o->strategy,
                   "spread: instances across servers, then the least allocated; binpack: fill "
                   "servers before using more")
      ->capture_default_str()
      ->type_name("spread|binpack");
  create
      ->add_option("--pin", o->pin,
                   "Server that holds the app's data (volumes, a local service): its instances "
                   "run only there and are never moved elsewhere (default: none)")
      ->type_name("SERVER");
  create->footer("Example: dflow apps create shop --memory 256M --cpus 0.5 --health-path /health");
  create->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      v1::CreateAppRequest req;
      req.set_name(o->name);
      auto constraints = ParseConstraints(o->constraints);
      if (!constraints.ok()) return UsageError(constraints.status().message());
      req.mutable_constraints()->insert(constraints->begin(), constraints->end());
      if (!o->memory.empty()) {
        auto bytes = ParseByteSize("--memory", o->memory);
        if (!bytes.ok()) return UsageError(bytes.status().message());
        req.set_memory_bytes(*bytes);
      }
      if (!o->cpus.empty()) {
        auto cpus = ParseCpus(o->cpus);
        if (!cpus.ok()) return UsageError(cpus.status().message());
        req.set_cpus(*cpus);
      }
      if (!o->health_path.empty()) {
        if (auto s = ValidateHealthPath(o->health_path); !s.ok()) return UsageError(s.message());
        req.set_health_path(o->health_path);
      }
      if (auto s = ValidateStrategy(o->strategy); !s.ok()) return UsageError(s.message());
      req.set_strategy(o->strategy);
      req.set_pinned_server(o->pin);
      Client client(ResolveTarget(g.controller));
      auto r = client.Call(&v1::Apps::Stub::CreateApp, req);
      if (!r.ok()) return r.status();
      std::cout << "created app " << r->name() << "; ship it with `dflow deploy " << r->name()
                << " --path DIR`\n";
      return absl::OkStatus();
    };
  });

  auto* ls = apps->add_subcommand("ls", "List apps with their release, scale and status");
  ls->add_flag("--json", o->json, "Print a JSON array of app objects");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto r = client.Call(&v1::Apps::Stub::ListApps, v1::ListAppsRequest());
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& a : r->apps()) arr.push_back(AppJson(a));
        PrintJson(arr);
        return absl::OkStatus();
      }
      if (r->apps_size() == 0) {
        std::cout << "no apps yet: create one with `dflow apps create NAME`\n";
        return absl::OkStatus();
      }
      Table t({"NAME", "RELEASE", "SCALE", "INSTANCES", "STATUS"});
      for (const auto& a : r->apps()) {
        t.Add({a.name(), ReleaseName(a.current_release()), ScaleText(a), StatesText(a),
               a.status().empty() ? "-" : a.status()});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* show = apps->add_subcommand(
      "show",
      "Show an app's settings, scale, current release, instances by state and status, and its "
      "git settings (deploy branch, git url, whether a webhook secret is set, the last webhook "
      "delivery and what became of it)");
  show->add_option("NAME", o->name, "App name")->required();
  show->add_flag("--json", o->json,
                 "Print a JSON object (\"git\": branch, git_url, has_webhook_secret, "
                 "last_delivery with forge, id, sha, state, op_id, release, message)");
  show->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::GetAppRequest req;
      req.set_name(o->name);
      auto r = client.Call(&v1::Apps::Stub::GetApp, req);
      if (!r.ok()) return r.status();
      // The git settings and the last webhook delivery come from the Git service.
      if (o->json) {
        nlohmann::json j = AppJson(*r);
        if (auto s = AddAppGitJson(client, o->name, &j); !s.ok()) return s;
        PrintJson(j);
        return absl::OkStatus();
      }
      PrintApp(*r);
      return PrintAppGit(client, o->name);
    };
  });

  auto* destroy = apps->add_subcommand(
      "destroy",
      "Stop every instance of an app and delete it with its releases, config and git "
      "repository (needs --force)");
  destroy->add_option("NAME", o->name, "App name")->required();
  destroy->add_flag("--force", o->force, "Confirm: this cannot be undone");
  AddDetachFlag(destroy, o->detach);
  destroy->footer(
      "An app installed from a theme takes its install record, secrets and the services the "
      "install created with it; a service that cannot be destroyed (its server is away) is "
      "named, with the command that finishes it, and the exit code is 1. A server that is "
      "unreachable is named too: the app is removed there when it is reachable again (`dflow "
      "status` lists it until then).");
  destroy->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (!o->force) {
        return UsageError(absl::StrCat(
            "destroying \"", o->name,
            "\" stops all its instances and deletes its releases, config, source archives and "
            "git repository; "
            "this cannot be undone, so confirm with `dflow apps destroy ",
            o->name, " --force`"));
      }
      Client client(ResolveTarget(g.controller));
      v1::DestroyAppRequest req;
      req.set_name(o->name);
      auto ref = client.Call(&v1::Apps::Stub::DestroyApp, req);
      if (!ref.ok()) return ref.status();
      absl::Status followed = FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
      // An app installed from a theme takes its services with it.
      if (!followed.ok() || o->detach) return followed;
      return ReportThemeLeftovers(client, o->name);
    };
  });

  auto* pin = apps->add_subcommand(
      "pin",
      "Pin an app to the server that holds its data: its instances move there, and are never "
      "placed elsewhere (when that server is unreachable the app is reported down instead)");
  pin->add_option("NAME", o->name, "App name")->required();
  pin->add_option("SERVER", o->server, "Server name")->required();
  AddDetachFlag(pin, o->detach);
  auto* unpin = apps->add_subcommand(
      "unpin", "Let an app's instances be placed on any server that fits again");
  unpin->add_option("NAME", o->name, "App name")->required();
  AddDetachFlag(unpin, o->detach);
  for (auto* sub : {pin, unpin}) {
    sub->callback([&g, o, unpinning = sub == unpin] {
      g.action = [&g, o, unpinning]() -> absl::Status {
        if (auto s = CheckAppArg(o->name); !s.ok()) return s;
        v1::PinRequest req;
        req.set_app(o->name);
        if (!unpinning) req.set_server(o->server);
        Client client(ResolveTarget(g.controller));
        auto ref = client.Call(&v1::Apps::Stub::Pin, req);
        if (!ref.ok()) return ref.status();
        return FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
      };
    });
  }
}

}  // namespace dflow::cli
