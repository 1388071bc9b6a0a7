#include "controller/agents/grpc_agent_api.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "dflow/agent/v1/agent.grpc.pb.h"

namespace dflow::agents {
namespace {

namespace av1 = agent::v1;
using std::chrono::milliseconds;

constexpr size_t kChunkBytes = 1 << 20;

std::unique_ptr<grpc::ClientContext> Deadline(milliseconds d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + d);
  return ctx;
}

AgentInstance FromProto(const av1::InstanceStatus& p) {
  return {p.id(),    p.app(),           p.process(),  p.release(),    p.port(),
          p.state(), p.started_at_ms(), p.restarts(), p.last_error(), p.output()};
}

}  // namespace

struct GrpcAgentApi::Target {
  std::string server;
  std::string address;
  std::unique_ptr<av1::Agent::Stub> stub;

  // Maps a failed call to a Status that names the server.
  absl::Status Error(const grpc::Status& s, absl::string_view what) const {
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      return absl::UnavailableError(absl::StrCat("server ", server, " (", address,
                                                 ") is unreachable during ", what, ": ",
                                                 s.error_message()));
    }
    // Errors of the Dokku runtime already say "... on server NAME".
    const bool named = absl::StrContains(s.error_message(), absl::StrCat("server ", server));
    return absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        named ? s.error_message() : absl::StrCat("on server ", server, ": ", s.error_message()));
  }
};

GrpcAgentApi::GrpcAgentApi(store::Store* store, tls::KeyAndCert identity, std::string ca_pem)
    : store_(store), identity_(std::move(identity)), ca_pem_(std::move(ca_pem)) {}

GrpcAgentApi::~GrpcAgentApi() = default;

absl::StatusOr<GrpcAgentApi::Target> GrpcAgentApi::Connect(const std::string& server) {
  auto record = store_->GetServer(server);
  if (!record.ok()) return record.status();
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard lock(mu_);
    auto& c = channels_[record->address];
    if (!c) {
      grpc::SslCredentialsOptions o{ca_pem_, identity_.key_pem, identity_.cert_pem};
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(64 << 20);
      // An agent that was down for a while comes back within a heartbeat: gRPC's
      // default reconnect backoff (up to 120 s) would keep failing calls to it.
      // (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC core reads it as the
      // minimum connect timeout, 20 s by default; 200 ms there would fail the
      // TLS handshake to an agent across a slow link at every attempt.)
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
      c = grpc::CreateCustomChannel(record->address, grpc::SslCredentials(o), args);
    } else if (c->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      // Called because the fleet says the server is there: try it now rather
      // than failing fast with the error of the last attempt.
      grpc::experimental::ChannelResetConnectionBackoff(c.get());
    }
    channel = c;
  }
  return Target{server, record->address, av1::Agent::NewStub(channel)};
}

absl::Status GrpcAgentApi::EnsureArchive(const std::string& server, const std::string& digest,
                                         const std::string& local_path) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::HasArchiveRequest has;
  has.set_digest(digest);
  av1::HasArchiveResponse has_r;
  auto ctx = Deadline(milliseconds(30000));
  if (auto s = t->stub->HasArchive(ctx.get(), has, &has_r); !s.ok()) {
    return t->Error(s, "archive check");
  }
  if (has_r.present()) return absl::OkStatus();
  int fd = open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::DataLossError(absl::StrCat("release archive ", local_path, " is missing"));
  auto put_ctx = Deadline(milliseconds(600000));
  av1::PutArchiveResponse put_r;
  auto writer = t->stub->PutArchive(put_ctx.get(), &put_r);
  std::string buf(kChunkBytes, '\0');
  bool first = true;
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    av1::ArchiveChunk chunk;
    if (first) chunk.set_digest(digest);
    first = false;
    chunk.set_data(buf.data(), n);
    if (!writer->Write(chunk)) break;
  }
  close(fd);
  writer->WritesDone();
  if (auto s = writer->Finish(); !s.ok()) return t->Error(s, "archive upload");
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> GrpcAgentApi::PrepareRelease(
    const std::string& server, const std::string& key, const PrepareSpec& spec) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::PrepareReleaseRequest req;
  req.set_idempotency_key(key);
  req.set_app(spec.app);
  req.set_version(spec.version);
  req.set_digest(spec.digest);
  req.mutable_env()->insert(spec.env.begin(), spec.env.end());
  req.set_health_path(spec.health_path);
  req.set_memory_bytes(spec.memory_bytes);
  req.set_cpus(spec.cpus);
  req.set_image(spec.image);
  av1::PrepareReleaseResponse r;
  auto ctx = Deadline(milliseconds(300000));
  if (auto s = t->stub->PrepareRelease(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, "release preparation");
  }
  return std::map<std::string, std::string>(r.processes().begin(), r.processes().end());
}

absl::StatusOr<std::string> GrpcAgentApi::RunReleaseCommand(const std::string& server,
                                                            const std::string& key,
                                                            const std::string& app, int64_t version,
                                                            milliseconds timeout) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::RunReleaseCommandRequest req;
  req.set_idempotency_key(key);
  req.set_app(app);
  req.set_version(version);
  req.set_timeout_ms(timeout.count());
  av1::CommandOutput r;
  auto ctx = Deadline(timeout + milliseconds(15000));
  if (auto s = t->stub->RunReleaseCommand(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, "the release command");
  }
  return r.output();
}

absl::StatusOr<AgentInstance> GrpcAgentApi::StartInstance(const std::string& server,
                                                          const std::string& key,
                                                          const StartSpec& spec) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::StartInstanceRequest req;
  req.set_idempotency_key(key);
  req.set_id(spec.id);
  req.set_app(spec.app);
  req.set_process(spec.process);
  req.set_release(spec.release);
  req.set_health_timeout_ms(spec.health_timeout.count());
  if (spec.progress) {
    auto ctx = Deadline(spec.health_timeout + milliseconds(15000));
    auto reader = t->stub->StartInstanceStreaming(ctx.get(), req);
    av1::StartProgress p;
    std::optional<AgentInstance> done;
    std::string printed;
    while (reader->Read(&p)) {
      if (!p.output().empty()) {
        spec.progress(p.output());
        printed += p.output();
      }
      if (p.has_status()) done = FromProto(p.status());
    }
    grpc::Status s = reader->Finish();
    if (s.ok()) {
      if (!done) {
        return absl::InternalError(absl::StrCat("server ", server, " ended the start of instance ",
                                                spec.id, " without its status"));
      }
      done->output = std::move(printed);
      return *done;
    }
    // An agent from before the streaming RPC: the unary one.
    if (s.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
      return t->Error(s, absl::StrCat("start of instance ", spec.id));
    }
  }
  av1::InstanceStatus r;
  auto ctx = Deadline(spec.health_timeout + milliseconds(15000));
  if (auto s = t->stub->StartInstance(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, absl::StrCat("start of instance ", spec.id));
  }
  return FromProto(r);
}

absl::Status GrpcAgentApi::StopInstance(const std::string& server, const std::string& key,
                                        const std::string& id, milliseconds grace) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::StopInstanceRequest req;
  req.set_idempotency_key(key);
  req.set_id(id);
  req.set_grace_ms(grace.count());
  av1::StopInstanceResponse r;
  auto ctx = Deadline(grace + milliseconds(15000));
  if (auto s = t->stub->StopInstance(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, absl::StrCat("stop of instance ", id));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<AgentInstance>> GrpcAgentApi::ListInstances(const std::string& server) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::ListInstancesResponse r;
  auto ctx = Deadline(milliseconds(10000));
  if (auto s = t->stub->ListInstances(ctx.get(), {}, &r); !s.ok()) {
    return t->Error(s, "instance listing");
  }
  std::vector<AgentInstance> out;
  for (const auto& i : r.instances()) out.push_back(FromProto(i));
  return out;
}

absl::StatusOr<std::vector<AgentLogLine>> GrpcAgentApi::Logs(const std::string& server,
                                                             const std::string& app,
                                                             const std::string& process,
                                                             int lines) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::LogsRequest req;
  req.set_app(app);
  req.set_process(process);
  req.set_lines(lines);
  av1::LogsResponse r;
  auto ctx = Deadline(milliseconds(15000));
  if (auto s = t->stub->Logs(ctx.get(), req, &r); !s.ok()) return t->Error(s, "log reading");
  std::vector<AgentLogLine> out;
  for (const auto& l : r.lines()) out.push_back({l.time_ms(), l.instance(), l.process(), l.text()});
  return out;
}

absl::StatusOr<int> GrpcAgentApi::RunOneOff(const std::string& server, const std::string& app,
                                            int64_t version, const std::vector<std::string>& argv,
                                            milliseconds timeout,
                                            const std::function<void(const std::string&)>& out) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::RunOneOffRequest req;
  req.set_app(app);
  req.set_version(version);
  for (const auto& a : argv) req.add_argv(a);
  req.set_timeout_ms(timeout.count());
  auto ctx = Deadline(timeout + milliseconds(15000));
  auto reader = t->stub->RunOneOff(ctx.get(), req);
  av1::OneOffOutput msg;
  int exit_code = -1;
  bool done = false;
  while (reader->Read(&msg)) {
    if (!msg.data().empty()) out(msg.data());
    if (msg.done()) {
      exit_code = msg.exit_code();
      done = true;
    }
  }
  if (auto s = reader->Finish(); !s.ok()) return t->Error(s, "the one-off command");
  if (!done)
    return absl::InternalError(
        absl::StrCat("server ", server, " ended the command without an exit code"));
  return exit_code;
}

absl::Status GrpcAgentApi::DestroyApp(const std::string& server, const std::string& key,
                                      const std::string& app) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::DestroyAppRequest req;
  req.set_idempotency_key(key);
  req.set_app(app);
  av1::DestroyAppResponse r;
  auto ctx = Deadline(milliseconds(120000));
  if (auto s = t->stub->DestroyApp(ctx.get(), req, &r); !s.ok()) return t->Error(s, "app removal");
  return absl::OkStatus();
}

absl::StatusOr<RoutesResult> GrpcAgentApi::SetRoutes(const std::string& server,
                                                     const RoutesSpec& routes) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::SetRoutesRequest req;
  req.set_version(routes.version);
  for (const auto& a : routes.apps) {
    auto* app = req.add_apps();
    app->set_app(a.app);
    for (const auto& h : a.hosts) app->add_hosts(h);
    for (const auto& b : a.backends) {
      auto* be = app->add_backends();
      be->set_host(b.host);
      be->set_port(b.port);
      be->set_instance(b.instance);
      be->set_server(b.server);
    }
    app->set_cert_pem(a.cert_pem);
    app->set_key_pem(a.key_pem);
  }
  av1::SetRoutesResponse r;
  auto ctx = Deadline(milliseconds(20000));
  if (auto s = t->stub->SetRoutes(ctx.get(), req, &r); !s.ok()) return t->Error(s, "routing");
  return RoutesResult{r.version(), r.listen(), r.tls_listen()};
}

absl::StatusOr<std::string> GrpcAgentApi::ChangeDokku(const std::string& server,
                                                      const std::string& key,
                                                      const DokkuChange& c) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  using K = DokkuChange::Kind;
  av1::DokkuOutput r;
  grpc::Status s;
  // Services and storage can take a while (an image pull, a restart).
  auto ctx = Deadline(milliseconds(600000));
  auto* stub = t->stub.get();
  if (c.kind == K::kAddDomain || c.kind == K::kRemoveDomain) {
    av1::AppDomainRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    req.set_host(c.host);
    s = c.kind == K::kAddDomain ? stub->AddDomain(ctx.get(), req, &r)
                                : stub->RemoveDomain(ctx.get(), req, &r);
  } else if (c.kind == K::kSetPorts) {
    av1::SetPortsRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    for (const auto& m : c.ports) req.add_maps(m);
    s = stub->SetPorts(ctx.get(), req, &r);
  } else if (c.kind == K::kMountStorage || c.kind == K::kUnmountStorage) {
    av1::StorageRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    req.set_source(c.source);
    req.set_container_dir(c.container_dir);
    req.set_chown(c.chown);
    s = c.kind == K::kMountStorage ? stub->MountStorage(ctx.get(), req, &r)
                                   : stub->UnmountStorage(ctx.get(), req, &r);
  } else if (c.kind == K::kSetCheck) {
    av1::SetCheckRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    req.set_key(c.key);
    req.set_value(c.value);
    s = stub->SetCheck(ctx.get(), req, &r);
  } else if (c.kind == K::kUnsetCheck) {
    av1::UnsetCheckRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    req.set_key(c.key);
    s = stub->UnsetCheck(ctx.get(), req, &r);
  } else if (c.kind == K::kLinkService || c.kind == K::kUnlinkService) {
    av1::LinkServiceRequest req;
    req.set_idempotency_key(key);
    req.set_kind(c.service_kind);
    req.set_name(c.service);
    req.set_app(c.app);
    req.set_split_prefix(c.split_prefix);
    s = c.kind == K::kLinkService ? stub->LinkService(ctx.get(), req, &r)
                                  : stub->UnlinkService(ctx.get(), req, &r);
  } else if (c.kind == K::kAddCert || c.kind == K::kRemoveCert) {
    av1::AppCertRequest req;
    req.set_idempotency_key(key);
    req.set_app(c.app);
    req.set_cert_pem(c.cert_pem);
    req.set_key_pem(c.key_pem);
    s = c.kind == K::kAddCert ? stub->AddCert(ctx.get(), req, &r)
                              : stub->RemoveCert(ctx.get(), req, &r);
  } else {
    av1::DestroyServiceRequest req;
    req.set_idempotency_key(key);
    req.set_kind(c.service_kind);
    req.set_name(c.service);
    s = stub->DestroyService(ctx.get(), req, &r);
  }
  if (!s.ok()) return t->Error(s, "a Dokku change");
  return r.output();
}

absl::StatusOr<ServiceResult> GrpcAgentApi::CreateService(const std::string& server,
                                                          const std::string& key,
                                                          const std::string& kind,
                                                          const std::string& name, bool expose) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::CreateServiceRequest req;
  req.set_idempotency_key(key);
  req.set_kind(kind);
  req.set_name(name);
  req.set_expose(expose);
  av1::ServiceInfo r;
  auto ctx = Deadline(milliseconds(600000));
  if (auto s = t->stub->CreateService(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, "service creation");
  }
  return ServiceResult{r.dsn(), r.exposed_port(), r.output()};
}

absl::StatusOr<ServiceResult> GrpcAgentApi::GetService(const std::string& server,
                                                       const std::string& kind,
                                                       const std::string& name) {
  auto t = Connect(server);
  if (!t.ok()) return t.status();
  av1::GetServiceRequest req;
  req.set_kind(kind);
  req.set_name(name);
  av1::ServiceInfo r;
  auto ctx = Deadline(milliseconds(60000));
  if (auto s = t->stub->GetService(ctx.get(), req, &r); !s.ok()) {
    return t->Error(s, "reading the service");
  }
  return ServiceResult{r.dsn(), r.exposed_port(), ""};
}

}  // namespace dflow::agents
