// AgentService::SetRoutes: the controller's routing table into the router.
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "agent/agent_service.h"
#include "agent/router/router.h"
#include "common/grpc_status.h"

namespace dflow::agent {

grpc::Status AgentService::SetRoutes(grpc::ServerContext* context,
                                     const agent::v1::SetRoutesRequest* request,
                                     agent::v1::SetRoutesResponse* response) {
  if (auto s = CheckControllerPeer(*context); !s.ok()) return s;
  if (router_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("server ", ServerName(),
                                     " runs no router: start its agent with `dflow-agent run "
                                     "--router-listen HOST:PORT`"));
  }
  RouteTable table;
  table.version = request->version();
  for (const auto& a : request->apps()) {
    AppRoute app;
    app.app = a.app();
    app.hosts.assign(a.hosts().begin(), a.hosts().end());
    for (const auto& b : a.backends()) {
      app.backends.push_back({b.host(), b.port(), b.instance(), b.server()});
    }
    app.cert_pem = a.cert_pem();
    app.key_pem = a.key_pem();
    table.apps.push_back(std::move(app));
  }
  absl::Status s = router_->Apply(table);
  response->set_version(router_->state().version);
  response->set_listen(router_->options().listen);
  response->set_tls_listen(router_->options().tls_listen);
  if (!s.ok()) {
    return ToGrpc(
        absl::Status(s.code(), absl::StrCat("router on server ", ServerName(), ": ", s.message())));
  }
  return grpc::Status::OK;
}

}  // namespace dflow::agent
