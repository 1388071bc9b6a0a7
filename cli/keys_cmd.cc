// dflow keys add NAME --file KEY.pub (--apps a,b | --all) | keys ls | keys rm NAME
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "common/files.h"
#include "dflow/controller/v1/git.grpc.pb.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string name;
  std::string file;
  std::string apps;
  bool all = false;
  bool json = false;
};

std::string AppsText(const v1::PushKey& k) {
  if (k.all_apps()) return "all apps";
  return absl::StrJoin(k.apps(), ",");
}

nlohmann::json KeyJson(const v1::PushKey& k) {
  return {{"name", k.name()},
          {"type", k.type()},
          {"fingerprint", k.fingerprint()},
          {"apps", std::vector<std::string>(k.apps().begin(), k.apps().end())},
          {"all_apps", k.all_apps()},
          {"added_at", JsonTime(k.added_at_ms())}};
}

}  // namespace

void RegisterKeys(CLI::App& app, Globals& g) {
  auto o = std::make_shared<Options>();
  auto* keys = app.add_subcommand("keys", "SSH keys that may git push to apps");
  keys->require_subcommand(1);

  auto* add = keys->add_subcommand(
      "add", "Allow an SSH public key to push to some apps (or all) over SSH as the git user");
  add->add_option("NAME", o->name, "A name for the key, e.g. alice-laptop")->required();
  add->add_option("--file", o->file, "The public key file, e.g. ~/.ssh/id_ed25519.pub")->required();
  auto* apps_opt = add->add_option("--apps", o->apps, "Comma-separated apps the key may push to");
  auto* all_opt = add->add_flag("--all", o->all, "The key may push to every app");
  apps_opt->excludes(all_opt);
  add->footer(
      "Example: dflow keys add alice --file alice.pub --apps shop,blog\nThen, on alice's "
      "machine: git remote add dflow dflow@CONTROLLER_HOST:shop && git push dflow main\n(the "
      "controller's git user and its sshd setup: deploy/git-user.sh)");
  add->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (o->apps.empty() && !o->all) return UsageError("give --apps a,b or --all");
      auto text = ReadFile(o->file);
      if (!text.ok()) return UsageError("cannot read --file " + o->file);
      v1::AddKeyRequest req;
      req.set_name(o->name);
      req.set_public_key(*text);
      req.set_all_apps(o->all);
      for (const auto& a : absl::StrSplit(o->apps, ',', absl::SkipEmpty())) {
        if (auto s = CheckAppArg(a); !s.ok()) return s;
        req.add_apps(std::string(a));
      }
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Git::NewStub(client.channel());
      v1::PushKey resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->AddKey(ctx.get(), req, &resp); !s.ok()) return client.Error(s);
      std::cout << "added key " << resp.name() << " (" << resp.type() << " " << resp.fingerprint()
                << ") for " << AppsText(resp) << "\n";
      return absl::OkStatus();
    };
  });

  auto* ls = keys->add_subcommand("ls", "List the push keys: name, type, fingerprint, apps");
  ls->add_flag("--json", o->json,
               "Print a JSON array of objects with name, type, fingerprint, apps, all_apps and "
               "added_at");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Git::NewStub(client.channel());
      v1::ListKeysResponse resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->ListKeys(ctx.get(), {}, &resp); !s.ok()) return client.Error(s);
      if (o->json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& k : resp.keys()) out.push_back(KeyJson(k));
        PrintJson(out);
        return absl::OkStatus();
      }
      Table t({"NAME", "TYPE", "FINGERPRINT", "APPS", "ADDED"});
      for (const auto& k : resp.keys()) {
        t.Add({k.name(), k.type(), k.fingerprint(), AppsText(k), HumanTime(k.added_at_ms())});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* rm = keys->add_subcommand("rm", "Remove a push key (its next push is refused)");
  rm->add_option("NAME", o->name, "Key name")->required();
  rm->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Git::NewStub(client.channel());
      v1::RemoveKeyRequest req;
      req.set_name(o->name);
      v1::RemoveKeyResponse resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->RemoveKey(ctx.get(), req, &resp); !s.ok()) {
        return client.Error(s);
      }
      std::cout << "removed key " << o->name << "\n";
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
