// The agent service over real gRPC with mTLS on loopback, backed by a real
// LocalRuntime: what the controller sees on the wire.
#include "agent/agent_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/runtime_test_support.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/tls.h"

namespace dflow::agent {
namespace {

namespace av1 = agent::v1;
using ::testing::HasSubstr;
using testing::MakeRelease;
using testing::TempDir;

tls::KeyAndCert Issue(const tls::KeyAndCert& ca, const std::string& cn) {
  tls::KeyAndCert out;
  out.key_pem = tls::GenerateKey().value();
  out.cert_pem =
      tls::IssueCertificate(ca, tls::CreateCsr(out.key_pem, cn).value(), cn, "127.0.0.1", 1)
          .value();
  return out;
}

class AgentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_.key_pem = tls::GenerateKey().value();
    ca_.cert_pem = tls::SelfSignedCa(ca_.key_pem, "dflow-test-ca", 1).value();
    LocalRuntimeOptions o;
    o.data_dir = tmp_.path() + "/data";
    o.server_name = "test-1";
    o.port_min = 32500 + static_cast<int>(getpid() % 10) * 25;  // above the fixture's 30000-32499
    o.port_max = o.port_min + 24;
    o.supervise_interval = std::chrono::milliseconds(50);
    runtime_ = LocalRuntime::Open(o).value();
    AgentConfig config;
    config.name = "test-1";
    config.runtime = with_runtime_ ? "local" : "dokku";
    service_ = std::make_unique<AgentService>(
        o.data_dir, [config] { return config; }, with_runtime_ ? runtime_.get() : nullptr,
        /*max_archive_bytes=*/64 << 10);
    tls::KeyAndCert agent = Issue(ca_, "agent:test-1");
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = ca_.cert_pem;
    tls.pem_key_cert_pairs.push_back({agent.key_pem, agent.cert_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls), &port_);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    controller_ = Stub("dflow-controller");
  }

  void TearDown() override {
    server_->Shutdown();
    for (const InstanceStatus& i : runtime_->ListInstances()) {
      EXPECT_TRUE(runtime_->StopInstance(i.id, std::chrono::seconds(2)).ok());
    }
  }

  std::unique_ptr<av1::Agent::Stub> Stub(const std::string& cn) {
    tls::KeyAndCert id = Issue(ca_, cn);
    grpc::SslCredentialsOptions o{ca_.cert_pem, id.key_pem, id.cert_pem};
    return av1::Agent::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::SslCredentials(o)));
  }

  grpc::Status Put(const std::string& digest, const std::string& data, size_t chunk_bytes) {
    grpc::ClientContext ctx;
    av1::PutArchiveResponse response;
    auto writer = controller_->PutArchive(&ctx, &response);
    for (size_t off = 0; off < data.size(); off += chunk_bytes) {
      av1::ArchiveChunk chunk;
      if (off == 0) chunk.set_digest(digest);
      chunk.set_data(data.substr(off, chunk_bytes));
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  bool Has(const std::string& digest) {
    grpc::ClientContext ctx;
    av1::HasArchiveRequest req;
    req.set_digest(digest);
    av1::HasArchiveResponse r;
    EXPECT_TRUE(controller_->HasArchive(&ctx, req, &r).ok());
    return r.present();
  }

  bool with_runtime_ = true;
  TempDir tmp_;
  tls::KeyAndCert ca_;
  std::unique_ptr<LocalRuntime> runtime_;
  std::unique_ptr<AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<av1::Agent::Stub> controller_;
};

TEST_F(AgentServiceTest, OnlyTheControllerMayCall) {
  auto other = Stub("agent:intruder");
  grpc::ClientContext ctx;
  av1::ListInstancesResponse r;
  grpc::Status s = other->ListInstances(&ctx, {}, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx2;
  av1::DestroyAppRequest destroy;
  destroy.set_app("shop");
  av1::DestroyAppResponse dr;
  EXPECT_EQ(other->DestroyApp(&ctx2, destroy, &dr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AgentServiceTest, ArchivesAreCheckedByDigestAndSize) {
  grpc::ClientContext ctx;
  av1::HasArchiveRequest bad;
  bad.set_digest("not-a-digest");
  av1::HasArchiveResponse r;
  EXPECT_EQ(controller_->HasArchive(&ctx, bad, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const std::string data(20000, 'x');
  const std::string digest = Sha256Hex(data);
  EXPECT_FALSE(Has(digest));
  const std::string wrong = Sha256Hex("something else");
  grpc::Status s = Put(wrong, data, 7000);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("server test-1"));
  EXPECT_FALSE(Has(wrong));
  ASSERT_TRUE(Put(digest, data, 7000).ok());
  EXPECT_TRUE(Has(digest));
  EXPECT_TRUE(Put(digest, data, 7000).ok());  // again: already there

  const std::string big(100 << 10, 'y');
  s = Put(Sha256Hex(big), big, 16 << 10);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_FALSE(Has(Sha256Hex(big)));
}

TEST_F(AgentServiceTest, DeployRunAndDestroyOverTheWire) {
  ReleaseSpec spec =
      MakeRelease(tmp_.path(), "shop", 1,
                  {{"Procfile", "web: python3 app.py\n"}, {"app.py", testing::kWebApp}});
  const std::string archive = ReadFile(spec.archive_path).value();
  ASSERT_TRUE(Put(spec.source_digest, archive, 512).ok());

  {
    grpc::ClientContext ctx;
    av1::PrepareReleaseRequest req;
    req.set_idempotency_key("op1-step1");
    req.set_app("shop");
    req.set_version(1);
    req.set_digest(Sha256Hex("missing"));
    av1::PrepareReleaseResponse r;
    grpc::Status s = controller_->PrepareRelease(&ctx, req, &r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("not on server test-1"));
  }
  grpc::ClientContext prep_ctx;
  av1::PrepareReleaseRequest prep;
  prep.set_idempotency_key("op1-step1");
  prep.set_app("shop");
  prep.set_version(1);
  prep.set_digest(spec.source_digest);
  (*prep.mutable_env())["GREETING"] = "hi";
  prep.set_health_path("/health");
  av1::PrepareReleaseResponse prepared;
  ASSERT_TRUE(controller_->PrepareRelease(&prep_ctx, prep, &prepared).ok());
  EXPECT_EQ(prepared.processes().at("web"), "python3 app.py");

  grpc::ClientContext start_ctx;
  av1::StartInstanceRequest start;
  start.set_idempotency_key("op1-step2");
  start.set_id("shop-web-1");
  start.set_app("shop");
  start.set_process("web");
  start.set_release(1);
  start.set_health_timeout_ms(20000);
  av1::InstanceStatus started;
  grpc::Status s = controller_->StartInstance(&start_ctx, start, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(started.state(), "running");
  EXPECT_GT(started.port(), 0);
  EXPECT_GT(started.pid(), 0);

  grpc::ClientContext list_ctx;
  av1::ListInstancesResponse listed;
  ASSERT_TRUE(controller_->ListInstances(&list_ctx, {}, &listed).ok());
  ASSERT_EQ(listed.instances_size(), 1);
  EXPECT_EQ(listed.instances(0).id(), "shop-web-1");
  EXPECT_EQ(listed.instances(0).port(), started.port());

  grpc::ClientContext logs_ctx;
  av1::LogsRequest logs_req;
  logs_req.set_app("shop");
  logs_req.set_lines(50);
  av1::LogsResponse logs;
  ASSERT_TRUE(controller_->Logs(&logs_ctx, logs_req, &logs).ok());
  bool listening = false;
  for (const auto& line : logs.lines()) {
    listening |= absl::StartsWith(line.text(), "listening on") && line.instance() == "shop-web-1";
  }
  EXPECT_TRUE(listening);

  grpc::ClientContext run_ctx;
  av1::RunOneOffRequest run;
  run.set_app("shop");
  run.set_version(1);
  for (const char* a :
       {"python3", "-c", "import os; print('hello', os.environ['GREETING']); exit(5)"}) {
    run.add_argv(a);
  }
  auto reader = controller_->RunOneOff(&run_ctx, run);
  av1::OneOffOutput msg;
  std::string output;
  int exit_code = -1;
  while (reader->Read(&msg)) {
    output += msg.data();
    if (msg.done()) exit_code = msg.exit_code();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(output, "hello hi\n");
  EXPECT_EQ(exit_code, 5);

  grpc::ClientContext stop_ctx;
  av1::StopInstanceRequest stop;
  stop.set_idempotency_key("op2-step1");
  stop.set_id("shop-web-1");
  stop.set_grace_ms(2000);
  av1::StopInstanceResponse stopped;
  ASSERT_TRUE(controller_->StopInstance(&stop_ctx, stop, &stopped).ok());
  grpc::ClientContext destroy_ctx;
  av1::DestroyAppRequest destroy;
  destroy.set_idempotency_key("op3-step1");
  destroy.set_app("shop");
  av1::DestroyAppResponse destroyed;
  ASSERT_TRUE(controller_->DestroyApp(&destroy_ctx, destroy, &destroyed).ok());
  EXPECT_TRUE(runtime_->ListInstances().empty());

  grpc::ClientContext again_ctx;
  s = controller_->StartInstance(&again_ctx, start, &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(),
              HasSubstr("release v1 of app shop is not prepared on server test-1"));
}

class AgentServiceWithoutRuntimeTest : public AgentServiceTest {
 protected:
  AgentServiceWithoutRuntimeTest() { with_runtime_ = false; }
};

TEST_F(AgentServiceWithoutRuntimeTest, RuntimeCallsAreRefusedInWords) {
  grpc::ClientContext ctx;
  av1::StartInstanceRequest req;
  req.set_id("x-web-1");
  av1::InstanceStatus r;
  grpc::Status s = controller_->StartInstance(&ctx, req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "server test-1 runs the \"dokku\" runtime, which this agent cannot drive yet");
}

}  // namespace
}  // namespace dflow::agent
