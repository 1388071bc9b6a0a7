// The Git gRPC service (proto/dflow/controller/v1/git.proto): per-app git
// settings (deploy branch, forge URL, webhook secret; kept in the store) and
// push keys. Served on the CLI socket. A webhook secret is returned only by
// the call that generated it.
#ifndef DFLOW_CONTROLLER_GIT_GIT_SERVICE_H_
#define DFLOW_CONTROLLER_GIT_GIT_SERVICE_H_

#include "controller/api/context.h"
#include "controller/git/keys.h"
#include "controller/git/repos.h"
#include "dflow/controller/v1/git.grpc.pb.h"

namespace dflow::git {

// A forge URL dflow fetches from: https://, http://, ssh://, git://, file://,
// an absolute path, or scp-like user@host:path; never starting with '-', no
// spaces or control characters. InvalidArgument says what is allowed.
absl::Status ValidateGitUrl(const std::string& url);

class GitService final : public controller::v1::Git::Service {
 public:
  GitService(api::ControllerContext* ctx, Repos* repos, Keys* keys)
      : ctx_(ctx), repos_(repos), keys_(keys) {}

  grpc::Status SetAppGit(grpc::ServerContext*, const controller::v1::SetAppGitRequest* request,
                         controller::v1::AppGit* response) override;
  grpc::Status GetAppGit(grpc::ServerContext*, const controller::v1::GetAppGitRequest* request,
                         controller::v1::AppGit* response) override;
  grpc::Status AddKey(grpc::ServerContext*, const controller::v1::AddKeyRequest* request,
                      controller::v1::PushKey* response) override;
  grpc::Status ListKeys(grpc::ServerContext*, const controller::v1::ListKeysRequest* request,
                        controller::v1::ListKeysResponse* response) override;
  grpc::Status RemoveKey(grpc::ServerContext*, const controller::v1::RemoveKeyRequest* request,
                         controller::v1::RemoveKeyResponse* response) override;

 private:
  absl::Status Describe(const store::AppGit& g, controller::v1::AppGit* out);

  api::ControllerContext* ctx_;
  Repos* repos_;
  Keys* keys_;
};

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_GIT_SERVICE_H_
