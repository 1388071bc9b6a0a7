// dflow deploy NAME --path DIR: pack, upload in chunks, start the deploy, follow it.
#include <fstream>
#include <iostream>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "cli/archive.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/dokku_client.h"
#include "cli/interrupt.h"
#include "cli/op_watch.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/crypto.h"
#include "common/dokku_names.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

constexpr size_t kChunkBytes = 64 * 1024;

struct Options {
  std::string name;
  std::string path;
  std::string description;
  std::string max_upload;
  std::string image;
  bool detach = false;
};

// Streams the archive to UploadSource in chunks; returns the digest the
// controller computed, checked against ours.
absl::StatusOr<std::string> Upload(Client& client, const std::string& app,
                                   const SourceArchive& archive) {
  std::ifstream in(archive.path(), std::ios::binary);
  if (!in) return absl::InternalError(absl::StrCat("cannot read ", archive.path()));
  auto ctx = client.Context(600);
  std::mutex mu;
  bool cancelled = false;
  InterruptHandler interrupt([&] {
    std::lock_guard<std::mutex> lock(mu);
    cancelled = true;
    ctx->TryCancel();
  });
  v1::UploadSourceResponse resp;
  auto writer = client.apps()->UploadSource(ctx.get(), &resp);
  Progress progress(std::cerr, StderrIsTerminal(), "upload", archive.size_bytes());
  Sha256 sha;
  std::string buf(kChunkBytes, '\0');
  int64_t sent = 0;
  bool first = true;
  bool stream_ok = true;
  while (stream_ok && in) {
    in.read(buf.data(), buf.size());
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    v1::SourceChunk chunk;
    if (first) chunk.set_app(app);
    first = false;
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    sha.Update(absl::string_view(buf.data(), static_cast<size_t>(n)));
    // A false Write means the server ended the call (e.g. over its limit);
    // Finish below says why.
    stream_ok = writer->Write(chunk);
    if (stream_ok) {
      sent += n;
      progress.Update(sent);
    }
  }
  if (stream_ok) writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (s.ok()) progress.Finish();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (cancelled) {
      std::cerr << "\n";
      return absl::CancelledError("upload interrupted (Ctrl-C); nothing was deployed");
    }
  }
  if (!s.ok()) {
    std::cerr << "\n";
    return client.Error(s);
  }
  std::string digest = sha.HexDigest();
  if (!resp.digest().empty() && resp.digest() != digest) {
    return absl::DataLossError(absl::StrCat("the controller stored sha256 ", resp.digest(),
                                            " but the archive sent has sha256 ", digest,
                                            "; nothing was deployed, try again"));
  }
  return resp.digest().empty() ? digest : resp.digest();
}

absl::Status DeployImage(Globals& g, const std::string& app, const std::string& image,
                         const std::string& description, bool detach) {
  if (auto s = ValidatePinnedImage(image); !s.ok()) return UsageError(s.message());
  Client client(ResolveTarget(g.controller));
  v1::DeployImageRequest req;
  req.set_app(app);
  req.set_image(image);
  req.set_description(description);
  auto ref = CallDokku(client, &v1::Dokku::Stub::DeployImage, req);
  if (!ref.ok()) return ref.status();
  std::cerr << "deploying " << image << " to " << app
            << (ref->release() ? absl::StrCat(" as ", ReleaseName(ref->release())) : "")
            << " (operation " << ref->id() << ")\n";
  return FollowOp(client, *ref, {.app = app, .detach = detach});
}

}  // namespace

void RegisterDeploy(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "deploy",
      "Pack a directory (without .git), upload it and roll it out as the app's next release");
  auto o = std::make_shared<Options>();
  o->max_upload = absl::StrCat(kDefaultMaxUploadBytes >> 20, "M");
  cmd->add_option("NAME", o->name, "App name (create it first with `dflow apps create`)")
      ->required();
  auto* path = cmd->add_option("--path", o->path,
                               "Directory to ship; it must hold a Procfile (`web: CMD`, "
                               "optionally `release: CMD`)")
                   ->type_name("DIR");
  cmd->add_option("--image", o->image,
                  "Deploy a pinned container image instead of a directory: REPO:TAG or "
                  "REPO@sha256:DIGEST (no tag and :latest are refused). Dokku servers only "
                  "(git:from-image); it runs as the `web` process with the image's own command")
      ->type_name("REPO:TAG")
      ->excludes(path);
  cmd->add_option("--description", o->description,
                  "Words kept with the release and shown by `dflow releases`");
  cmd->add_option("--max-upload", o->max_upload,
                  "Refuse archives larger than this before sending (match the controller's "
                  "--max-upload)")
      ->capture_default_str()
      ->type_name("SIZE");
  AddDetachFlag(cmd, o->detach);
  cmd->footer(
      "The upload shows a progress bar on a terminal. The deploy's progress streams back until "
      "it\nends; the exit code is 1 when it fails. Ctrl-C detaches without cancelling.\n\n"
      "Example: dflow deploy hello --path examples/hello --description \"first cut\"\n"
      "         dflow deploy shop --image nginx:1.27   (a Dokku server runs git:from-image)");
  cmd->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->name); !s.ok()) return s;
      if (!o->image.empty() || o->path.empty()) {
        if (o->image.empty()) return UsageError("give --path DIR or --image REPO:TAG");
        return DeployImage(g, o->name, o->image, o->description, o->detach);
      }
      auto limit = ParseByteSize("--max-upload", o->max_upload);
      if (!limit.ok()) return UsageError(limit.status().message());
      // Refuse what cannot be deployed before talking to anyone.
      if (auto s = CheckSourceDir(o->path); !s.ok()) return s;

      Client client(ResolveTarget(g.controller));
      v1::GetAppRequest get;
      get.set_name(o->name);
      if (auto app = client.Call(&v1::Apps::Stub::GetApp, get); !app.ok()) return app.status();

      PosixProcessRunner runner;
      auto archive = SourceArchive::Pack(o->path, runner);
      if (!archive.ok()) return archive.status();
      std::cerr << "packed " << o->path << " (" << HumanBytes((*archive)->size_bytes()) << ")\n";
      if ((*archive)->size_bytes() > *limit) return UploadTooLarge(*limit);

      auto digest = Upload(client, o->name, **archive);
      if (!digest.ok()) return digest.status();

      v1::DeployRequest req;
      req.set_app(o->name);
      req.set_digest(*digest);
      req.set_description(o->description);
      auto ref = client.Call(&v1::Apps::Stub::Deploy, req);
      if (!ref.ok()) return ref.status();
      std::cerr << "deploying " << o->name
                << (ref->release() ? absl::StrCat(" ", ReleaseName(ref->release())) : "")
                << " (operation " << ref->id() << ")\n";
      return FollowOp(client, *ref, {.app = o->name, .detach = o->detach});
    };
  });
}

}  // namespace dflow::cli
