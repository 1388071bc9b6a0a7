// dflow ops ls | show ID | cancel ID
#include <nlohmann/json.hpp>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

nlohmann::json OptionalText(const std::string& s) {
  return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
}

nlohmann::json OpJson(const v1::Op& op, bool with_steps) {
  nlohmann::json j = {
      {"id", op.id()},
      {"app", op.app()},
      {"kind", op.kind()},
      {"state", op.state()},
      {"release", op.release() == 0 ? nlohmann::json(nullptr) : nlohmann::json(op.release())},
      {"description", op.description()},
      {"created_at", JsonTime(op.created_at_ms())},
      {"started_at", JsonTime(op.started_at_ms())},
      {"ended_at", JsonTime(op.ended_at_ms())},
      {"error", OptionalText(op.error())}};
  if (with_steps) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& s : op.steps()) {
      steps.push_back({{"index", s.index()},
                       {"kind", s.kind()},
                       {"description", s.description()},
                       {"state", s.state()},
                       {"started_at", JsonTime(s.started_at_ms())},
                       {"ended_at", JsonTime(s.ended_at_ms())},
                       {"output", s.output()},
                       {"error", OptionalText(s.error())}});
    }
    j["steps"] = std::move(steps);
  }
  return j;
}

// The first line of an error, shortened for a table cell.
std::string Brief(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 60) line = line.substr(0, 57) + "...";
  return line.empty() ? "-" : line;
}

std::string Took(int64_t start_ms, int64_t end_ms) {
  if (start_ms == 0 || end_ms == 0) return "";
  return absl::StrCat(" (", (end_ms - start_ms) / 1000.0, "s)");
}

void PrintIndented(const std::string& text, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty()) std::cout << prefix << line << "\n";
  }
}

void PrintOp(const v1::Op& op) {
  std::cout << "operation " << op.id() << ": " << op.kind() << " of " << op.app() << ", "
            << op.state() << "\n";
  Table t({"  release", ReleaseName(op.release())});
  if (!op.description().empty()) t.Add({"  description", op.description()});
  t.Add({"  created", HumanTime(op.created_at_ms())});
  t.Add({"  started", HumanTime(op.started_at_ms())});
  t.Add({"  ended", HumanTime(op.ended_at_ms()) + Took(op.started_at_ms(), op.ended_at_ms())});
  t.Print(std::cout);
  if (!op.error().empty()) {
    std::cout << "  error:\n";
    PrintIndented(op.error(), "    ");
  }
  if (op.steps_size() == 0) return;
  std::cout << "\nsteps\n";
  for (const auto& s : op.steps()) {
    std::cout << "  " << s.index() << ". [" << s.state() << "] "
              << (s.description().empty() ? s.kind() : s.description()) << "\n"
              << "     " << HumanTime(s.started_at_ms()) << " -> " << HumanTime(s.ended_at_ms())
              << Took(s.started_at_ms(), s.ended_at_ms()) << "\n";
    PrintIndented(s.output(), "     | ");
    if (!s.error().empty()) PrintIndented(s.error(), "     error: ");
  }
}

struct Options {
  std::string app;
  std::string id;
  int limit = 50;
  bool json = false;
  bool follow = false;
};

absl::StatusOr<int64_t> OpIdArg(const std::string& text) {
  auto id = ParseOpId(text);
  if (!id.ok()) return UsageError(id.status().message());
  return *id;
}

}  // namespace

void RegisterOps(CLI::App& app, Globals& g) {
  auto* ops = app.add_subcommand(
      "ops", "Durable operations (deploy, scale, config, rollback, restart, destroy)");
  ops->require_subcommand(1);
  auto o = std::make_shared<Options>();

  auto* ls = ops->add_subcommand("ls", "List operations, newest first");
  ls->add_option("--app", o->app, "Only this app's operations");
  ls->add_option("-n,--limit", o->limit, "At most this many (1-1000)")->capture_default_str();
  ls->add_flag("--json", o->json,
               "Print a JSON array of objects with id, app, kind, state, started_at, ended_at "
               "and error (times RFC 3339; null when unset)");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (!o->app.empty()) {
        if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      }
      if (o->limit < 1 || o->limit > 1000) {
        return UsageError(absl::StrCat("--limit ", o->limit, " is not allowed: use 1 to 1000"));
      }
      Client client(ResolveTarget(g.controller));
      v1::ListOpsRequest req;
      req.set_app(o->app);
      req.set_limit(o->limit);
      auto r = client.Call(&v1::Apps::Stub::ListOps, req);
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& op : r->ops()) arr.push_back(OpJson(op, false));
        PrintJson(arr);
        return absl::OkStatus();
      }
      if (r->ops_size() == 0) {
        std::cout << "no operations" << (o->app.empty() ? "" : " on " + o->app) << " yet\n";
        return absl::OkStatus();
      }
      Table t({"ID", "APP", "KIND", "STATE", "RELEASE", "STARTED", "ENDED", "ERROR"});
      for (const auto& op : r->ops()) {
        t.Add({std::to_string(op.id()), op.app(), op.kind(), op.state(), ReleaseName(op.release()),
               HumanTime(op.started_at_ms()), HumanTime(op.ended_at_ms()), Brief(op.error())});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* show = ops->add_subcommand(
      "show", "Show an operation and its steps: times, state, output and errors");
  show->add_option("ID", o->id, "Operation id (see `dflow ops ls`)")->required();
  show->add_flag("--json", o->json, "Print a JSON object with its steps");
  show->add_flag("-f,--follow", o->follow,
                 "Follow its progress until it ends (exit 1 when it fails; Ctrl-C detaches)");
  show->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      auto id = OpIdArg(o->id);
      if (!id.ok()) return id.status();
      if (o->follow && o->json) return UsageError("--follow and --json cannot be combined");
      Client client(ResolveTarget(g.controller));
      v1::GetOpRequest req;
      req.set_id(*id);
      auto op = client.Call(&v1::Apps::Stub::GetOp, req);
      if (!op.ok()) return op.status();
      if (o->json) {
        PrintJson(OpJson(*op, true));
        return absl::OkStatus();
      }
      if (o->follow) {
        std::cout << "operation " << op->id() << ": " << op->kind() << " of " << op->app() << ", "
                  << op->state() << "\n";
        v1::OpRef ref;
        ref.set_id(op->id());
        ref.set_release(op->release());
        return FollowOp(client, ref, {.app = op->app()});
      }
      PrintOp(*op);
      return absl::OkStatus();
    };
  });

  auto* cancel = ops->add_subcommand(
      "cancel", "Stop an operation and roll its app back to the release it had before");
  cancel->add_option("ID", o->id, "Operation id (see `dflow ops ls`)")->required();
  cancel->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      auto id = OpIdArg(o->id);
      if (!id.ok()) return id.status();
      Client client(ResolveTarget(g.controller));
      v1::CancelOpRequest req;
      req.set_id(*id);
      auto op = client.Call(&v1::Apps::Stub::CancelOp, req);
      if (!op.ok()) return op.status();
      if (op->state() == "succeeded" || op->state() == "failed") {
        std::cout << "operation " << op->id() << " had already ended (" << op->state()
                  << "); nothing to cancel\n";
        return absl::OkStatus();
      }
      if (OpEnded(op->state())) {
        std::cout << "operation " << op->id() << " is " << op->state() << "\n";
        return absl::OkStatus();
      }
      std::cout << "cancel requested for operation " << op->id() << " (" << op->kind() << " of "
                << op->app() << "); it is " << op->state()
                << " now; follow it with `dflow ops show " << op->id() << " --follow`\n";
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
