// The one-time join token an operator hands to a new agent:
//   dflow-join-v1.<base64url of {"addr":…,"ca":…,"secret":…}>
// It carries where the controller listens, the SHA-256 fingerprint of the CA
// certificate the agent must find there, and a random secret. The controller
// keeps only SHA-256(secret) (the token id), so its store never holds a usable token.
#ifndef DFLOW_COMMON_JOIN_TOKEN_H_
#define DFLOW_COMMON_JOIN_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace dflow {

struct JoinToken {
  std::string controller_address;  // host:port of the agent API
  std::string ca_fingerprint;      // hex SHA-256 of the CA certificate (DER)
  std::string secret;              // base64url, 32 random bytes

  std::string Encode() const;
  // SHA-256 hex of the secret: what the store keeps.
  std::string Id() const;
};

// A fresh token with a new random secret.
absl::StatusOr<JoinToken> NewJoinToken(const std::string& controller_address,
                                       const std::string& ca_fingerprint);

// Parses a token; InvalidArgument with a message saying what is wrong.
absl::StatusOr<JoinToken> DecodeJoinToken(const std::string& text);

}  // namespace dflow

#endif  // DFLOW_COMMON_JOIN_TOKEN_H_
