// dflow servers join-token | ls | show | label | drain | undrain | rm
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/duration.h"
#include "common/names.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

nlohmann::json ServerJson(const v1::Server& s) {
  const auto& f = s.facts();
  return {{"name", s.name()},
          {"address", s.address()},
          {"status", s.status()},
          {"runtime", s.runtime()},
          {"labels", nlohmann::json(
                         std::map<std::string, std::string>(s.labels().begin(), s.labels().end()))},
          {"draining", s.draining()},
          {"cpus", f.cpus()},
          {"memory_total_bytes", f.memory_total_bytes()},
          {"memory_available_bytes", f.memory_available_bytes()},
          {"disk_total_bytes", f.disk_total_bytes()},
          {"disk_free_bytes", f.disk_free_bytes()},
          {"os", f.os()},
          {"agent_version", f.agent_version()},
          {"dokku_version", f.dokku_version()},
          {"last_heartbeat", FormatRfc3339(s.last_heartbeat_ms())},
          {"joined_at", FormatRfc3339(s.joined_at_ms())}};
}

// "dokku 0.38.27" for a Dokku server (the version its agent found at start),
// else the runtime's name.
std::string RuntimeText(const v1::Server& s) {
  const std::string& version = s.facts().dokku_version();
  return version.empty() ? s.runtime() : absl::StrCat(s.runtime(), " ", version);
}

std::string LabelText(const v1::Server& s) {
  std::map<std::string, std::string> sorted(s.labels().begin(), s.labels().end());
  std::vector<std::string> parts;
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

void PrintServer(const v1::Server& s) {
  int64_t now = SystemClock::Get()->NowMs();
  const auto& f = s.facts();
  Table t({"name", s.name()});
  t.Add({"status", s.status()});
  t.Add({"address", s.address()});
  t.Add({"runtime", RuntimeText(s)});
  t.Add({"labels", LabelText(s)});
  t.Add({"cpus", std::to_string(f.cpus())});
  t.Add({"memory", absl::StrCat(HumanBytes(f.memory_available_bytes()), " available of ",
                                HumanBytes(f.memory_total_bytes()))});
  t.Add({"disk", absl::StrCat(HumanBytes(f.disk_free_bytes()), " free of ",
                              HumanBytes(f.disk_total_bytes()))});
  t.Add({"os", f.os()});
  t.Add({"agent", f.agent_version()});
  t.Add({"last heartbeat", absl::StrCat(FormatRfc3339(s.last_heartbeat_ms()), " (",
                                        Ago(s.last_heartbeat_ms(), now), ")")});
  t.Add({"joined", FormatRfc3339(s.joined_at_ms())});
  t.Print(std::cout);
}

struct Options {
  std::string ttl = "1h";
  std::string name;
  bool json = false;
  bool force = false;
  std::vector<std::string> pairs;
  std::vector<std::string> remove;
};

}  // namespace

void RegisterServers(CLI::App& app, Globals& g) {
  auto* servers = app.add_subcommand("servers", "Manage the servers of the fleet");
  servers->require_subcommand(1);
  auto o = std::make_shared<Options>();

  auto* token = servers->add_subcommand(
      "join-token", "Print a one-time token for `dflow-agent join` (alone on stdout)");
  token->add_option("--ttl", o->ttl, "How long the token stays valid (1s to 7d)")
      ->capture_default_str();
  token->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      auto ttl = ParseDuration(o->ttl);
      if (!ttl.ok()) return UsageError(ttl.status().message());
      if (ttl->count() < 1000 || ttl->count() > 7 * 86'400'000LL) {
        return UsageError("--ttl must be between 1s and 7d");
      }
      Client client(ResolveTarget(g.controller));
      v1::CreateJoinTokenRequest req;
      req.set_ttl_seconds(ttl->count() / 1000);
      v1::CreateJoinTokenResponse r;
      auto ctx = client.Context();
      if (auto s = client.stub()->CreateJoinToken(ctx.get(), req, &r); !s.ok()) {
        return client.Error(s);
      }
      std::cout << r.token() << "\n";
      return absl::OkStatus();
    };
  });

  auto* ls =
      servers->add_subcommand("ls", "List servers with status, runtime, labels and capacity");
  ls->add_flag("--json", o->json, "Print a JSON array");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      v1::ListServersResponse r;
      auto ctx = client.Context();
      if (auto s = client.stub()->ListServers(ctx.get(), {}, &r); !s.ok()) return client.Error(s);
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& s : r.servers()) arr.push_back(ServerJson(s));
        std::cout << arr.dump(2) << "\n";
        return absl::OkStatus();
      }
      if (r.servers_size() == 0) {
        std::cout << "no servers yet: add one with `dflow servers join-token` and "
                     "`dflow-agent join`\n";
        return absl::OkStatus();
      }
      int64_t now = SystemClock::Get()->NowMs();
      Table t({"NAME", "STATUS", "ADDRESS", "RUNTIME", "CPUS", "MEM AVAIL", "DISK FREE", "LABELS",
               "LAST HEARTBEAT"});
      for (const auto& s : r.servers()) {
        t.Add({s.name(), s.status(), s.address(), RuntimeText(s), std::to_string(s.facts().cpus()),
               HumanBytes(s.facts().memory_available_bytes()),
               HumanBytes(s.facts().disk_free_bytes()), LabelText(s),
               Ago(s.last_heartbeat_ms(), now)});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* show = servers->add_subcommand("show", "Show one server's facts");
  show->add_option("NAME", o->name, "Server name")->required();
  show->add_flag("--json", o->json, "Print a JSON object");
  show->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      v1::GetServerRequest req;
      req.set_name(o->name);
      v1::Server r;
      auto ctx = client.Context();
      if (auto s = client.stub()->GetServer(ctx.get(), req, &r); !s.ok()) return client.Error(s);
      if (o->json) {
        std::cout << ServerJson(r).dump(2) << "\n";
      } else {
        PrintServer(r);
      }
      return absl::OkStatus();
    };
  });

  auto* label = servers->add_subcommand("label", "Set (k=v) or remove (--remove k) labels");
  label->add_option("NAME", o->name, "Server name")->required();
  label->add_option("LABELS", o->pairs, "Labels to set, k=v");
  label->add_option("--remove", o->remove, "Label key to remove (repeatable)");
  label->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      auto set = ParseLabels(o->pairs);
      if (!set.ok()) return UsageError(set.status().message());
      for (const auto& k : o->remove) {
        if (auto s = ValidateLabel(k, ""); !s.ok()) return UsageError(s.message());
      }
      if (set->empty() && o->remove.empty()) {
        return UsageError("give at least one label k=v to set, or --remove k");
      }
      Client client(ResolveTarget(g.controller));
      v1::LabelServerRequest req;
      req.set_name(o->name);
      req.mutable_set()->insert(set->begin(), set->end());
      for (const auto& k : o->remove) req.add_remove(k);
      v1::Server r;
      auto ctx = client.Context();
      if (auto s = client.stub()->LabelServer(ctx.get(), req, &r); !s.ok()) return client.Error(s);
      std::cout << r.name() << " labels: " << LabelText(r) << "\n";
      return absl::OkStatus();
    };
  });

  for (bool drain : {true, false}) {
    auto* cmd = servers->add_subcommand(drain ? "drain" : "undrain",
                                        drain ? "Stop placing anything new on a server"
                                              : "Let a drained server take placements again");
    cmd->add_option("NAME", o->name, "Server name")->required();
    cmd->callback([&g, o, drain] {
      g.action = [&g, o, drain]() -> absl::Status {
        Client client(ResolveTarget(g.controller));
        v1::SetDrainingRequest req;
        req.set_name(o->name);
        req.set_draining(drain);
        v1::Server r;
        auto ctx = client.Context();
        if (auto s = client.stub()->SetDraining(ctx.get(), req, &r); !s.ok()) {
          return client.Error(s);
        }
        std::cout << r.name() << " is " << r.status() << "\n";
        return absl::OkStatus();
      };
    });
  }

  auto* rm = servers->add_subcommand(
      "rm", "Remove a server and revoke its certificate (refused while apps are placed there)");
  rm->add_option("NAME", o->name, "Server name")->required();
  rm->add_flag("--force", o->force, "Remove even when apps are placed there");
  rm->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      v1::RemoveServerRequest req;
      req.set_name(o->name);
      req.set_force(o->force);
      v1::RemoveServerResponse r;
      auto ctx = client.Context();
      if (auto s = client.stub()->RemoveServer(ctx.get(), req, &r); !s.ok()) return client.Error(s);
      std::cout << "removed " << o->name << "; its certificate is revoked\n";
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
