// dflow events
#include <nlohmann/json.hpp>

#include <iostream>

#include "cli/client.h"
#include "cli/command.h"
#include "common/clock.h"

namespace dflow::cli {

void RegisterEvents(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("events", "List the controller's events, oldest first");
  struct Options {
    std::string after;
    int limit = 100;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--after", o->after, "Continuation token (<ms>_<seq>) to resume after");
  cmd->add_option("-n,--limit", o->limit, "At most this many events (1-1000)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print JSON (data + continuationToken)");
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      controller::v1::ListEventsRequest req;
      req.set_continuation_token(o->after);
      req.set_limit(o->limit);
      controller::v1::ListEventsResponse r;
      auto ctx = client.Context();
      if (auto s = client.stub()->ListEvents(ctx.get(), req, &r); !s.ok()) return client.Error(s);
      if (o->json) {
        nlohmann::json data = nlohmann::json::array();
        for (const auto& e : r.events()) {
          data.push_back({{"token", e.token()},
                          {"time", FormatRfc3339(e.time_ms())},
                          {"kind", e.kind()},
                          {"server", e.server()},
                          {"app", e.app()},
                          {"message", e.message()}});
        }
        std::cout << nlohmann::json{{"data", data},
                                    {"continuationToken", r.continuation_token()},
                                    {"hasNext", r.has_next()}}
                         .dump(2)
                  << "\n";
        return absl::OkStatus();
      }
      for (const auto& e : r.events()) {
        std::cout << FormatRfc3339(e.time_ms()) << "  " << e.kind() << "  " << e.message() << "\n";
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
