// How the CLI reaches the controller: --controller, else DFLOW_CONTROLLER, else
// $DFLOW_HOME/controller/controller.sock (DFLOW_HOME defaults to ~/.dflow).
// A value with a '/' is a Unix socket path.
#ifndef DFLOW_CLI_CLIENT_H_
#define DFLOW_CLI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "dflow/controller/v1/cli.grpc.pb.h"

namespace dflow::cli {

struct Target {
  std::string address;  // "unix:/path" or "host:port"
  std::string source;   // where it came from, for error messages
};

Target ResolveTarget(const std::string& flag);

class Client {
 public:
  explicit Client(Target target);
  controller::v1::Cli::Stub* stub() { return stub_.get(); }
  // A context with the standard deadline.
  std::unique_ptr<grpc::ClientContext> Context(int seconds = 30) const;
  // Turns a failed call into a Status whose message says what to do; when the
  // controller cannot be reached, it says where the CLI looked and how to start one.
  absl::Status Error(const grpc::Status& s) const;

 private:
  Target target_;
  std::unique_ptr<controller::v1::Cli::Stub> stub_;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_CLIENT_H_
