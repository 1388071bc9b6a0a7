#include "cli/op_watch.h"

#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/interrupt.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

// How long a dropped watch keeps trying to reach the controller again.
constexpr auto kReconnectFor = std::chrono::seconds(60);

void PrintDetachedHelp(int64_t id, absl::string_view why) {
  std::cerr << why << "; operation " << id << " keeps running\n"
            << "  follow it:  dflow ops show " << id << " --follow\n"
            << "  cancel it:  dflow ops cancel " << id << "\n";
}

}  // namespace

bool OpEnded(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" ||
         state == "rolled_back";
}

void AddDetachFlag(CLI::App* cmd, bool& detach) {
  cmd->add_flag("--detach", detach,
                "Start the operation, print its id and return at once (follow it later with "
                "`dflow ops show ID --follow`)");
}

absl::Status OpOutcome(int64_t id, const std::string& state, const std::string& error) {
  if (state == "succeeded") return absl::OkStatus();
  std::string what = state == "failed"        ? "failed"
                     : state == "cancelled"   ? "was cancelled"
                     : state == "rolled_back" ? "failed and was rolled back"
                                              : absl::StrCat("ended ", state);
  return absl::AbortedError(absl::StrCat("operation ", id, " ", what, error.empty() ? "" : ": ",
                                         error, "\nsee its steps with `dflow ops show ", id, "`"));
}

namespace {

absl::Status Finished(int64_t id, const std::string& state, const std::string& error) {
  if (state == "succeeded") std::cout << "operation " << id << " succeeded\n";
  return OpOutcome(id, state, error);
}

}  // namespace

absl::Status FollowOp(Client& client, const v1::OpRef& ref, const FollowOptions& options) {
  const int64_t id = ref.id();
  if (ref.queued_behind() != 0) {
    std::cerr << "waiting for operation " << ref.queued_behind() << " on app "
              << (options.app.empty() ? "?" : options.app) << " to finish\n";
  }
  if (id == 0) {
    // The controller recorded the change but had nothing to roll out.
    std::cout << "saved; no operation was needed\n";
    return absl::OkStatus();
  }
  if (options.detach) {
    std::cout << id << "\n";
    std::cerr << "operation " << id << " started; follow it with `dflow ops show " << id
              << " --follow`, cancel it with `dflow ops cancel " << id << "`\n";
    return absl::OkStatus();
  }

  // Ctrl-C cancels the watch call only; the operation runs on in the controller.
  std::mutex mu;
  grpc::ClientContext* current = nullptr;
  InterruptHandler interrupt([&] {
    std::lock_guard<std::mutex> lock(mu);
    if (current) current->TryCancel();
  });

  auto give_up_at = std::chrono::steady_clock::now() + kReconnectFor;
  bool told_reconnecting = false;
  while (true) {
    auto ctx = client.Context(0);
    {
      std::lock_guard<std::mutex> lock(mu);
      current = ctx.get();
      if (interrupt.interrupted()) ctx->TryCancel();
    }
    v1::WatchOpRequest req;
    req.set_id(id);
    auto reader = client.apps()->WatchOp(ctx.get(), req);
    v1::OpProgress p;
    bool done = false;
    std::string state, error;
    while (reader->Read(&p)) {
      told_reconnecting = false;
      give_up_at = std::chrono::steady_clock::now() + kReconnectFor;
      if (!p.text().empty()) {
        std::cout << p.text();
        if (p.text().back() != '\n') std::cout << "\n";
        std::cout << std::flush;
      }
      if (p.done()) {
        done = true;
        state = p.state();
        error = p.error();
        break;
      }
    }
    if (done) ctx->TryCancel();  // the server may hold the stream open; we are finished
    grpc::Status s = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu);
      current = nullptr;
    }
    if (interrupt.interrupted()) {
      std::cerr << "\n";
      PrintDetachedHelp(id, "detached (Ctrl-C)");
      return absl::OkStatus();
    }
    if (done && OpEnded(state)) return Finished(id, state, error);
    if (done || s.ok()) {
      // The stream ended without a final state: the stored operation decides.
      v1::GetOpRequest get;
      get.set_id(id);
      auto op = client.Call(&v1::Apps::Stub::GetOp, get);
      if (!op.ok()) return op.status();
      if (OpEnded(op->state())) return Finished(id, op->state(), op->error());
      // Still running: watch again after a breath.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    bool retryable = s.error_code() == grpc::StatusCode::UNAVAILABLE;
    if (!retryable || std::chrono::steady_clock::now() >= give_up_at) {
      absl::Status err = client.Error(s);
      if (retryable) {
        PrintDetachedHelp(id, "lost the controller while following");
      }
      return err;
    }
    if (!told_reconnecting) {
      std::cerr << "lost the connection to the controller (" << s.error_message()
                << "); reconnecting…\n";
      told_reconnecting = true;
    }
    // Wait a second, waking early on Ctrl-C.
    for (int i = 0; i < 10 && !interrupt.interrupted(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace dflow::cli
