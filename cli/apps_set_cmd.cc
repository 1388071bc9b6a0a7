// dflow apps set NAME [--branch B] [--git-url URL] [--webhook-secret-generate]
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/app_git.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "common/clock.h"
#include "dflow/controller/v1/git.grpc.pb.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string name;
  std::string branch;
  std::string git_url;
  bool generate_secret = false;
  bool json = false;
};

absl::StatusOr<v1::AppGit> GetAppGit(Client& client, const std::string& app) {
  auto stub = v1::Git::NewStub(client.channel());
  v1::GetAppGitRequest req;
  req.set_app(app);
  v1::AppGit resp;
  auto ctx = client.Context();
  if (grpc::Status s = stub->GetAppGit(ctx.get(), req, &resp); !s.ok()) return client.Error(s);
  return resp;
}

nlohmann::json DeliveryJson(const v1::AppGit& g) {
  if (!g.has_last_delivery()) return nullptr;
  const auto& d = g.last_delivery();
  return {{"forge", d.forge()},
          {"id", d.id()},
          {"sha", d.sha()},
          {"state", d.state()},
          {"op_id", d.op_id() == 0 ? nlohmann::json(nullptr) : nlohmann::json(d.op_id())},
          {"release", d.release() == 0 ? nlohmann::json(nullptr) : nlohmann::json(d.release())},
          {"message", d.message()},
          {"received_at", JsonTime(d.received_at_ms())},
          {"updated_at", JsonTime(d.updated_at_ms())}};
}

}  // namespace

absl::Status AddAppGitJson(Client& client, const std::string& app, nlohmann::json* app_json) {
  auto g = GetAppGit(client, app);
  if (!g.ok()) return g.status();
  (*app_json)["git"] = {
      {"branch", g->branch()},
      {"git_url", g->git_url().empty() ? nlohmann::json(nullptr) : nlohmann::json(g->git_url())},
      {"has_webhook_secret", g->has_webhook_secret()},
      {"last_delivery", DeliveryJson(*g)}};
  return absl::OkStatus();
}

absl::Status PrintAppGit(Client& client, const std::string& app) {
  auto g = GetAppGit(client, app);
  if (!g.ok()) return g.status();
  // Keys no wider than PrintApp's ("health check"), so both tables align.
  Table t({"git branch", g->branch() + " (pushes to it deploy)"});
  t.Add({"git url", g->git_url().empty() ? "-" : g->git_url()});
  t.Add(
      {"webhook",
       g->has_webhook_secret()
           ? absl::StrCat("secret set: POST /hooks/github?app=", app, " or /hooks/gitlab?app=", app)
           : absl::StrCat("no secret (dflow apps set ", app, " --webhook-secret-generate)")});
  if (g->has_last_delivery()) {
    const auto& d = g->last_delivery();
    std::string what = absl::StrCat(d.state(), ": ", d.forge(), " delivery ", d.id());
    if (!d.sha().empty()) absl::StrAppend(&what, ", commit ", d.sha().substr(0, 12));
    if (d.op_id() != 0) absl::StrAppend(&what, ", op ", d.op_id());
    absl::StrAppend(&what, ", ", Ago(d.updated_at_ms(), SystemClock::Get()->NowMs()));
    t.Add({"last webhook", what});
    if (!d.message().empty()) t.Add({"", d.message()});
  } else {
    t.Add({"last webhook", "-"});
  }
  t.Print(std::cout);
  return absl::OkStatus();
}

void RegisterAppsSet(CLI::App& app, Globals& g) {
  CLI::App* apps = app.get_subcommand("apps");
  auto o = std::make_shared<Options>();
  auto* set = apps->add_subcommand(
      "set", "Change an app's git settings: deploy branch, forge URL, webhook secret");
  set->add_option("NAME", o->name, "App name")->required();
  set->add_option("--branch", o->branch,
                  "The branch whose pushes deploy (default main); pushes to other branches are "
                  "stored only");
  set->add_option("--git-url", o->git_url,
                  "The forge repository a webhook delivery makes the controller fetch from "
                  "(https://, ssh://, git://, file://, an absolute path or user@host:path)");
  set->add_flag("--webhook-secret-generate", o->generate_secret,
                "Generate a new webhook secret and print it once (GitHub: the webhook's secret; "
                "GitLab: its secret token)");
  set->add_flag("--json", o->json,
                "Print a JSON object with app, branch, git_url, git_remote, has_webhook_secret "
                "and webhook_secret (null unless generated now)");
  set->footer(
      "Example: dflow apps set shop --branch production --git-url "
      "https://github.com/acme/shop.git --webhook-secret-generate");
  set->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (o->branch.empty() && o->git_url.empty() && !o->generate_secret) {
        return UsageError("give at least one of --branch, --git-url, --webhook-secret-generate");
      }
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Git::NewStub(client.channel());
      v1::SetAppGitRequest req;
      req.set_app(o->name);
      req.set_branch(o->branch);
      req.set_git_url(o->git_url);
      req.set_generate_webhook_secret(o->generate_secret);
      v1::AppGit resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->SetAppGit(ctx.get(), req, &resp); !s.ok()) return client.Error(s);
      if (o->json) {
        PrintJson({{"app", resp.app()},
                   {"branch", resp.branch()},
                   {"git_url", resp.git_url().empty() ? nlohmann::json(nullptr)
                                                      : nlohmann::json(resp.git_url())},
                   {"git_remote", resp.local_remote()},
                   {"has_webhook_secret", resp.has_webhook_secret()},
                   {"webhook_secret", resp.webhook_secret().empty()
                                          ? nlohmann::json(nullptr)
                                          : nlohmann::json(resp.webhook_secret())}});
        return absl::OkStatus();
      }
      Table t({"app", resp.app()});
      t.Add({"deploy branch", resp.branch()});
      t.Add({"git url", resp.git_url().empty() ? "-" : resp.git_url()});
      t.Add({"git remote", resp.local_remote()});
      t.Add({"webhook secret", resp.has_webhook_secret() ? "set" : "-"});
      t.Print(std::cout);
      if (!resp.webhook_secret().empty()) {
        std::cout << "\nwebhook secret (shown only now; enter it in the forge's webhook "
                     "settings):\n"
                  << resp.webhook_secret() << "\n";
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
