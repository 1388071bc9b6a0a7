// The Apps service over a real gRPC channel (Unix socket, in process) with the
// real engine running in the background against a fake fleet: what a CLI sees,
// including the exact errors for bad input, which change nothing.
#include "controller/api/apps_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "common/process.h"
#include "controller/agents/fleet.h"
#include "controller/api/source_archive.h"
#include "controller/ops/ops_test_util.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;
using ::testing::HasSubstr;

// A .tar.gz holding `files` (name -> content) at its top level.
std::string TarGz(const std::string& path, const std::map<std::string, std::string>& files) {
  std::string tar;
  for (const auto& [name, data] : files) {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 99));
    std::snprintf(h + 100, 8, "%07o", 0644);
    std::snprintf(h + 108, 8, "%07o", 0);
    std::snprintf(h + 116, 8, "%07o", 0);
    std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(data.size()));
    std::snprintf(h + 136, 12, "%011o", 0);
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + 148, 8, "%06o", sum);
    tar.append(h, 512);
    tar += data;
    tar.append((512 - data.size() % 512) % 512, '\0');
  }
  tar.append(1024, '\0');
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, tar.data(), static_cast<unsigned>(tar.size()));
  gzclose(f);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class AppsServiceTest : public ops::OpsTest {
 protected:
  void SetUp() override {
    OpsTest::SetUp();
    fleet_ = std::make_unique<agents::Fleet>(store_.get(), &clock_, agents::FleetOptions{});
    ASSERT_TRUE(fleet_->Load().ok());
    ctx_.store = store_.get();
    ctx_.fleet = fleet_.get();
    ctx_.clock = &clock_;
    ctx_.engine = engine_.get();
    ctx_.agents = &agents_;
    ctx_.archive_dir = dir_ + "/archives";
    ctx_.max_upload_bytes = 1 << 20;
    service_ = std::make_unique<AppsService>(&ctx_);
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + dir_ + "/t.sock", grpc::InsecureServerCredentials());
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_TRUE(server_);
    stub_ = v1::Apps::NewStub(
        grpc::CreateChannel("unix:" + dir_ + "/t.sock", grpc::InsecureChannelCredentials()));
    engine_->Start();
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    engine_->Stop();
    OpsTest::TearDown();
  }

  grpc::Status Upload(const std::string& app, const std::string& data,
                      v1::UploadSourceResponse* r) {
    grpc::ClientContext c;
    auto w = stub_->UploadSource(&c, r);
    for (size_t off = 0; off == 0 || off < data.size(); off += 64 << 10) {
      v1::SourceChunk chunk;
      if (off == 0) chunk.set_app(app);
      chunk.set_data(data.substr(off, 64 << 10));
      if (!w->Write(chunk)) break;
    }
    w->WritesDone();
    return w->Finish();
  }

  // Uploads a source tree and deploys it; returns the OpRef.
  v1::OpRef Deploy(const std::map<std::string, std::string>& files) {
    v1::UploadSourceResponse up;
    auto s = Upload("shop", TarGz(dir_ + "/src.tar.gz", files), &up);
    EXPECT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext c;
    v1::DeployRequest req;
    req.set_app("shop");
    req.set_digest(up.digest());
    v1::OpRef ref;
    s = stub_->Deploy(&c, req, &ref);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return ref;
  }

  // Streams WatchOp to its end: the progress lines and the last message.
  std::vector<v1::OpProgress> Watch(int64_t id) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WatchOpRequest req;
    req.set_id(id);
    auto r = stub_->WatchOp(&c, req);
    std::vector<v1::OpProgress> out;
    v1::OpProgress p;
    while (r->Read(&p)) out.push_back(p);
    EXPECT_TRUE(r->Finish().ok());
    EXPECT_FALSE(out.empty());
    if (!out.empty()) {
      EXPECT_TRUE(out.back().done());
    }
    return out;
  }

  std::unique_ptr<agents::Fleet> fleet_;
  ControllerContext ctx_;
  std::unique_ptr<AppsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Apps::Stub> stub_;
};

const std::map<std::string, std::string> kHello = {{"Procfile", "web: python3 app.py\n"},
                                                   {"app.py", "print('hi')\n"}};

TEST_F(AppsServiceTest, CreateRefusesBadInputAndChangesNothing) {
  struct Case {
    std::string what;
    std::function<void(v1::CreateAppRequest&)> edit;
    std::string error;
  };
  std::vector<Case> cases = {
      {"name", [](auto& r) { r.set_name("Bad_Name"); }, "app name \"Bad_Name\" is not allowed"},
      {"constraint", [](auto& r) { (*r.mutable_constraints())["tier"] = "be efy"; },
       "constraint tier=be efy"},
      {"memory", [](auto& r) { r.set_memory_bytes(-1); }, "--memory must be 0"},
      {"cpus", [](auto& r) { r.set_cpus(-0.5); }, "--cpus must be between 0"},
      {"health", [](auto& r) { r.set_health_path("health"); }, "must start with '/'"},
      {"strategy", [](auto& r) { r.set_strategy("random"); },
       "use spread (the default) or binpack"},
      {"exists", [](auto& r) { r.set_name("shop"); }, "app \"shop\" already exists"},
  };
  for (const auto& c : cases) {
    v1::CreateAppRequest req;
    req.set_name("blog");
    c.edit(req);
    grpc::ClientContext ctx;
    v1::App app;
    auto s = stub_->CreateApp(&ctx, req, &app);
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                s.error_code() == grpc::StatusCode::ALREADY_EXISTS)
        << c.what << ": " << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.error)) << c.what;
  }
  EXPECT_EQ(store_->ListApps()->size(), 1u);
}

TEST_F(AppsServiceTest, CreateAndShow) {
  v1::CreateAppRequest req;
  req.set_name("blog");
  (*req.mutable_constraints())["tier"] = "beefy";
  req.set_memory_bytes(256 << 20);
  req.set_cpus(0.5);
  req.set_health_path("/health");
  grpc::ClientContext ctx;
  v1::App app;
  ASSERT_TRUE(stub_->CreateApp(&ctx, req, &app).ok());
  EXPECT_EQ(app.strategy(), "spread");
  EXPECT_EQ(app.status(), "not deployed");
  EXPECT_EQ(app.constraints().at("tier"), "beefy");
}

TEST_F(AppsServiceTest, UnknownAppIsNotFoundEverywhere) {
  grpc::ClientContext c1;
  v1::GetAppRequest get;
  get.set_name("nope");
  v1::App app;
  auto s = stub_->GetApp(&c1, get, &app);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("app \"nope\" does not exist"));
  grpc::ClientContext c2;
  v1::ScaleRequest scale;
  scale.set_app("nope");
  (*scale.mutable_scale())["web"] = 1;
  v1::OpRef ref;
  EXPECT_EQ(stub_->Scale(&c2, scale, &ref).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::UploadSourceResponse up;
  EXPECT_EQ(Upload("nope", "x", &up).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AppsServiceTest, UploadOverTheLimitIsRefusedAndNothingKept) {
  v1::UploadSourceResponse up;
  auto s = Upload("shop", std::string((1 << 20) + 1, 'x'), &up);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), HasSubstr("upload is over the 1 MiB limit"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/archives"));
}

TEST_F(AppsServiceTest, UploadWithoutProcfileIsRefused) {
  v1::UploadSourceResponse up;
  auto s = Upload("shop", TarGz(dir_ + "/x.tar.gz", {{"app.py", "x"}}), &up);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("no Procfile at its top level"));
  s = Upload("shop", "not a tarball at all, and not gzip either........", &up);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/archives"));
}

// Archives as the CLI packs them (GNU tar, members "./…"), in each format tar writes.
TEST_F(AppsServiceTest, ReadsTheProcfileOfArchivesPackedByTar) {
  std::string src = dir_ + "/src";
  ASSERT_TRUE(EnsureDir(src + "/sub", 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(src + "/Procfile", "web: python3 app.py\n", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(src + "/sub/Procfile", "web: wrong\n", 0600).ok());
  ASSERT_TRUE(WriteFileAtomic(src + "/" + std::string(120, 'l'), "long name", 0600).ok());
  PosixProcessRunner runner;
  for (const char* format : {"gnu", "posix", "ustar"}) {
    std::string out = dir_ + "/" + format + ".tar.gz";
    auto r = runner.Run(
        {.argv = {"tar", "--create", "--gzip", "--file", out, std::string("--format=") + format,
                  "--sort=name", "--directory", src, "."}});
    ASSERT_TRUE(r.ok()) << r.status();
    if (std::string(format) == "ustar") {
      ASSERT_NE(r->exit_code, 0);  // ustar cannot hold the 120-character name
      continue;
    }
    ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
    auto procfile = ReadProcfile(out);
    ASSERT_TRUE(procfile.ok()) << format << ": " << procfile.status();
    EXPECT_EQ(*procfile, "web: python3 app.py\n") << format;
  }
}

TEST_F(AppsServiceTest, DeployWatchInstancesLogsAndRun) {
  v1::OpRef ref = Deploy(kHello);
  EXPECT_EQ(ref.release(), 1);
  auto progress = Watch(ref.id());
  EXPECT_EQ(progress.back().state(), "succeeded") << progress.back().error();
  bool saw_start = false;
  for (const auto& p : progress)
    saw_start = saw_start || p.text().find("start web instance") != std::string::npos;
  EXPECT_TRUE(saw_start);

  grpc::ClientContext c1;
  v1::ListInstancesRequest li;
  li.set_app("shop");
  v1::ListInstancesResponse instances;
  ASSERT_TRUE(stub_->ListInstances(&c1, li, &instances).ok());
  ASSERT_EQ(instances.instances_size(), 1);
  EXPECT_EQ(instances.instances(0).state(), "running");
  EXPECT_EQ(instances.instances(0).address(),
            "127.0.0.1:" + std::to_string(instances.instances(0).port()));

  grpc::ClientContext c2;
  v1::GetAppRequest get;
  get.set_name("shop");
  v1::App app;
  ASSERT_TRUE(stub_->GetApp(&c2, get, &app).ok());
  EXPECT_EQ(app.status(), "1 of 1 web running");
  EXPECT_EQ(app.instance_states().at("running"), 1);

  agents_.SetLogs("s1", {{20, "i1", "web", "second"}, {10, "i1", "web", "first"}});
  grpc::ClientContext c3;
  v1::LogsRequest lr;
  lr.set_app("shop");
  auto logs = stub_->Logs(&c3, lr);
  std::vector<std::string> lines;
  v1::LogLine line;
  while (logs->Read(&line)) lines.push_back(line.server() + " " + line.text());
  EXPECT_TRUE(logs->Finish().ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"s1 first", "s1 second"}));

  grpc::ClientContext c4;
  v1::RunRequest run;
  run.set_app("shop");
  run.add_argv("echo");
  auto out = stub_->Run(&c4, run);
  std::string data;
  int exit_code = -1;
  v1::RunOutput o;
  while (out->Read(&o)) {
    data += o.data();
    if (o.done()) exit_code = o.exit_code();
  }
  EXPECT_TRUE(out->Finish().ok());
  EXPECT_EQ(data, "echo\n");
  EXPECT_EQ(exit_code, 0);
}

TEST_F(AppsServiceTest, FailedDeployStreamsTheReason) {
  agents_.SetInject([](const ops::FakeAgentApi::Call& c) {
    return c.method == "StartInstance" ? absl::FailedPreconditionError(
                                             "on server s1: health check failed; last lines: boom")
                                       : absl::OkStatus();
  });
  auto progress = Watch(Deploy(kHello).id());
  EXPECT_EQ(progress.back().state(), "rolled_back");
  EXPECT_THAT(progress.back().error(), HasSubstr("boom"));
  grpc::ClientContext c;
  v1::CancelOpRequest cancel;
  cancel.set_id(1);
  v1::Op op;
  auto s = stub_->CancelOp(&c, cancel, &op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// An image release has no source archive: rolling back to it deploys its image
// again (the API once refused it as "never rolled out").
TEST_F(AppsServiceTest, RollbackToAnImageReleaseDeploysThatImage) {
  AddServers({"d1"}, "dokku");
  for (const char* image : {"nginx:1.27", "nginx:1.28"}) {
    auto ref = engine_->DeployImage("shop", image, "", "test");
    ASSERT_TRUE(ref.ok()) << ref.status();
    auto end = Watch(ref->id).back();
    ASSERT_EQ(end.state(), "succeeded") << image << ": " << end.error();
  }
  grpc::ClientContext c;
  v1::RollbackRequest req;
  req.set_app("shop");
  v1::OpRef ref;
  auto s = stub_->Rollback(&c, req, &ref);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_GT(ref.id(), 0) << s.error_code() << " " << s.error_message() << " " << ref.DebugString();
  auto end = Watch(ref.id());
  ASSERT_FALSE(end.empty());
  EXPECT_EQ(end.back().state(), "succeeded") << end.back().error();
  auto v3 = store_->GetRelease("shop", 3);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->image, "nginx:1.27");
  EXPECT_EQ(v3->status, "current");
  for (const auto& i : Instances()) EXPECT_EQ(i.server, "d1");
}

TEST_F(AppsServiceTest, ScaleAndConfigRefuseBadInputAndQueueNothing) {
  ASSERT_EQ(Watch(Deploy(kHello).id()).back().state(), "succeeded");
  size_t ops_before = store_->ListOps("shop", 100)->size();
  struct Case {
    std::map<std::string, int> scale;
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {{{"web", -1}}, "scale web=-1: the count must be between 0"},
           {{{"worker", 1}}, "no process type \"worker\"; its Procfile (v1) declares: web"},
           {{{"release", 1}}, "is not scaled"},
           {{}, "give at least one TYPE=COUNT"}}) {
    grpc::ClientContext ctx;
    v1::ScaleRequest req;
    req.set_app("shop");
    for (const auto& [t, n] : c.scale) (*req.mutable_scale())[t] = n;
    v1::OpRef ref;
    auto s = stub_->Scale(&ctx, req, &ref);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr(c.error));
  }
  grpc::ClientContext ctx;
  v1::SetConfigRequest cfg;
  cfg.set_app("shop");
  (*cfg.mutable_set())["1BAD"] = "x";
  v1::OpRef ref;
  auto s = stub_->SetConfig(&ctx, cfg, &ref);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("config key \"1BAD\" is not allowed"));
  EXPECT_EQ(store_->ListOps("shop", 100)->size(), ops_before);
  EXPECT_EQ(App().scale.at("web"), 1);
}

}  // namespace
}  // namespace dflow::api
