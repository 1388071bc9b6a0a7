// Health probes for app instances: a TCP connect, or an HTTP GET that must be
// answered with a 2xx or 3xx status. Each call is bounded by its timeout and
// reports why it failed in words ("connection to 127.0.0.1:20001 refused").
// Thread-safe (no shared state).
#ifndef DFLOW_AGENT_RUNTIME_HEALTH_CHECK_H_
#define DFLOW_AGENT_RUNTIME_HEALTH_CHECK_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace dflow::agent {

struct HttpResponse {
  int status = 0;
  std::string body;  // at most 1 MiB is kept
};

// Connects and closes. Unavailable with the reason when it cannot.
absl::Status ProbeTcp(const std::string& host, int port, std::chrono::milliseconds timeout);

// Sends `GET path HTTP/1.0` with Host and `Connection: close`, reads the answer to
// its end. Any status is returned; Unavailable when there is no valid answer.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port, const std::string& path,
                                     std::chrono::milliseconds timeout);

// The instance health check: HTTP GET `health_path` expecting 2xx/3xx when the
// path is set, a TCP connect otherwise.
absl::Status ProbeHealth(const std::string& host, int port, const std::string& health_path,
                         std::chrono::milliseconds timeout);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_HEALTH_CHECK_H_
