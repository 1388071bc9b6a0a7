// Conversions between absl::Status and grpc::Status (their codes match), and
// the peer-identity helpers every RPC handler uses. Include only from .cc files
// that already use gRPC.
#ifndef DFLOW_COMMON_GRPC_STATUS_H_
#define DFLOW_COMMON_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace dflow {

inline grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

// The PEM certificate the peer presented in the TLS handshake (empty if none).
inline std::string PeerCertificatePem(const grpc::ServerContext& ctx) {
  auto auth = ctx.auth_context();
  if (!auth) return "";
  auto values = auth->FindPropertyValues("x509_pem_cert");
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

// The subject CN the peer's certificate carries (empty if none).
inline std::string PeerCommonName(const grpc::ServerContext& ctx) {
  auto auth = ctx.auth_context();
  if (!auth) return "";
  auto values = auth->FindPropertyValues("x509_common_name");
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace dflow

#endif  // DFLOW_COMMON_GRPC_STATUS_H_
