// Ctrl-C as an event rather than death: while an InterruptHandler lives, the
// first SIGINT calls `on_interrupt` on a helper thread (typically to cancel a
// gRPC call so the main thread can say what happens next) and restores the
// default disposition, so a second Ctrl-C ends the process as usual.
//
// One handler at a time per process; the destructor restores the previous
// disposition and joins the helper thread.
#ifndef DFLOW_CLI_INTERRUPT_H_
#define DFLOW_CLI_INTERRUPT_H_

#include <atomic>
#include <functional>
#include <thread>

namespace dflow::cli {

class InterruptHandler {
 public:
  explicit InterruptHandler(std::function<void()> on_interrupt);
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

  // Whether SIGINT arrived (set before `on_interrupt` runs).
  bool interrupted() const { return interrupted_.load(); }

 private:
  void Loop();

  std::function<void()> on_interrupt_;
  std::atomic<bool> interrupted_{false};
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_INTERRUPT_H_
