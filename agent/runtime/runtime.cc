#include "agent/runtime/runtime.h"

namespace dflow::agent {
namespace {

absl::Status Missing(const char* what) { return absl::UnimplementedError(what); }

}  // namespace

absl::Status Runtime::AddDomain(const std::string&, const std::string&, const OutputFn&) {
  return Missing("domains on the host's proxy");
}
absl::Status Runtime::RemoveDomain(const std::string&, const std::string&, const OutputFn&) {
  return Missing("domains on the host's proxy");
}
absl::Status Runtime::SetPorts(const std::string&, const std::vector<std::string>&,
                               const OutputFn&) {
  return Missing("port maps");
}
absl::Status Runtime::MountStorage(const std::string&, const std::string&, const std::string&,
                                   const std::string&, const OutputFn&) {
  return Missing("storage mounts");
}
absl::Status Runtime::UnmountStorage(const std::string&, const std::string&, const std::string&,
                                     const OutputFn&) {
  return Missing("storage mounts");
}
absl::Status Runtime::SetCheck(const std::string&, const std::string&, const std::string&,
                               const OutputFn&) {
  return Missing("health check settings");
}
absl::Status Runtime::UnsetCheck(const std::string&, const std::string&, const OutputFn&) {
  return Missing("health check settings");
}
absl::StatusOr<ServiceInfo> Runtime::CreateService(const std::string&, const std::string&, bool,
                                                   const OutputFn&) {
  return Missing("services");
}
absl::StatusOr<ServiceInfo> Runtime::GetService(const std::string&, const std::string&) {
  return Missing("services");
}
absl::Status Runtime::LinkService(const std::string&, const std::string&, const std::string&,
                                  const std::string&, const OutputFn&) {
  return Missing("services");
}
absl::Status Runtime::UnlinkService(const std::string&, const std::string&, const std::string&,
                                    const std::string&, const OutputFn&) {
  return Missing("services");
}
absl::Status Runtime::DestroyService(const std::string&, const std::string&, const OutputFn&) {
  return Missing("services");
}
absl::Status Runtime::AddCert(const std::string&, const std::string&, const std::string&,
                              const OutputFn&) {
  return Missing("certificates on the host's proxy");
}
absl::Status Runtime::RemoveCert(const std::string&, const OutputFn&) {
  return Missing("certificates on the host's proxy");
}

const char* InstanceStateName(InstanceState s) {
  switch (s) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kRunning:
      return "running";
    case InstanceState::kBackoff:
      return "backoff";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kStopped:
      return "stopped";
    case InstanceState::kFailed:
      return "failed";
  }
  return "unknown";
}

}  // namespace dflow::agent
