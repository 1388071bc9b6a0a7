// dflow config set | unset | get | ls
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string name;
  std::vector<std::string> args;
  std::string key;
  bool json = false;
  bool detach = false;
};

// SetConfig with either pairs to set or keys to unset; follows the rollout
// when the change starts one (an app that was never deployed has none).
absl::Status ChangeConfig(Globals& g, const Options& o,
                          const std::map<std::string, std::string>& set,
                          const std::vector<std::string>& unset) {
  Client client(ResolveTarget(g.controller));
  v1::SetConfigRequest req;
  req.set_app(o.name);
  req.mutable_set()->insert(set.begin(), set.end());
  for (const auto& k : unset) req.add_unset(k);
  auto ref = client.Call(&v1::Apps::Stub::SetConfig, req);
  if (!ref.ok()) return ref.status();
  if (ref->id() == 0) {
    std::cout << "config of " << o.name
              << " saved; it takes effect with the first release (`dflow deploy " << o.name
              << " --path DIR`)\n";
    return absl::OkStatus();
  }
  if (ref->release() == 0) {  // not deployed yet: the op only saves it
    std::cerr << "saving the config of " << o.name
              << "; it takes effect at the first deploy (operation " << ref->id() << ")\n";
  } else {
    std::cerr << "rolling out " << o.name << " " << ReleaseName(ref->release())
              << " with the new config (operation " << ref->id() << ")\n";
  }
  return FollowOp(client, *ref, {.app = o.name, .detach = o.detach});
}

absl::StatusOr<std::map<std::string, std::string>> FetchConfig(Globals& g, const std::string& app) {
  Client client(ResolveTarget(g.controller));
  v1::GetConfigRequest req;
  req.set_app(app);
  auto r = client.Call(&v1::Apps::Stub::GetConfig, req);
  if (!r.ok()) return r.status();
  return Sorted(r->config());
}

}  // namespace

void RegisterConfig(CLI::App& app, Globals& g) {
  auto* config = app.add_subcommand(
      "config", "An app's environment variables; each change is a new release, rolled out");
  config->require_subcommand(1);
  config->footer(
      "Keys: letters, digits and underscores, not starting with a digit "
      "(^[A-Za-z_][A-Za-z0-9_]*$).");
  auto o = std::make_shared<Options>();

  auto* set = config->add_subcommand("set", "Set one or more variables and roll out the change");
  set->add_option("NAME", o->name, "App name")->required();
  set->add_option("KEY=VALUE", o->args,
                  "Variable and value, split at the first '=' (the value may hold spaces and "
                  "'=')")
      ->required();
  AddDetachFlag(set, o->detach);
  set->footer("Example: dflow config set hello GREETING=hi \"MOTD=a b=c\"");
  set->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      auto pairs = ParseConfigPairs(o->args);
      if (!pairs.ok()) return UsageError(pairs.status().message());
      return ChangeConfig(g, *o, *pairs, {});
    };
  });

  auto* unset = config->add_subcommand("unset", "Remove one or more variables and roll out");
  unset->add_option("NAME", o->name, "App name")->required();
  unset->add_option("KEY", o->args, "Variable to remove (repeatable)")->required();
  AddDetachFlag(unset, o->detach);
  unset->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (auto s = ValidateConfigKeys(o->args); !s.ok()) return UsageError(s.message());
      return ChangeConfig(g, *o, {}, o->args);
    };
  });

  auto* get = config->add_subcommand("get", "Print one variable's value alone (for scripts)");
  get->add_option("NAME", o->name, "App name")->required();
  get->add_option("KEY", o->key, "Variable name")->required();
  get->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (auto s = ValidateConfigKeys({o->key}); !s.ok()) return UsageError(s.message());
      auto config = FetchConfig(g, o->name);
      if (!config.ok()) return config.status();
      auto it = config->find(o->key);
      if (it == config->end()) {
        return absl::NotFoundError(absl::StrCat("config key ", o->key, " is not set on app \"",
                                                o->name, "\" (see `dflow config ls ", o->name,
                                                "`)"));
      }
      std::cout << it->second << "\n";
      return absl::OkStatus();
    };
  });

  auto* ls = config->add_subcommand("ls", "List an app's variables (the next release's config)");
  ls->add_option("NAME", o->name, "App name")->required();
  ls->add_flag("--json", o->json, "Print a JSON object of KEY: value");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      auto config = FetchConfig(g, o->name);
      if (!config.ok()) return config.status();
      if (o->json) {
        PrintJson(nlohmann::json(*config));
        return absl::OkStatus();
      }
      if (config->empty()) {
        std::cout << "no config on " << o->name << ": set some with `dflow config set " << o->name
                  << " KEY=VALUE`\n";
        return absl::OkStatus();
      }
      Table t({"KEY", "VALUE"});
      for (const auto& [k, v] : *config) t.Add({k, v});
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
