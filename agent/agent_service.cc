#include "agent/agent_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/facts.h"
#include "agent/runtime/runtime.h"
#include "common/dokku_names.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/tls.h"

namespace dflow::agent {
namespace {

namespace av1 = agent::v1;
using std::chrono::milliseconds;

constexpr size_t kMaxReturnedOutput = 1 << 20;

// The request's value, or `fallback` when unset (0), at most `max`.
milliseconds Timeout(int64_t ms, milliseconds fallback, milliseconds max) {
  if (ms <= 0) return fallback;
  return std::min(milliseconds(ms), max);
}

absl::Status ValidateDigest(const std::string& digest) {
  bool ok = digest.size() == 64;
  for (char c : digest) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "archive digest \"", digest, "\" is not a SHA-256 in lowercase hex (64 characters)"));
}

void ToProto(const InstanceStatus& s, av1::InstanceStatus* p) {
  p->set_id(s.id);
  p->set_app(s.app);
  p->set_process(s.process);
  p->set_release(s.release);
  p->set_port(s.port);
  p->set_pid(s.pid);
  p->set_state(InstanceStateName(s.state));
  p->set_started_at_ms(s.started_at_ms);
  p->set_restarts(s.restarts);
  p->set_last_error(s.last_error);
  p->set_output(s.output);
}

// Keeps the last kMaxReturnedOutput bytes of streamed output.
struct OutputTail {
  std::string text;
  void Add(const std::string& chunk) {
    text += chunk;
    if (text.size() > 2 * kMaxReturnedOutput) text.erase(0, text.size() - kMaxReturnedOutput);
  }
  std::string Take() {
    if (text.size() > kMaxReturnedOutput) text.erase(0, text.size() - kMaxReturnedOutput);
    return std::move(text);
  }
};

}  // namespace

grpc::Status CheckControllerPeer(const grpc::ServerContext& context) {
  if (PeerCommonName(context) != tls::kControllerCommonName) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this agent accepts requests only from its controller");
  }
  return grpc::Status::OK;
}

AgentService::AgentService(std::string data_dir, std::function<AgentConfig()> config,
                           Runtime* runtime, int64_t max_archive_bytes)
    : data_dir_(std::move(data_dir)),
      config_(std::move(config)),
      runtime_(runtime),
      max_archive_bytes_(max_archive_bytes),
      archives_(data_dir_ + "/archives") {}

std::string AgentService::ServerName() const { return config_().name; }

grpc::Status AgentService::Ready(const grpc::ServerContext& context, const char* rpc,
                                 const std::string& key) {
  if (auto s = CheckControllerPeer(context); !s.ok()) return s;
  if (runtime_ == nullptr) {
    AgentConfig config = config_();
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("server ", config.name, " runs the \"", config.runtime,
                                     "\" runtime, which this agent cannot drive yet"));
  }
  if (!key.empty()) spdlog::info("{} (idempotency key {})", rpc, key);
  return grpc::Status::OK;
}

grpc::Status AgentService::Describe(grpc::ServerContext* context, const av1::DescribeRequest*,
                                    av1::DescribeResponse* response) {
  if (auto s = CheckControllerPeer(*context); !s.ok()) return s;
  AgentConfig config = config_();
  response->set_name(config.name);
  *response->mutable_facts() = CollectFacts(data_dir_, config.runtime, config.dokku_version);
  response->mutable_labels()->insert(config.labels.begin(), config.labels.end());
  return grpc::Status::OK;
}

grpc::Status AgentService::HasArchive(grpc::ServerContext* context,
                                      const av1::HasArchiveRequest* request,
                                      av1::HasArchiveResponse* response) {
  if (auto s = CheckControllerPeer(*context); !s.ok()) return s;
  if (auto s = ValidateDigest(request->digest()); !s.ok()) return ToGrpc(s);
  response->set_present(archives_.Has(request->digest()));
  return grpc::Status::OK;
}

grpc::Status AgentService::PutArchive(grpc::ServerContext* context,
                                      grpc::ServerReader<av1::ArchiveChunk>* reader,
                                      av1::PutArchiveResponse* response) {
  if (auto s = CheckControllerPeer(*context); !s.ok()) return s;
  av1::ArchiveChunk chunk;
  if (!reader->Read(&chunk)) {
    return ToGrpc(absl::InvalidArgumentError(
        "the archive upload was empty: its first chunk must carry the digest"));
  }
  const std::string digest = chunk.digest();
  if (auto s = ValidateDigest(digest); !s.ok()) return ToGrpc(s);
  if (archives_.Has(digest)) {  // already here (e.g. a retried upload): read and drop the rest
    while (reader->Read(&chunk)) {
    }
    std::error_code ec;
    response->set_size_bytes(
        static_cast<int64_t>(std::filesystem::file_size(archives_.Path(digest), ec)));
    return grpc::Status::OK;
  }
  auto writer = archives_.NewWriter(max_archive_bytes_);
  if (!writer.ok()) return ToGrpc(writer.status());
  do {
    if (!chunk.digest().empty() && chunk.digest() != digest) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
          "the archive upload changed digest midway (", digest, " then ", chunk.digest(), ")")));
    }
    if (auto s = (*writer)->Append(chunk.data()); !s.ok()) {
      return ToGrpc(
          absl::Status(s.code(), absl::StrCat("server ", ServerName(), ": ", s.message())));
    }
  } while (reader->Read(&chunk));
  auto committed = (*writer)->Commit(digest);
  if (!committed.ok()) {
    return ToGrpc(absl::Status(committed.status().code(),
                               absl::StrCat("server ", ServerName(), " received a damaged upload: ",
                                            committed.status().message())));
  }
  response->set_size_bytes((*writer)->size());
  return grpc::Status::OK;
}

grpc::Status AgentService::PrepareRelease(grpc::ServerContext* context,
                                          const av1::PrepareReleaseRequest* request,
                                          av1::PrepareReleaseResponse* response) {
  if (auto s = Ready(*context, "PrepareRelease", request->idempotency_key()); !s.ok()) return s;
  if (auto s = ValidateAppName(request->app()); !s.ok()) return ToGrpc(s);
  if (request->image().empty()) {
    if (auto s = ValidateDigest(request->digest()); !s.ok()) return ToGrpc(s);
  } else if (auto s = ValidatePinnedImage(request->image()); !s.ok()) {
    return ToGrpc(s);
  }
  ReleaseSpec spec{
      .app = request->app(),
      .version = request->version(),
      .archive_path = request->image().empty() ? archives_.Path(request->digest()) : "",
      .source_digest = request->digest(),
      .env = {request->env().begin(), request->env().end()},
      .health_path = request->health_path(),
      .memory_bytes = request->memory_bytes(),
      .cpus = request->cpus(),
      .image = request->image()};
  for (const auto& [key, value] : spec.env) {
    if (auto s = ValidateEnvKey(key); !s.ok()) return ToGrpc(s);
  }
  OutputTail out;
  absl::Status s = runtime_->PrepareRelease(spec, [&](const std::string& t) { out.Add(t); });
  if (!s.ok()) return ToGrpc(NeedsDokku(s));
  auto processes = runtime_->Processes(spec.app, spec.version);
  if (!processes.ok()) return ToGrpc(processes.status());
  response->mutable_processes()->insert(processes->begin(), processes->end());
  response->set_output(out.Take());
  return grpc::Status::OK;
}

grpc::Status AgentService::RunReleaseCommand(grpc::ServerContext* context,
                                             const av1::RunReleaseCommandRequest* request,
                                             av1::CommandOutput* response) {
  if (auto s = Ready(*context, "RunReleaseCommand", request->idempotency_key()); !s.ok()) return s;
  OutputTail out;
  absl::Status s = runtime_->RunReleaseCommand(
      request->app(), request->version(),
      Timeout(request->timeout_ms(), std::chrono::minutes(10), std::chrono::hours(2)),
      [&](const std::string& t) { out.Add(t); });
  if (!s.ok()) return ToGrpc(s);
  response->set_output(out.Take());
  return grpc::Status::OK;
}

grpc::Status AgentService::StartInstance(grpc::ServerContext* context,
                                         const av1::StartInstanceRequest* request,
                                         av1::InstanceStatus* response) {
  if (auto s = Ready(*context, "StartInstance", request->idempotency_key()); !s.ok()) return s;
  InstanceSpec spec{.id = request->id(),
                    .app = request->app(),
                    .process = request->process(),
                    .release = request->release(),
                    .port = request->port()};
  auto status = runtime_->StartInstance(
      spec,
      Timeout(request->health_timeout_ms(), std::chrono::seconds(30), std::chrono::minutes(10)));
  if (!status.ok()) return ToGrpc(status.status());
  ToProto(*status, response);
  return grpc::Status::OK;
}

grpc::Status AgentService::StartInstanceStreaming(grpc::ServerContext* context,
                                                  const av1::StartInstanceRequest* request,
                                                  grpc::ServerWriter<av1::StartProgress>* writer) {
  if (auto s = Ready(*context, "StartInstance", request->idempotency_key()); !s.ok()) return s;
  InstanceSpec spec{.id = request->id(),
                    .app = request->app(),
                    .process = request->process(),
                    .release = request->release(),
                    .port = request->port()};
  auto status = runtime_->StartInstanceStreaming(
      spec,
      Timeout(request->health_timeout_ms(), std::chrono::seconds(30), std::chrono::minutes(10)),
      [&](const std::string& chunk) {
        av1::StartProgress p;
        p.set_output(chunk);
        writer->Write(p);  // a caller that went away just stops reading
      });
  if (!status.ok()) return ToGrpc(status.status());
  av1::StartProgress last;
  ToProto(*status, last.mutable_status());
  last.mutable_status()->clear_output();  // streamed already
  writer->Write(last);
  return grpc::Status::OK;
}

grpc::Status AgentService::StopInstance(grpc::ServerContext* context,
                                        const av1::StopInstanceRequest* request,
                                        av1::StopInstanceResponse*) {
  if (auto s = Ready(*context, "StopInstance", request->idempotency_key()); !s.ok()) return s;
  return ToGrpc(runtime_->StopInstance(
      request->id(),
      Timeout(request->grace_ms(), std::chrono::seconds(10), std::chrono::minutes(5))));
}

grpc::Status AgentService::ListInstances(grpc::ServerContext* context,
                                         const av1::ListInstancesRequest*,
                                         av1::ListInstancesResponse* response) {
  if (auto s = Ready(*context, "ListInstances"); !s.ok()) return s;
  for (const InstanceStatus& i : runtime_->ListInstances()) ToProto(i, response->add_instances());
  return grpc::Status::OK;
}

grpc::Status AgentService::Logs(grpc::ServerContext* context, const av1::LogsRequest* request,
                                av1::LogsResponse* response) {
  if (auto s = Ready(*context, "Logs"); !s.ok()) return s;
  auto lines = runtime_->Logs(request->app(), request->process(), request->lines());
  if (!lines.ok()) return ToGrpc(lines.status());
  for (const LogLine& l : *lines) {
    av1::LogLine* p = response->add_lines();
    p->set_time_ms(l.time_ms);
    p->set_instance(l.instance);
    p->set_process(l.process);
    p->set_text(l.text);
  }
  return grpc::Status::OK;
}

grpc::Status AgentService::RunOneOff(grpc::ServerContext* context,
                                     const av1::RunOneOffRequest* request,
                                     grpc::ServerWriter<av1::OneOffOutput>* writer) {
  if (auto s = Ready(*context, "RunOneOff"); !s.ok()) return s;
  std::vector<std::string> argv(request->argv().begin(), request->argv().end());
  auto code = runtime_->RunOneOff(
      request->app(), request->version(), argv,
      Timeout(request->timeout_ms(), std::chrono::hours(1), std::chrono::hours(24)),
      [&](const std::string& chunk) {
        av1::OneOffOutput m;
        m.set_data(chunk);
        writer->Write(m);  // a caller that went away just stops reading
      });
  if (!code.ok()) return ToGrpc(code.status());
  av1::OneOffOutput done;
  done.set_done(true);
  done.set_exit_code(*code);
  writer->Write(done);
  return grpc::Status::OK;
}

grpc::Status AgentService::DestroyApp(grpc::ServerContext* context,
                                      const av1::DestroyAppRequest* request,
                                      av1::DestroyAppResponse*) {
  if (auto s = Ready(*context, "DestroyApp", request->idempotency_key()); !s.ok()) return s;
  return ToGrpc(runtime_->DestroyApp(request->app()));
}

}  // namespace dflow::agent
