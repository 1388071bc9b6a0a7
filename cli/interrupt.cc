#include "cli/interrupt.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace dflow::cli {
namespace {

// The self-pipe the signal handler writes to: write(2) is async-signal-safe.
int g_signal_pipe[2] = {-1, -1};
struct sigaction g_previous;

void OnSigint(int) {
  int saved = errno;
  char byte = 1;
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

InterruptHandler::InterruptHandler(std::function<void()> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0 || pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    return;  // no handler: Ctrl-C keeps its default meaning
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_previous);
  thread_ = std::thread([this] { Loop(); });
}

InterruptHandler::~InterruptHandler() {
  if (thread_.joinable()) {
    char byte = 0;
    [[maybe_unused]] ssize_t n = write(stop_pipe_[1], &byte, 1);
    thread_.join();
    if (!interrupted_.load()) sigaction(SIGINT, &g_previous, nullptr);
  }
  for (int* fds : {g_signal_pipe, stop_pipe_}) {
    for (int i = 0; i < 2; ++i) {
      if (fds[i] >= 0) close(fds[i]);
      fds[i] = -1;
    }
  }
}

void InterruptHandler::Loop() {
  pollfd fds[2] = {{g_signal_pipe[0], POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
  while (true) {
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & (POLLIN | POLLHUP))) return;
    if (fds[0].revents & POLLIN) {
      // A second Ctrl-C ends the process the usual way.
      sigaction(SIGINT, &g_previous, nullptr);
      interrupted_.store(true);
      if (on_interrupt_) on_interrupt_();
      return;
    }
  }
}

}  // namespace dflow::cli
