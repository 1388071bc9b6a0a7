#include "controller/git/git_service.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/store/store.h"

namespace dflow::git {

namespace v1 = controller::v1;

absl::Status ValidateGitUrl(const std::string& url) {
  bool ok = !url.empty() && url.size() <= 2048 && url[0] != '-';
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) ok = false;
  }
  bool known = false;
  for (const char* scheme : {"https://", "http://", "ssh://", "git://", "file://", "/"}) {
    if (absl::StartsWith(url, scheme)) known = true;
  }
  // scp-like: user@host:path
  auto at = url.find('@'), colon = url.find(':');
  if (!known && at != std::string::npos && colon != std::string::npos && at < colon &&
      url.find("://") == std::string::npos) {
    known = true;
  }
  if (!ok || !known) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--git-url \"", url,
        "\" is not a git URL dflow fetches from: use https://, ssh://, git://, file://, an "
        "absolute path or user@host:path (no spaces), e.g. https://github.com/acme/web.git"));
  }
  return absl::OkStatus();
}

absl::Status GitService::Describe(const store::AppGit& g, v1::AppGit* out) {
  out->set_app(g.app);
  out->set_branch(g.DeployBranch());
  out->set_git_url(g.git_url);
  out->set_local_remote(repos_->Path(g.app));
  out->set_has_webhook_secret(!g.webhook_secret.empty());
  ASSIGN_OR_RETURN(std::optional<store::WebhookDelivery> last, ctx_->store->LastDelivery(g.app));
  if (last) {
    auto* d = out->mutable_last_delivery();
    d->set_forge(last->forge);
    d->set_id(last->id);
    d->set_sha(last->sha);
    d->set_state(last->state);
    d->set_op_id(last->op_id);
    d->set_release(last->release);
    d->set_message(last->message);
    d->set_received_at_ms(last->received_at_ms);
    d->set_updated_at_ms(last->updated_at_ms);
  }
  return absl::OkStatus();
}

grpc::Status GitService::SetAppGit(grpc::ServerContext*, const v1::SetAppGitRequest* request,
                                   v1::AppGit* response) {
  const std::string& app = request->app();
  if (auto s = ValidateAppName(app); !s.ok()) return ToGrpc(s);
  store::AppGitUpdate update;
  if (!request->branch().empty()) {
    if (auto s = ValidateBranch(request->branch()); !s.ok()) return ToGrpc(s);
    update.branch = request->branch();
  }
  if (!request->git_url().empty()) {
    if (auto s = ValidateGitUrl(request->git_url()); !s.ok()) return ToGrpc(s);
    update.git_url = request->git_url();
  }
  if (request->generate_webhook_secret()) {
    auto bytes = RandomBytes(32);
    if (!bytes.ok()) return ToGrpc(bytes.status());
    update.webhook_secret = HexEncode(*bytes);
  }
  auto g = ctx_->store->UpdateAppGit(app, update);
  if (!g.ok()) return ToGrpc(g.status());
  if (auto s = Describe(*g, response); !s.ok()) return ToGrpc(s);
  // The only answer that carries the secret.
  if (update.webhook_secret) response->set_webhook_secret(*update.webhook_secret);
  return grpc::Status::OK;
}

grpc::Status GitService::GetAppGit(grpc::ServerContext*, const v1::GetAppGitRequest* request,
                                   v1::AppGit* response) {
  if (auto s = ValidateAppName(request->app()); !s.ok()) return ToGrpc(s);
  auto g = ctx_->store->GetAppGit(request->app());
  if (!g.ok()) return ToGrpc(g.status());
  return ToGrpc(Describe(*g, response));
}

namespace {

void ToProto(const PushKey& k, v1::PushKey* out) {
  out->set_name(k.name);
  out->set_type(k.type);
  out->set_fingerprint(k.fingerprint);
  for (const auto& a : k.apps) out->add_apps(a);
  out->set_all_apps(k.all_apps);
  out->set_added_at_ms(k.added_at_ms);
}

}  // namespace

grpc::Status GitService::AddKey(grpc::ServerContext*, const v1::AddKeyRequest* request,
                                v1::PushKey* response) {
  PushKey key;
  key.name = request->name();
  if (auto s = ValidateKeyName(key.name); !s.ok()) return ToGrpc(s);
  if (auto s = ParsePublicKey(request->public_key(), &key); !s.ok()) return ToGrpc(s);
  if (request->all_apps() == (request->apps_size() > 0)) {
    return ToGrpc(absl::InvalidArgumentError(
        "give either --apps a,b (the apps the key may push to) or --all"));
  }
  key.all_apps = request->all_apps();
  for (const auto& a : request->apps()) {
    if (auto s = ValidateAppName(a); !s.ok()) return ToGrpc(s);
    if (!ctx_->store->GetApp(a).ok()) {
      return ToGrpc(absl::NotFoundError(
          absl::StrCat("no app named \"", a, "\"; `dflow apps ls` lists them")));
    }
    key.apps.push_back(a);
  }
  auto added = keys_->Add(key);  // with its event
  if (!added.ok()) return ToGrpc(added.status());
  ToProto(*added, response);
  return grpc::Status::OK;
}

grpc::Status GitService::ListKeys(grpc::ServerContext*, const v1::ListKeysRequest*,
                                  v1::ListKeysResponse* response) {
  auto keys = keys_->List();
  if (!keys.ok()) return ToGrpc(keys.status());
  for (const auto& k : *keys) ToProto(k, response->add_keys());
  return grpc::Status::OK;
}

grpc::Status GitService::RemoveKey(grpc::ServerContext*, const v1::RemoveKeyRequest* request,
                                   v1::RemoveKeyResponse*) {
  if (auto s = ValidateKeyName(request->name()); !s.ok()) return ToGrpc(s);
  return ToGrpc(keys_->Remove(request->name()));  // with its event
}

}  // namespace dflow::git
