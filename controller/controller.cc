#include "controller/controller.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/blob_store.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/tls.h"
#include "controller/agents/fleet.h"
#include "controller/agents/grpc_agent_api.h"
#include "controller/api/agent_gateway_service.h"
#include "controller/api/apps_service.h"
#include "controller/api/cli_service.h"
#include "controller/api/dokku_service.h"
#include "controller/api/themes_service.h"
#include "controller/git/git_service.h"
#include "controller/git/hook_server.h"
#include "controller/git/keys.h"
#include "controller/git/legacy_import.h"
#include "controller/git/repos.h"
#include "controller/http/server.h"
#include "controller/http/webhooks.h"
#include "controller/ops/crash_point.h"
#include "controller/ops/engine.h"
#include "controller/ops/reconciler.h"
#include "controller/routing/routing.h"
#include "controller/store/store.h"

namespace dflow::controller {
namespace {

constexpr int kCaDays = 3650;
constexpr int kServingCertDays = 365;
constexpr size_t kMaxSocketPath = 107;

absl::StatusOr<tls::KeyAndCert> LoadCa(const std::string& dir) {
  tls::KeyAndCert ca;
  ASSIGN_OR_RETURN(ca.key_pem, ReadFile(dir + "/ca.key"));
  ASSIGN_OR_RETURN(ca.cert_pem, ReadFile(dir + "/ca.pem"));
  return ca;
}

// Issues the controller's own certificate (CN dflow-controller) naming the
// advertised host; done at every start so a changed --advertise takes effect.
absl::StatusOr<tls::KeyAndCert> IssueServingCert(const std::string& dir, const tls::KeyAndCert& ca,
                                                 const std::string& advertise) {
  std::string host;
  int port = 0;
  SplitHostPort(advertise, &host, &port);
  tls::KeyAndCert kc;
  ASSIGN_OR_RETURN(kc.key_pem, tls::GenerateKey());
  ASSIGN_OR_RETURN(std::string csr, tls::CreateCsr(kc.key_pem, tls::kControllerCommonName));
  ASSIGN_OR_RETURN(kc.cert_pem, tls::IssueCertificate(ca, csr, tls::kControllerCommonName, host,
                                                      kServingCertDays));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/controller.key", kc.key_pem, 0600));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/controller.pem", kc.cert_pem, 0644));
  return kc;
}

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

absl::StatusOr<std::string> SocketPath(const std::string& data_dir) {
  std::string path = AbsolutePath(data_dir) + "/controller.sock";
  if (path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("the CLI socket path ", path, " is ", path.size(),
                     " bytes long, but Unix sockets allow at most 107; use a shorter --data-dir"));
  }
  return path;
}

absl::Status Init(const std::string& data_dir) {
  std::string dir = AbsolutePath(data_dir);
  RETURN_IF_ERROR(SocketPath(dir).status());
  RETURN_IF_ERROR(EnsureDir(dir, 0700));
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, "dflow-controller"));
  if (FileExists(dir + "/ca.key")) {
    return absl::AlreadyExistsError(
        absl::StrCat("data dir ", dir,
                     " is already initialized (it holds a CA); start it with "
                     "`dflow-controller run --data-dir ",
                     dir, "`"));
  }
  ASSIGN_OR_RETURN(auto store, store::Store::Open(dir + "/store.db", SystemClock::Get()));
  tls::KeyAndCert ca;
  ASSIGN_OR_RETURN(ca.key_pem, tls::GenerateKey());
  ASSIGN_OR_RETURN(ca.cert_pem, tls::SelfSignedCa(ca.key_pem, "dflow CA", kCaDays));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.pem", ca.cert_pem, 0644));
  // The key last: its presence marks the directory as initialized.
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.key", ca.key_pem, 0600));
  return store->AppendEvent("controller.initialized", "", "",
                            absl::StrCat("controller data dir initialized at ", dir));
}

absl::Status Run(const RunOptions& options) {
  std::string dir = AbsolutePath(options.data_dir);
  ASSIGN_OR_RETURN(std::string socket_path, SocketPath(dir));
  if (!FileExists(dir + "/ca.key")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data dir ", dir, " is not initialized; run `dflow-controller init --data-dir ", dir,
        "` first"));
  }
  // The lock comes before anything that touches the directory's contents.
  ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(dir, "dflow-controller"));
  RETURN_IF_ERROR(ValidateHostPort(options.listen));
  std::string advertise = options.advertise.empty() ? options.listen : options.advertise;
  RETURN_IF_ERROR(ValidateHostPort(advertise));
  chmod(dir.c_str(), 0700);

  // Block the shutdown signals in every thread gRPC will start; one waits below.
  sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Clock* clock = SystemClock::Get();
  ASSIGN_OR_RETURN(auto store, store::Store::Open(dir + "/store.db", clock));
  ASSIGN_OR_RETURN(tls::KeyAndCert ca, LoadCa(dir));
  ASSIGN_OR_RETURN(tls::KeyAndCert serving, IssueServingCert(dir, ca, advertise));

  agents::FleetOptions fleet_options;
  fleet_options.heartbeat_interval = options.heartbeat_interval;
  fleet_options.lease = options.lease;
  fleet_options.grace = options.grace;
  fleet_options.tick = std::min(std::chrono::milliseconds(250), options.lease / 4);
  agents::Fleet fleet(store.get(), clock, fleet_options);
  RETURN_IF_ERROR(fleet.Load());

  // Apps: the agents' API, the op engine and the reconciler.
  ASSIGN_OR_RETURN(std::optional<ops::CrashPoint> crash, ops::CrashPointFromEnv());
  agents::GrpcAgentApi agent_api(store.get(), serving, ca.cert_pem);
  routing::RoutePusher routes(store.get(), &fleet, &agent_api, {});
  ops::EngineOptions engine_options;
  engine_options.archive_dir = dir + "/archives";
  engine_options.health_timeout = options.health_timeout;
  engine_options.wait_to_retire = options.wait_to_retire;
  engine_options.routes_changed = [&routes] { routes.PushNow(); };
  git::Repos* app_repos = nullptr;  // set below, before the engine starts
  engine_options.app_deleted = [&app_repos](const std::string& app) {
    if (app_repos == nullptr) return;
    if (auto s = app_repos->Remove(app); !s.ok()) spdlog::error("{}", s.ToString());
  };
  engine_options.crash = crash;
  engine_options.crash_marker = dir + "/test-crash-fired";
  ops::Engine engine(store.get(), &agent_api, clock, engine_options);
  ops::ReconcilerOptions reconciler_options;
  reconciler_options.grace = options.grace;
  reconciler_options.interval = std::clamp(options.grace / 4, std::chrono::milliseconds(250),
                                           std::chrono::milliseconds(2000));
  reconciler_options.reschedule_backoff =
      std::clamp(options.grace, std::chrono::milliseconds(5000), std::chrono::milliseconds(30000));
  ops::Reconciler reconciler(store.get(), &agent_api, &fleet, &engine, clock, reconciler_options);
  if (crash) spdlog::warn("DFLOW_TEST_CRASH_AT is set: this controller exits at that point");

  api::ControllerContext ctx;
  ctx.store = store.get();
  ctx.fleet = &fleet;
  ctx.clock = clock;
  ctx.ca = ca;
  ASSIGN_OR_RETURN(ctx.ca_fingerprint, tls::Fingerprint(ca.cert_pem));
  ctx.advertise_address = advertise;
  ctx.data_dir = dir;
  ctx.started_at_ms = clock->NowMs();
  ctx.engine = &engine;
  ctx.agents = &agent_api;
  ctx.archive_dir = engine_options.archive_dir;
  ctx.max_upload_bytes = options.max_upload_bytes;
  ctx.routes = &routes;
  RETURN_IF_ERROR(EnsureDir(ctx.archive_dir, 0700));
  // Git: a bare repository per app and the pre-receive hook's socket.
  std::string git_socket = options.git_socket.empty() ? dir + "/git.sock" : options.git_socket;
  git::Repos repos(options.repos_dir.empty() ? dir + "/repos" : options.repos_dir, git::SelfExe(),
                   git_socket, options.git_group);
  repos.set_safe_config(options.git_safe_config);
  RETURN_IF_ERROR(repos.Prepare());
  ctx.repos = &repos;
  app_repos = &repos;
  git::WarnIfGroupLockedOut(dir, repos, git_socket);
  ASSIGN_OR_RETURN(auto all_apps, store->ListApps());
  for (const auto& a : all_apps) RETURN_IF_ERROR(repos.Ensure(a.name));
  RETURN_IF_ERROR(git::ImportLegacyGitFiles(store.get(), dir, &repos));
  RETURN_IF_ERROR(EnsureDir(dir + "/git", 0700));
  git::Keys keys(
      store.get(),
      options.authorized_keys.empty() ? dir + "/git/authorized_keys" : options.authorized_keys,
      git::SelfExe(), git_socket);
  RETURN_IF_ERROR(keys.Load());
  git::HookServer hooks(&ctx, &repos, {git_socket, options.git_group, &keys});
  http::ServerOptions http_options;
  http_options.listen = options.http_listen;
  http_options.max_body_bytes = options.http_max_body_bytes;
  http_options.workers = options.http_workers;
  http::Server http_server(http_options);
  http::Webhooks webhooks(&ctx, &repos, options.webhook_rejected_every);
  webhooks.Register(&http_server);

  api::AgentGatewayService gateway(&ctx);
  api::CliService cli(&ctx);
  api::AppsService apps(&ctx);
  api::DokkuService dokku(&ctx);
  git::GitService git_service(&ctx, &repos, &keys);
  // Themes: the built-in catalog and custom themes (DATA/themes, archives in
  // the release blob store).
  BlobStore theme_blobs(ctx.archive_dir);
  controller_themes::ThemeCatalog theme_catalog(
      options.themes_catalog.empty() ? DFLOW_THEMES_CATALOG_DIR : options.themes_catalog, dir,
      &theme_blobs);
  controller_themes::Installer theme_installer(&ctx, &theme_catalog);
  api::ThemesService themes_service(&ctx, &theme_catalog, &theme_installer);

  // Agent API: TLS; a client certificate is optional at the handshake (Join has
  // none) but verified against the CA when present.
  grpc::SslServerCredentialsOptions tls_options(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls_options.pem_root_certs = ca.cert_pem;
  tls_options.pem_key_cert_pairs.push_back({serving.key_pem, serving.cert_pem + ca.cert_pem});
  grpc::ServerBuilder agent_builder;
  // Memory per connected agent is what bounds a controller's RSS: no BDP probe
  // growing the flow-control windows past what heartbeats and archives need.
  // (A thread quota would bound it further but makes gRPC refuse calls.)
  agent_builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  int bound_port = 0;
  agent_builder.AddListeningPort(options.listen, grpc::SslServerCredentials(tls_options),
                                 &bound_port);
  agent_builder.RegisterService(&gateway);
  std::unique_ptr<grpc::Server> agent_server = agent_builder.BuildAndStart();
  if (!agent_server || bound_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " for agents (is the port in use?); choose another --listen"));
  }

  // CLI API: a Unix socket inside the 0700 data dir.
  unlink(socket_path.c_str());  // stale from a crash; the lock proves nobody serves it
  grpc::ServerBuilder cli_builder;
  int cli_bound = 0;
  cli_builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials(),
                               &cli_bound);
  cli_builder.SetMaxReceiveMessageSize(16 << 20);  // upload chunks
  cli_builder.RegisterService(&cli);
  cli_builder.RegisterService(&apps);
  cli_builder.RegisterService(&dokku);
  cli_builder.RegisterService(&git_service);
  cli_builder.RegisterService(&themes_service);
  std::unique_ptr<grpc::Server> cli_server = cli_builder.BuildAndStart();
  if (!cli_server || cli_bound == 0) {
    agent_server->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on unix socket ", socket_path));
  }
  chmod(socket_path.c_str(), 0600);
  if (auto s = hooks.Start(); !s.ok()) {
    cli_server->Shutdown();
    agent_server->Shutdown();
    return s;
  }
  if (auto s = http_server.Start(); !s.ok()) {
    hooks.Stop();
    cli_server->Shutdown();
    agent_server->Shutdown();
    return s;
  }
  spdlog::info("HTTP (webhooks) on {}:{}",
               options.http_listen.substr(0, options.http_listen.rfind(':')), http_server.port());

  fleet.Start();
  engine.Start();  // resumes the ops a previous controller left in flight
  routes.Start();
  reconciler.Start();
  theme_installer.Start();  // finishes installs a previous controller left in flight
  spdlog::info("dflow-controller serving agents on {} (advertised as {}), CLI on {}",
               options.listen, advertise, socket_path);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  cli_server->Shutdown(deadline);
  http_server.Stop();
  webhooks.Stop();
  hooks.Stop();
  reconciler.Stop();
  theme_installer.Stop();
  engine.Stop();  // each op stops at a step boundary and resumes at the next start
  routes.Stop();
  agent_server->Shutdown(deadline);
  fleet.Stop();
  unlink(socket_path.c_str());
  spdlog::info("dflow-controller stopped");
  return absl::OkStatus();
}

}  // namespace dflow::controller
