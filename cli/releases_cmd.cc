// dflow releases NAME | rollback NAME [vN] | restart NAME
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

nlohmann::json ReleaseJson(const v1::Release& r) {
  return {{"version", r.version()},
          {"kind", r.kind()},
          {"status", r.status()},
          {"description", r.description()},
          {"source_digest", r.source_digest()},
          {"processes", Sorted(r.processes())},
          {"created_at", JsonTime(r.created_at_ms())},
          {"created_by", r.created_by()},
          {"commit_sha", r.commit_sha()},
          {"pushed_by", r.pushed_by()}};
}

struct Options {
  std::string name;
  std::string version;
  bool json = false;
  bool detach = false;
};

}  // namespace

void RegisterReleases(CLI::App& app, Globals& g) {
  auto o = std::make_shared<Options>();

  auto* releases = app.add_subcommand("releases", "List an app's releases, newest first");
  releases->add_option("NAME", o->name, "App name")->required();
  releases->add_flag("--json", o->json,
                     "Print a JSON array of release objects (commit_sha and pushed_by are set "
                     "for releases built from git: a push or a webhook)");
  releases->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::ListReleasesRequest req;
      req.set_app(o->name);
      auto r = client.Call(&v1::Apps::Stub::ListReleases, req);
      if (!r.ok()) return r.status();
      std::vector<v1::Release> list(r->releases().begin(), r->releases().end());
      std::sort(list.begin(), list.end(),
                [](const auto& a, const auto& b) { return a.version() > b.version(); });
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& rel : list) arr.push_back(ReleaseJson(rel));
        PrintJson(arr);
        return absl::OkStatus();
      }
      if (list.empty()) {
        std::cout << "no releases of " << o->name << " yet: ship one with `dflow deploy " << o->name
                  << " --path DIR`\n";
        return absl::OkStatus();
      }
      Table t({"VERSION", "KIND", "STATUS", "CREATED", "BY", "COMMIT", "SOURCE", "DESCRIPTION"});
      for (const auto& rel : list) {
        t.Add({ReleaseName(rel.version()), rel.kind(), rel.status(), HumanTime(rel.created_at_ms()),
               rel.created_by().empty() ? "-" : rel.created_by(),
               rel.commit_sha().empty() ? "-" : rel.commit_sha().substr(0, 12),
               rel.source_digest().empty() ? "-" : rel.source_digest().substr(0, 12),
               rel.description().empty() ? "-" : rel.description()});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* rollback = app.add_subcommand(
      "rollback",
      "Roll back to an earlier release (its source, config and git commit) as a new release");
  rollback->add_option("NAME", o->name, "App name")->required();
  rollback->add_option("VERSION", o->version,
                       "Release to go back to, v3 or 3 (default: the one before the current)");
  AddDetachFlag(rollback, o->detach);
  rollback->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      v1::RollbackRequest req;
      req.set_app(o->name);
      if (!o->version.empty()) {
        auto v = ParseVersion(o->version);
        if (!v.ok()) return UsageError(v.status().message());
        req.set_version(*v);
      }
      Client client(ResolveTarget(g.controller));
      auto ref = client.Call(&v1::Apps::Stub::Rollback, req);
      if (!ref.ok()) return ref.status();
      std::cerr << "rolling back " << o->name << " to "
                << (req.version() ? ReleaseName(req.version()) : "the previous release")
                << (ref->release() ? absl::StrCat(" as ", ReleaseName(ref->release())) : "")
                << " (operation " << ref->id() << ")\n";
      return FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
    };
  });

  auto* restart =
      app.add_subcommand("restart", "Restart every instance of the app's current release");
  restart->add_option("NAME", o->name, "App name")->required();
  AddDetachFlag(restart, o->detach);
  restart->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::RestartRequest req;
      req.set_app(o->name);
      auto ref = client.Call(&v1::Apps::Stub::Restart, req);
      if (!ref.ok()) return ref.status();
      return FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
    };
  });
}

}  // namespace dflow::cli
