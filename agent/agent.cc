#include "agent/agent.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/agent_config.h"
#include "agent/agent_service.h"
#include "agent/facts.h"
#include "agent/router/router.h"
#include "agent/runtime/dokku_runtime.h"
#include "agent/runtime/local_runtime.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/join_token.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "dflow/controller/v1/agent_gateway.grpc.pb.h"

namespace dflow::agent {
namespace {

namespace cv1 = controller::v1;

constexpr int kFetchTimeoutMs = 10000;

// Finds the CA certificate among those the controller presented: the one whose
// fingerprint the token carries. The leaf must be issued by it.
absl::StatusOr<std::string> TrustedCaFromChain(const JoinToken& token) {
  ASSIGN_OR_RETURN(std::string chain,
                   tls::FetchPeerChain(token.controller_address, kFetchTimeoutMs));
  std::vector<std::string> certs = tls::SplitPemCertificates(chain);
  for (const auto& cert : certs) {
    auto fp = tls::Fingerprint(cert);
    if (fp.ok() && *fp == token.ca_fingerprint) {
      RETURN_IF_ERROR(tls::VerifyIssuedBy(certs.front(), cert));
      return cert;
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "the server at ", token.controller_address,
      " did not present the CA named in the join token (fingerprint mismatch); it is not the "
      "controller that made the token, so nothing was sent to it"));
}

std::shared_ptr<grpc::Channel> ControllerChannel(const std::string& address,
                                                 const std::string& ca_pem,
                                                 const std::string& key_pem,
                                                 const std::string& cert_pem) {
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = ca_pem;
  opts.pem_private_key = key_pem;
  opts.pem_cert_chain = cert_pem;
  // gRPC's default reconnect backoff grows to 120 s: after a long controller
  // outage the agent would stay away long after the controller is back, its
  // lease would run out and its instances be replaced. A new attempt at most
  // every second. (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is left alone: gRPC core
  // reads it as the minimum connect timeout, 20 s, which a slow link needs.)
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(opts), args);
}

}  // namespace

absl::Status Join(const JoinOptions& options) {
  std::string dir = AbsolutePath(options.data_dir);
  RETURN_IF_ERROR(ValidateServerName(options.name));
  RETURN_IF_ERROR(ValidateHostPort(options.listen));
  std::string advertise = options.advertise.empty() ? options.listen : options.advertise;
  RETURN_IF_ERROR(ValidateHostPort(advertise));
  ASSIGN_OR_RETURN(JoinToken token, DecodeJoinToken(options.token));
  RETURN_IF_ERROR(EnsureDir(dir, 0700));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, "dflow-agent"));
  if (FileExists(dir + "/agent.json")) {
    auto existing = LoadConfig(dir);
    return absl::AlreadyExistsError(absl::StrCat("data dir ", dir, " already belongs to server \"",
                                                 existing.ok() ? existing->name : "?",
                                                 "\"; use another --data-dir or start it with "
                                                 "`dflow-agent run --data-dir ",
                                                 dir, "`"));
  }

  ASSIGN_OR_RETURN(std::string ca_pem, TrustedCaFromChain(token));
  ASSIGN_OR_RETURN(std::string key_pem, tls::GenerateKey());
  ASSIGN_OR_RETURN(
      std::string csr,
      tls::CreateCsr(key_pem, absl::StrCat(tls::kAgentCommonNamePrefix, options.name)));

  cv1::JoinRequest request;
  request.set_token(options.token);
  request.set_name(options.name);
  request.set_address(advertise);
  request.set_csr_pem(csr);
  request.mutable_labels()->insert(options.labels.begin(), options.labels.end());
  *request.mutable_facts() = CollectFacts(dir, options.runtime);
  cv1::JoinResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stub = cv1::AgentGateway::NewStub(
      grpc::CreateChannel(token.controller_address, grpc::SslCredentials({ca_pem, "", ""})));
  grpc::Status status = stub->Join(&ctx, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("the controller at ", token.controller_address,
                                     " refused to join: ", status.error_message()));
  }
  RETURN_IF_ERROR(tls::VerifyIssuedBy(response.certificate_pem(), ca_pem));
  RETURN_IF_ERROR(tls::KeyMatchesCertificate(key_pem, response.certificate_pem()));

  RETURN_IF_ERROR(WriteFileAtomic(dir + "/key.pem", key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/cert.pem", response.certificate_pem(), 0600));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.pem", ca_pem, 0644));
  AgentConfig config{options.name, token.controller_address, options.listen,
                     advertise,    options.runtime,          options.labels};
  return SaveConfig(dir, config);
}

namespace {

// Sends heartbeats until stopped. Stops the process (via `fatal`) when the
// controller refuses this agent's certificate.
class Heartbeater {
 public:
  Heartbeater(std::string dir, AgentConfig config, std::shared_ptr<grpc::Channel> channel)
      : dir_(std::move(dir)),
        config_(std::move(config)),
        stub_(cv1::AgentGateway::NewStub(channel)) {}

  AgentConfig config() {
    std::lock_guard lock(mu_);
    return config_;
  }

  // Returns the error that made it stop, or OK after Stop().
  absl::Status Loop() {
    int64_t interval_ms = 1000;  // until the controller says otherwise
    int failures = 0;
    std::chrono::steady_clock::time_point last_warning;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      cv1::HeartbeatRequest request;
      AgentConfig snapshot = config();
      *request.mutable_facts() = CollectFacts(dir_, snapshot.runtime, snapshot.dokku_version);
      request.mutable_labels()->insert(snapshot.labels.begin(), snapshot.labels.end());
      cv1::HeartbeatResponse response;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status s = stub_->Heartbeat(&ctx, request, &response);
      if (s.ok()) {
        if (failures > 0) {
          spdlog::info("controller at {} reachable again after {} failed heartbeat(s)",
                       snapshot.controller, failures);
        }
        failures = 0;
        if (response.interval_ms() > 0) interval_ms = response.interval_ms();
        UpdateLabels(response);
      } else if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
                 s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
        return absl::PermissionDeniedError(absl::StrCat(
            "the controller at ", snapshot.controller, " refused server \"", snapshot.name, "\" (",
            grpc::StatusCode(s.error_code()) == grpc::StatusCode::PERMISSION_DENIED
                ? "PERMISSION_DENIED"
                : "UNAUTHENTICATED",
            ": ", s.error_message(), ")"));
      } else {
        // The first failure, then one line every 30 s while it lasts.
        auto now = std::chrono::steady_clock::now();
        if (++failures == 1 || now - last_warning > std::chrono::seconds(30)) {
          last_warning = now;
          spdlog::warn(
              "heartbeat to controller at {} failed ({}: {}); retrying every {} ms ({} "
              "attempt(s) so far)",
              snapshot.controller, static_cast<int>(s.error_code()), s.error_message(), interval_ms,
              failures);
        }
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(interval_ms), [this] { return stopping_; });
    }
    return absl::OkStatus();
  }

  void Stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

 private:
  void UpdateLabels(const cv1::HeartbeatResponse& response) {
    std::map<std::string, std::string> labels(response.labels().begin(), response.labels().end());
    std::lock_guard lock(mu_);
    if (labels == config_.labels) return;
    config_.labels = labels;
    if (auto s = SaveConfig(dir_, config_); !s.ok()) {
      spdlog::error("cannot save labels: {}", s.ToString());
    }
  }

  std::string dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  AgentConfig config_;
  std::unique_ptr<cv1::AgentGateway::Stub> stub_;
};

}  // namespace

namespace {

// --router-listen / --router-tls-listen given to `run` replace what agent.json holds.
absl::Status UpdateRouterConfig(const std::string& dir, const RunOptions& options,
                                AgentConfig* config) {
  bool changed = false;
  auto take = [&](const std::string& flag, const std::string& value, std::string* field) {
    if (value.empty()) return absl::OkStatus();
    std::string next = value == "off" ? "" : value;
    if (!next.empty()) {
      if (auto s = ValidateHostPort(next); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
      }
    }
    changed = changed || next != *field;
    *field = next;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(take("--router-listen", options.router_listen, &config->router_listen));
  RETURN_IF_ERROR(
      take("--router-tls-listen", options.router_tls_listen, &config->router_tls_listen));
  return changed ? SaveConfig(dir, *config) : absl::OkStatus();
}

}  // namespace

absl::Status Run(const RunOptions& options) {
  std::string dir = AbsolutePath(options.data_dir);
  ASSIGN_OR_RETURN(AgentConfig config, LoadConfig(dir));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, "dflow-agent"));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(dir + "/key.pem"));
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(dir + "/cert.pem"));
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(dir + "/ca.pem"));
  RETURN_IF_ERROR(UpdateRouterConfig(dir, options, &config));
  // --runtime and --dokku-bin are kept in agent.json for later runs.
  if ((!options.runtime.empty() && options.runtime != config.runtime) ||
      (!options.dokku_bin.empty() && options.dokku_bin != config.dokku_bin)) {
    if (!options.runtime.empty()) config.runtime = options.runtime;
    if (!options.dokku_bin.empty()) config.dokku_bin = options.dokku_bin;
    RETURN_IF_ERROR(SaveConfig(dir, config));
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Opened after the signal mask is set, so its supervisor thread inherits it.
  // Instances left running by an earlier agent are re-adopted here.
  std::unique_ptr<Runtime> runtime;
  if (config.runtime == "local") {
    LocalRuntimeOptions runtime_options;
    runtime_options.data_dir = dir;
    runtime_options.server_name = config.name;
    // Instances listen on the server's address, where the routers reach them.
    runtime_options.instance_host = InstanceHost(config);
    if (!runtime_options.instance_host.empty()) {
      runtime_options.probe_host = runtime_options.instance_host;
    }
    ASSIGN_OR_RETURN(std::unique_ptr<LocalRuntime> local,
                     LocalRuntime::Open(std::move(runtime_options)));
    spdlog::info("local runtime ready: {} instance(s) alive", local->LiveInstanceCount());
    runtime = std::move(local);
  } else if (config.runtime == "dokku") {
    // Detects the Dokku version and refuses one older than dflow supports.
    ASSIGN_OR_RETURN(
        std::unique_ptr<DokkuRuntime> dokku,
        DokkuRuntime::Open(
            {.data_dir = dir,
             .server_name = config.name,
             .dokku_binary = config.dokku_bin.empty() ? std::string("dokku") : config.dokku_bin}));
    config.dokku_version = dokku->version().ToString();
    spdlog::info("dokku runtime ready: Dokku {}", config.dokku_version);
    runtime = std::move(dokku);
  } else {
    spdlog::warn("runtime \"{}\" is not available in this agent; app requests will be refused",
                 config.runtime);
  }

  Heartbeater heartbeater(dir, config,
                          ControllerChannel(config.controller, ca_pem, key_pem, cert_pem));
  AgentService service(
      dir, [&heartbeater] { return heartbeater.config(); }, runtime.get());
  std::unique_ptr<Router> router;
  if (!config.router_listen.empty()) {
    ASSIGN_OR_RETURN(router, Router::Start({.dir = dir + "/router",
                                            .listen = config.router_listen,
                                            .tls_listen = config.router_tls_listen}));
    service.set_router(router.get());
  }

  // Only the controller may call: a client certificate signed by the CA is
  // required at the handshake, and each RPC checks it is the controller's.
  grpc::SslServerCredentialsOptions tls_options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls_options.pem_root_certs = ca_pem;
  tls_options.pem_key_cert_pairs.push_back({key_pem, cert_pem});
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(config.listen, grpc::SslServerCredentials(tls_options), &bound);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (is the port in use?)"));
  }
  spdlog::info("dflow-agent {} serving on {}, controller {}", config.name, config.listen,
               config.controller);

  absl::Status result = absl::OkStatus();
  std::thread beat([&] {
    result = heartbeater.Loop();
    if (!result.ok()) kill(getpid(), SIGTERM);  // wakes sigwait below
  });
  int sig = 0;
  sigwait(&signals, &sig);
  heartbeater.Stop();
  beat.join();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  spdlog::info("dflow-agent {} stopped", config.name);
  return result;
}

}  // namespace dflow::agent
