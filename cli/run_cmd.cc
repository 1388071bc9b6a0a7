// dflow run NAME -- CMD… | dflow logs NAME
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/interrupt.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/duration.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct Options {
  std::string name;
  std::vector<std::string> argv;
  std::string timeout = "1h";
  bool follow = false;
  int lines = 100;
  std::string process;
};

// Cancels whichever call is current when Ctrl-C arrives.
struct CancelOnInterrupt {
  std::mutex mu;
  grpc::ClientContext* ctx;
  InterruptHandler handler;
  explicit CancelOnInterrupt(grpc::ClientContext* c)
      : ctx(c), handler([this] {
          std::lock_guard<std::mutex> lock(mu);
          ctx->TryCancel();
        }) {}
};

}  // namespace

void RegisterRun(CLI::App& app, Globals& g) {
  auto o = std::make_shared<Options>();

  auto* run = app.add_subcommand(
      "run",
      "Run a one-off command with the app's current release and config on one of its "
      "servers");
  run->add_option("NAME", o->name, "App name")->required();
  run->add_option("COMMAND", o->argv,
                  "The command and its arguments, after `--` (run as an argv, never by a shell)")
      ->required();
  run->add_option("--timeout", o->timeout, "Stop the command after this long (e.g. 30s, 10m, 2h)")
      ->capture_default_str()
      ->type_name("DURATION");
  run->footer(
      "Output streams as it comes; dflow exits with the command's exit code.\n\n"
      "Example: dflow run shop -- python3 manage.py migrate");
  run->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      auto timeout = ParseDuration(o->timeout);
      if (!timeout.ok() || timeout->count() <= 0) {
        return UsageError(absl::StrCat("--timeout \"", o->timeout,
                                       "\" is not a duration: use for example 30s, 10m or 2h"));
      }
      Client client(ResolveTarget(g.controller));
      v1::RunRequest req;
      req.set_app(o->name);
      for (const auto& a : o->argv) req.add_argv(a);
      req.set_timeout_ms(timeout->count());
      // The stream outlives the command by a margin so the controller reports the timeout.
      auto ctx = client.Context(static_cast<int>(timeout->count() / 1000) + 60);
      CancelOnInterrupt cancel(ctx.get());
      auto reader = client.apps()->Run(ctx.get(), req);
      v1::RunOutput out;
      bool done = false;
      int exit_code = 0;
      bool told_server = false;
      while (reader->Read(&out)) {
        if (!told_server && !out.server().empty() && StderrIsTerminal()) {
          std::cerr << "running on " << out.server() << "\n";
          told_server = true;
        }
        if (!out.data().empty()) std::cout << out.data() << std::flush;
        if (out.done()) {
          done = true;
          exit_code = out.exit_code();
        }
      }
      grpc::Status s = reader->Finish();
      if (cancel.handler.interrupted()) {
        std::cerr << "\ninterrupted (Ctrl-C): the run was cancelled\n";
        g.exit_code = 130;  // as a shell reports a command ended by SIGINT
        return absl::OkStatus();
      }
      if (!s.ok()) return client.Error(s);
      if (!done) {
        return absl::UnavailableError(
            "the controller ended the run before the command finished; its exit code is unknown");
      }
      // Codes outside 0-255 (a signal, say) cannot pass through a process exit.
      g.exit_code = exit_code >= 0 && exit_code <= 255 ? exit_code : 1;
      return absl::OkStatus();
    };
  });

  auto* logs = app.add_subcommand(
      "logs",
      "Show an app's logs merged across its servers, each line prefixed with server and "
      "instance");
  logs->add_option("NAME", o->name, "App name")->required();
  logs->add_flag("-f,--follow", o->follow, "Keep printing new lines until Ctrl-C");
  logs->add_option("-n,--lines", o->lines, "Lines of recent history to print first (0-10000)")
      ->capture_default_str();
  logs->add_option("--process", o->process, "Only this process type (e.g. web)");
  logs->footer("Lines look like: [local-1 hello-web-3k9x2a] GET / 200");
  logs->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (o->lines < 0 || o->lines > 10000) {
        return UsageError(absl::StrCat("-n ", o->lines, " is not allowed: use 0 to 10000 lines"));
      }
      if (!o->process.empty()) {
        if (auto s = ValidateProcessType(o->process); !s.ok()) return UsageError(s.message());
      }
      Client client(ResolveTarget(g.controller));
      v1::LogsRequest req;
      req.set_app(o->name);
      req.set_process(o->process);
      req.set_lines(o->lines);
      req.set_follow(o->follow);
      auto ctx = client.Context(o->follow ? 0 : 60);
      CancelOnInterrupt cancel(ctx.get());
      auto reader = client.apps()->Logs(ctx.get(), req);
      v1::LogLine line;
      while (reader->Read(&line)) {
        absl::string_view text = line.text();
        if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
        // A server's own notice (its logs unavailable) has no instance.
        std::cout << "[" << line.server() << (line.instance().empty() ? "" : " ") << line.instance()
                  << "] " << text << "\n";
        if (o->follow) std::cout << std::flush;
      }
      grpc::Status s = reader->Finish();
      if (cancel.handler.interrupted()) return absl::OkStatus();  // -f ends with Ctrl-C
      if (!s.ok()) return client.Error(s);
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
