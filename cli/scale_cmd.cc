// dflow scale NAME TYPE=COUNT… | dflow ps NAME
#include <nlohmann/json.hpp>

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

nlohmann::json InstanceJson(const v1::Instance& i) {
  return {{"id", i.id()},
          {"process", i.process()},
          {"server", i.server()},
          {"state", i.state()},
          {"port", i.port()},
          {"release", i.release()},
          {"started_at", JsonTime(i.started_at_ms())},
          {"address", i.address().empty() ? nlohmann::json(nullptr) : nlohmann::json(i.address())}};
}

struct Options {
  std::string name;
  std::vector<std::string> pairs;
  bool json = false;
  bool detach = false;
};

}  // namespace

void RegisterScale(CLI::App& app, Globals& g) {
  auto o = std::make_shared<Options>();

  auto* scale = app.add_subcommand(
      "scale", "Set how many instances of each process type run (placed across the servers)");
  scale->add_option("NAME", o->name, "App name")->required();
  scale
      ->add_option("TYPE=COUNT", o->pairs,
                   "Process type from the Procfile and its instance count, 0 to 1000 (e.g. "
                   "web=2 worker=1)")
      ->required();
  AddDetachFlag(scale, o->detach);
  scale->footer(
      "Types not named keep their count; 0 stops a type. Example: dflow scale shop web=4 worker=1");
  scale->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      auto counts = ParseScale(o->pairs);
      if (!counts.ok()) return UsageError(counts.status().message());
      if (counts->empty()) return UsageError("give at least one TYPE=COUNT (for example web=2)");
      Client client(ResolveTarget(g.controller));
      v1::ScaleRequest req;
      req.set_app(o->name);
      req.mutable_scale()->insert(counts->begin(), counts->end());
      auto ref = client.Call(&v1::Apps::Stub::Scale, req);
      if (!ref.ok()) return ref.status();
      return FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
    };
  });

  auto* ps = app.add_subcommand("ps", "List an app's instances: server, state, port, release");
  ps->add_option("NAME", o->name, "App name")->required();
  ps->add_flag("--json", o->json,
               "Print a JSON array of objects with id, process, server, state, port, release, "
               "started_at (RFC 3339 or null) and address");
  ps->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::ListInstancesRequest req;
      req.set_app(o->name);
      auto r = client.Call(&v1::Apps::Stub::ListInstances, req);
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& i : r->instances()) arr.push_back(InstanceJson(i));
        PrintJson(arr);
        return absl::OkStatus();
      }
      if (r->instances_size() == 0) {
        std::cout << "no instances of " << o->name
                  << ": deploy it with `dflow deploy`, or scale it with `dflow scale " << o->name
                  << " web=1`\n";
        return absl::OkStatus();
      }
      Table t({"ID", "PROCESS", "SERVER", "STATE", "PORT", "RELEASE", "STARTED", "ADDRESS"});
      for (const auto& i : r->instances()) {
        t.Add({i.id(), i.process(), i.server().empty() ? "-" : i.server(), i.state(),
               i.port() == 0 ? "-" : std::to_string(i.port()), ReleaseName(i.release()),
               HumanTime(i.started_at_ms()), i.address().empty() ? "-" : i.address()});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
