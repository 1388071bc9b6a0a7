// A scripted, in-process Apps service for the CLI's tests: it records what
// commands send and answers what a test sets up. Not thread-safe beyond what
// one command at a time needs (the atomics are read while a command runs).
#ifndef DFLOW_CLI_FAKE_APPS_H_
#define DFLOW_CLI_FAKE_APPS_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "dflow/controller/v1/apps.grpc.pb.h"

namespace dflow::cli {

class FakeApps final : public controller::v1::Apps::Service {
 public:
  grpc::Status GetApp(grpc::ServerContext*, const controller::v1::GetAppRequest* req,
                      controller::v1::App* resp) override {
    if (req->name() != "shop") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("app \"", req->name(), "\" does not exist"));
    }
    resp->set_name("shop");
    return grpc::Status::OK;
  }
  grpc::Status UploadSource(grpc::ServerContext*,
                            grpc::ServerReader<controller::v1::SourceChunk>* reader,
                            controller::v1::UploadSourceResponse* resp) override {
    uploads++;
    controller::v1::SourceChunk chunk;
    Sha256 sha;
    while (reader->Read(&chunk)) {
      chunk_apps.push_back(chunk.app());
      chunk_sizes.push_back(chunk.data().size());
      sha.Update(chunk.data());
    }
    resp->set_digest(sha.HexDigest());
    return grpc::Status::OK;
  }
  grpc::Status Deploy(grpc::ServerContext*, const controller::v1::DeployRequest* req,
                      controller::v1::OpRef* resp) override {
    deploy = *req;
    *resp = op_ref;
    return grpc::Status::OK;
  }
  grpc::Status Scale(grpc::ServerContext*, const controller::v1::ScaleRequest* req,
                     controller::v1::OpRef* resp) override {
    if (!scale_error.empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, scale_error);
    *resp = op_ref;
    return grpc::Status::OK;
  }
  grpc::Status Restart(grpc::ServerContext*, const controller::v1::RestartRequest*,
                       controller::v1::OpRef* resp) override {
    *resp = op_ref;
    return grpc::Status::OK;
  }
  grpc::Status SetConfig(grpc::ServerContext*, const controller::v1::SetConfigRequest* req,
                         controller::v1::OpRef* resp) override {
    set_config = *req;
    return grpc::Status::OK;  // id 0: no rollout (never deployed)
  }
  grpc::Status GetConfig(grpc::ServerContext*, const controller::v1::GetConfigRequest*,
                         controller::v1::GetConfigResponse* resp) override {
    (*resp->mutable_config())["GREETING"] = "hi there";
    return grpc::Status::OK;
  }
  grpc::Status WatchOp(grpc::ServerContext* ctx, const controller::v1::WatchOpRequest* req,
                       grpc::ServerWriter<controller::v1::OpProgress>* writer) override {
    watched_id = req->id();
    for (const auto& p : script) writer->Write(p);
    watching = true;
    while (hold_watch && !ctx->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return grpc::Status::OK;
  }
  grpc::Status GetOp(grpc::ServerContext*, const controller::v1::GetOpRequest* req,
                     controller::v1::Op* resp) override {
    *resp = op;
    return grpc::Status::OK;
  }
  grpc::Status CancelOp(grpc::ServerContext*, const controller::v1::CancelOpRequest*,
                        controller::v1::Op*) override {
    cancels++;
    return grpc::Status::OK;
  }
  grpc::Status Run(grpc::ServerContext*, const controller::v1::RunRequest* req,
                   grpc::ServerWriter<controller::v1::RunOutput>* writer) override {
    run = *req;
    controller::v1::RunOutput out;
    out.set_server("local-2");
    out.set_data("hi\n");
    writer->Write(out);
    out.set_data("");
    out.set_done(true);
    out.set_exit_code(3);
    writer->Write(out);
    return grpc::Status::OK;
  }
  grpc::Status Logs(grpc::ServerContext*, const controller::v1::LogsRequest* req,
                    grpc::ServerWriter<controller::v1::LogLine>* writer) override {
    logs = *req;
    for (const char* text : {"listening on 127.0.0.1:5001\n", "GET / 200"}) {
      controller::v1::LogLine line;
      line.set_server("local-1");
      line.set_instance("shop-web-1");
      line.set_text(text);
      writer->Write(line);
    }
    return grpc::Status::OK;
  }
  grpc::Status ListOps(grpc::ServerContext*, const controller::v1::ListOpsRequest* req,
                       controller::v1::ListOpsResponse* resp) override {
    auto* op = resp->add_ops();
    op->set_id(7);
    op->set_app(req->app());
    op->set_kind("deploy");
    op->set_state("running");
    op->set_started_at_ms(1'700'000'000'000);
    return grpc::Status::OK;
  }
  grpc::Status ListInstances(grpc::ServerContext*, const controller::v1::ListInstancesRequest*,
                             controller::v1::ListInstancesResponse* resp) override {
    auto* i = resp->add_instances();
    i->set_id("shop-web-1");
    i->set_process("web");
    i->set_server("local-1");
    i->set_state("running");
    i->set_port(5001);
    i->set_release(2);
    i->set_started_at_ms(1'700'000'000'000);
    i->set_address("127.0.0.1:5001");
    return grpc::Status::OK;
  }

  controller::v1::OpRef op_ref;
  controller::v1::Op op;
  std::vector<controller::v1::OpProgress> script;
  bool hold_watch = false;
  std::string scale_error;
  std::atomic<bool> watching{false};
  std::atomic<int> uploads{0}, cancels{0};
  std::atomic<int64_t> watched_id{0};
  std::vector<std::string> chunk_apps;
  std::vector<size_t> chunk_sizes;
  controller::v1::DeployRequest deploy;
  controller::v1::SetConfigRequest set_config;
  controller::v1::RunRequest run;
  controller::v1::LogsRequest logs;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_FAKE_APPS_H_
