// How the CLI reaches the controller: --controller, else DFLOW_CONTROLLER, else
// $DFLOW_HOME/controller/controller.sock (DFLOW_HOME defaults to ~/.dflow).
// A value with a '/' is a Unix socket path.
//
// One Client holds one channel and the stubs of both services on it (Cli and
// Apps); commands create them here and nowhere else.
#ifndef DFLOW_CLI_CLIENT_H_
#define DFLOW_CLI_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dflow/controller/v1/apps.grpc.pb.h"
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
  controller::v1::Apps::Stub* apps() { return apps_.get(); }
  // The channel, for stubs of other services (each command group makes its own).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // A context with a deadline `seconds` from now; 0 or less: no deadline (for
  // streams that last as long as the user watches).
  std::unique_ptr<grpc::ClientContext> Context(int seconds = 30) const;
  // Turns a failed call into a Status whose message says what to do; when the
  // controller cannot be reached, it says where the CLI looked and how to start one.
  // Any other error carries the server's code and message as they are.
  absl::Status Error(const grpc::Status& s) const;

  // One unary call on the Apps service with the standard deadline:
  //   auto app = client.Call(&controller::v1::Apps::Stub::GetApp, req);
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (controller::v1::Apps::Stub::*method)(grpc::ClientContext*,
                                                                               const Req&, Resp*),
                            const Req& req, int seconds = 30) {
    Resp resp;
    auto ctx = Context(seconds);
    if (grpc::Status s = (apps_.get()->*method)(ctx.get(), req, &resp); !s.ok()) return Error(s);
    return resp;
  }

 private:
  Target target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<controller::v1::Cli::Stub> stub_;
  std::unique_ptr<controller::v1::Apps::Stub> apps_;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_CLIENT_H_
