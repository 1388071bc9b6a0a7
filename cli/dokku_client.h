// Calls on the controller's Dokku service (dokku.proto) for the CLI's Dokku
// commands (ports, storage, checks, services, deploy --image).
#ifndef DFLOW_CLI_DOKKU_CLIENT_H_
#define DFLOW_CLI_DOKKU_CLIENT_H_

#include "cli/client.h"
#include "cli/command.h"
#include "dflow/controller/v1/dokku.grpc.pb.h"

// Input refused before anything is sent is a usage error (exit 2).
#define RETURN_IF_USAGE(expr)                         \
  do {                                                \
    if (absl::Status usage_ = (expr); !usage_.ok()) { \
      return UsageError(usage_.message());            \
    }                                                 \
  } while (0)

namespace dflow::cli {

template <typename Req, typename Resp>
absl::StatusOr<Resp> CallDokku(
    Client& client,
    grpc::Status (controller::v1::Dokku::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
    const Req& req, int seconds = 30) {
  auto stub = controller::v1::Dokku::NewStub(client.channel());
  Resp resp;
  auto ctx = client.Context(seconds);
  if (grpc::Status s = (stub.get()->*method)(ctx.get(), req, &resp); !s.ok()) {
    return client.Error(s);
  }
  return resp;
}

}  // namespace dflow::cli

#endif  // DFLOW_CLI_DOKKU_CLIENT_H_
