// dflow status
#include <iostream>

#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "common/clock.h"

namespace dflow::cli {

void RegisterStatus(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("status",
                                 "Controller health, fleet summary, removals waiting for a server "
                                 "to return, and recent events");
  cmd->callback([&g] {
    g.action = [&g]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      controller::v1::StatusResponse r;
      auto ctx = client.Context();
      if (auto s = client.stub()->Status(ctx.get(), {}, &r); !s.ok()) return client.Error(s);
      int64_t now = SystemClock::Get()->NowMs();
      std::cout << "controller  " << r.version() << ", up since "
                << FormatRfc3339(r.started_at_ms()) << "\n"
                << "data dir    " << r.data_dir() << "\n"
                << "agents dial " << r.agent_address() << "\n"
                << "servers     " << r.servers_total() << " total: " << r.servers_healthy()
                << " healthy, " << r.servers_unreachable() << " unreachable, "
                << r.servers_draining() << " draining\n";
      if (r.expiring_certs_size() > 0) {
        std::cout << "\ncertificates expiring within 30 days\n";
        for (const auto& c : r.expiring_certs()) {
          const bool expired = c.not_after_ms() <= now;
          std::cout << "  " << c.app() << "  " << (c.subject().empty() ? "-" : c.subject()) << "  "
                    << (expired ? "EXPIRED on " : "expires ")
                    << HumanTime(c.not_after_ms()).substr(0, 10)
                    << (expired ? ""
                                : " (in " + std::to_string((c.not_after_ms() - now) / 86'400'000) +
                                      " days)")
                    << "; replace it: dflow certs add " << c.app() << " --cert FILE --key FILE\n";
        }
      }
      if (r.pending_removals_size() > 0) {
        std::cout << "\npending removals (done when the server is reachable again)\n";
        for (const auto& p : r.pending_removals()) {
          std::cout << "  " << p.server() << ": " << p.what() << " (" << p.reason() << ", "
                    << Ago(p.created_at_ms(), now) << ")\n";
        }
      }
      if (r.recent_events_size() > 0) {
        std::cout << "\nrecent events\n";
        for (const auto& e : r.recent_events()) {
          std::cout << "  " << Ago(e.time_ms(), now) << "  " << e.kind() << "  " << e.message()
                    << "\n";
        }
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
