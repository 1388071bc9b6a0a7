#include "cli/client.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace dflow::cli {

Target ResolveTarget(const std::string& flag) {
  auto make = [](const std::string& v, const std::string& source) {
    std::string addr = v.find('/') != std::string::npos ? absl::StrCat("unix:", v) : v;
    return Target{addr, source};
  };
  if (!flag.empty()) return make(flag, "--controller");
  if (const char* env = std::getenv("DFLOW_CONTROLLER"); env && *env) {
    return make(env, "DFLOW_CONTROLLER");
  }
  std::string home;
  if (const char* h = std::getenv("DFLOW_HOME"); h && *h) {
    home = h;
  } else {
    const char* user_home = std::getenv("HOME");
    home = absl::StrCat(user_home ? user_home : "", "/.dflow");
  }
  return make(home + "/controller/controller.sock",
              "the default $DFLOW_HOME/controller/controller.sock");
}

Client::Client(Target target) : target_(std::move(target)) {
  // Remote access over TCP with tokens comes later; today only the Unix socket.
  auto channel = grpc::CreateChannel(target_.address, grpc::InsecureChannelCredentials());
  channel_ = channel;
  stub_ = controller::v1::Cli::NewStub(channel);
  apps_ = controller::v1::Apps::NewStub(channel);
}

std::unique_ptr<grpc::ClientContext> Client::Context(int seconds) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (seconds <= 0) return ctx;
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

absl::Status Client::Error(const grpc::Status& s) const {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::string where = target_.address;
    std::string dir = where;
    if (dir.rfind("unix:", 0) == 0) dir = dir.substr(5);
    if (auto slash = dir.rfind('/'); slash != std::string::npos) dir = dir.substr(0, slash);
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the controller at ", where, " (from ", target_.source,
        "): ", s.error_message(), "\nstart it with `dflow-controller run --data-dir ", dir,
        "` (or `deploy/quickstart.sh`), or point the CLI elsewhere with --controller or "
        "DFLOW_CONTROLLER"));
  }
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace dflow::cli
