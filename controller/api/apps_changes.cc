// Uploading sources and the RPCs that start ops (deploy, scale, config,
// rollback, restart). Validation happens here, before any op is queued.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/blob_store.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/api/apps_convert.h"
#include "controller/api/apps_service.h"
#include "controller/api/source_archive.h"
#include "controller/ops/engine.h"
#include "controller/ops/procfile.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;

constexpr int kMaxScale = 1000;

std::string LimitText(int64_t bytes) {
  if (bytes % (1 << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes < (1 << 20) && bytes % 1024 == 0) return absl::StrCat(bytes >> 10, " KiB");
  return MiB(bytes);
}

// The process types of a Procfile that can be scaled, or the Procfile's error
// in words that say which file it was.
absl::StatusOr<std::vector<std::string>> Scalable(const std::string& procfile) {
  auto types = ops::ParseProcfileTypes(procfile);
  if (!types.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the source's Procfile is not valid: ", types.status().message()));
  }
  auto scalable = ops::ScalableTypes(*types);
  if (scalable.empty()) {
    return absl::InvalidArgumentError(
        "the source's Procfile declares no process to run; add one, e.g. `web: python3 app.py`");
  }
  return scalable;
}

grpc::Status Started(const absl::StatusOr<ops::OpRef>& ref, v1::OpRef* response) {
  if (!ref.ok()) return ToGrpc(ref.status());
  ToProto(*ref, response);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AppsService::UploadSource(grpc::ServerContext*,
                                       grpc::ServerReader<v1::SourceChunk>* reader,
                                       v1::UploadSourceResponse* response) {
  v1::SourceChunk chunk;
  if (!reader->Read(&chunk)) {
    return ToGrpc(absl::InvalidArgumentError("the upload is empty: no chunk arrived"));
  }
  auto app = FindApp(chunk.app());
  if (!app.ok()) return ToGrpc(app.status());
  BlobStore blobs(ctx_->archive_dir);
  auto writer = blobs.NewWriter(ctx_->max_upload_bytes);
  if (!writer.ok()) return ToGrpc(writer.status());
  do {
    if (auto s = (*writer)->Append(chunk.data()); !s.ok()) {
      if (absl::IsResourceExhausted(s)) {
        // The writer's destructor removes what arrived: nothing is kept.
        return ToGrpc(absl::ResourceExhaustedError(absl::StrCat(
            "upload is over the ", LimitText(ctx_->max_upload_bytes),
            " limit; leave build outputs and dependencies out of the directory, or start the "
            "controller with a larger --max-upload")));
      }
      return ToGrpc(s);
    }
  } while (reader->Read(&chunk));
  if ((*writer)->size() == 0) {
    return ToGrpc(absl::InvalidArgumentError("the upload is empty: it carried no data"));
  }
  int64_t size = (*writer)->size();
  auto digest = (*writer)->Commit();
  if (!digest.ok()) return ToGrpc(digest.status());
  // Refuse (and drop) an archive that cannot be deployed. No release can refer
  // to it: a release's archive always had a valid Procfile.
  auto procfile = ReadProcfile(blobs.Path(*digest));
  absl::Status valid = procfile.status();
  if (valid.ok()) valid = Scalable(*procfile).status();
  if (!valid.ok()) {
    std::remove(blobs.Path(*digest).c_str());
    return ToGrpc(valid);
  }
  response->set_digest(*digest);
  response->set_size_bytes(size);
  return grpc::Status::OK;
}

grpc::Status AppsService::Deploy(grpc::ServerContext*, const v1::DeployRequest* request,
                                 v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  BlobStore blobs(ctx_->archive_dir);
  if (!blobs.Has(request->digest())) {
    return ToGrpc(absl::NotFoundError(absl::StrCat(
        "no uploaded source has digest \"", request->digest(),
        "\"; upload it first (`dflow deploy ", app->name, " --path DIR` uploads and deploys)")));
  }
  auto procfile = ReadProcfile(blobs.Path(request->digest()));
  if (!procfile.ok()) return ToGrpc(procfile.status());
  if (auto s = Scalable(*procfile); !s.ok()) return ToGrpc(s.status());
  return Started(ctx_->engine->Deploy(app->name, request->digest(), *procfile,
                                      request->description(), "dflow CLI"),
                 response);
}

grpc::Status AppsService::Scale(grpc::ServerContext*, const v1::ScaleRequest* request,
                                v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (request->scale().empty()) {
    return ToGrpc(absl::InvalidArgumentError("give at least one TYPE=COUNT, e.g. web=2"));
  }
  std::vector<std::string> known;
  int64_t version = app->current_release;
  if (version > 0) {
    auto current = ctx_->store->GetRelease(app->name, version);
    if (!current.ok()) return ToGrpc(current.status());
    auto scalable = Scalable(current->procfile);
    if (!scalable.ok()) return ToGrpc(scalable.status());
    known = *scalable;
  }
  std::map<std::string, int> scale;
  for (const auto& [type, n] : request->scale()) {
    if (n < 0 || n > kMaxScale) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("scale ", type, "=", n, ": the count must be between 0 and ", kMaxScale)));
    }
    if (type == ops::kReleaseProcess) {
      return ToGrpc(absl::InvalidArgumentError(
          "`release` is the release-phase command: it runs once per release and is not scaled"));
    }
    if (!ops::IsValidProcessType(type)) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
          "\"", type, "\" is not a process type name: use letters, digits, '_' and '-'")));
    }
    if (version > 0 && std::find(known.begin(), known.end(), type) == known.end()) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("app ", app->name, " has no process type \"", type, "\"; its Procfile (v",
                       version, ") declares: ", absl::StrJoin(known, ", "))));
    }
    scale[type] = n;
  }
  return Started(ctx_->engine->Scale(app->name, scale), response);
}

grpc::Status AppsService::SetConfig(grpc::ServerContext*, const v1::SetConfigRequest* request,
                                    v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (request->set().empty() && request->unset().empty()) {
    return ToGrpc(absl::InvalidArgumentError("give at least one KEY=VALUE to set or KEY to unset"));
  }
  std::map<std::string, std::string> set(request->set().begin(), request->set().end());
  std::vector<std::string> unset(request->unset().begin(), request->unset().end());
  for (const auto& [k, v] : set) {
    if (auto s = ValidateEnvKey(k); !s.ok()) return ToGrpc(s);
    if (v.find('\0') != std::string::npos) {
      return ToGrpc(absl::InvalidArgumentError(
          absl::StrCat("the value of ", k, " holds a NUL byte, which an environment cannot")));
    }
  }
  for (const auto& k : unset) {
    if (auto s = ValidateEnvKey(k); !s.ok()) return ToGrpc(s);
    if (set.count(k) > 0) {
      return ToGrpc(
          absl::InvalidArgumentError(absl::StrCat(k, " is both set and unset; give it once")));
    }
  }
  return Started(ctx_->engine->ChangeConfig(app->name, set, unset), response);
}

grpc::Status AppsService::Rollback(grpc::ServerContext*, const v1::RollbackRequest* request,
                                   v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (request->version() < 0) {
    return ToGrpc(
        absl::InvalidArgumentError("the release to roll back to is vN with N of 1 or more"));
  }
  if (app->current_release == 0) {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "app ", app->name, " has never been deployed; there is nothing to roll back")));
  }
  auto releases = ctx_->store->ListReleases(app->name);
  if (!releases.ok()) return ToGrpc(releases.status());
  const store::Release* target = nullptr;
  for (const auto& r : *releases) {
    bool candidate = request->version() > 0 ? r.version == request->version()
                                            : r.version < app->current_release &&
                                                  (r.status == "previous" || r.status == "current");
    if (candidate) target = &r;
  }
  if (target == nullptr) {
    return ToGrpc(request->version() > 0
                      ? absl::NotFoundError(absl::StrCat("app ", app->name, " has no release v",
                                                         request->version(), "; `dflow releases ",
                                                         app->name, "` lists them"))
                      : absl::FailedPreconditionError(absl::StrCat(
                            "app ", app->name, " has no release before v", app->current_release,
                            " that served; nothing to roll back to")));
  }
  if (target->version == app->current_release) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("v", target->version, " is already the current release of ", app->name)));
  }
  // An image release (Dokku) has no source archive; its image is deployed again.
  if ((target->source_digest.empty() && target->image.empty()) || target->status == "pending") {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "v", target->version, " of ", app->name, " was never rolled out; choose another release")));
  }
  return Started(ctx_->engine->Rollback(app->name, target->version), response);
}

grpc::Status AppsService::Restart(grpc::ServerContext*, const v1::RestartRequest* request,
                                  v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (app->current_release == 0) {
    return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
        "app ", app->name, " has not been deployed yet; deploy it first with `dflow deploy ",
        app->name, " --path DIR`")));
  }
  return Started(ctx_->engine->Restart(app->name), response);
}

grpc::Status AppsService::Pin(grpc::ServerContext*, const v1::PinRequest* request,
                              v1::OpRef* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (!request->server().empty()) {
    if (auto s = ValidateServerName(request->server()); !s.ok()) return ToGrpc(s);
  }
  return Started(ctx_->engine->Pin(app->name, request->server()), response);
}

}  // namespace dflow::api
