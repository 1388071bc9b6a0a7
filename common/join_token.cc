#include "common/join_token.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto.h"
#include "common/names.h"

namespace dflow {
namespace {

constexpr absl::string_view kPrefix = "dflow-join-v1.";

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("join token is malformed (", why,
                   "); copy the whole line printed by `dflow servers join-token`"));
}

}  // namespace

std::string JoinToken::Encode() const {
  nlohmann::json j{{"addr", controller_address}, {"ca", ca_fingerprint}, {"secret", secret}};
  return absl::StrCat(kPrefix, absl::WebSafeBase64Escape(j.dump()));
}

std::string JoinToken::Id() const { return Sha256Hex(secret); }

absl::StatusOr<JoinToken> NewJoinToken(const std::string& controller_address,
                                       const std::string& ca_fingerprint) {
  auto bytes = RandomBytes(32);
  if (!bytes.ok()) return bytes.status();
  return JoinToken{controller_address, ca_fingerprint, absl::WebSafeBase64Escape(*bytes)};
}

absl::StatusOr<JoinToken> DecodeJoinToken(const std::string& raw) {
  std::string text(absl::StripAsciiWhitespace(raw));
  if (!absl::StartsWith(text, kPrefix)) return Malformed("it must start with dflow-join-v1.");
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(text.substr(kPrefix.size()), &decoded)) {
    return Malformed("not base64url after the prefix");
  }
  auto j = nlohmann::json::parse(decoded, nullptr, false);
  if (!j.is_object()) return Malformed("not a JSON object inside");
  // Anyone who reaches the agent API may send a token: read fields only when
  // they are strings (json::value would throw on another type).
  auto text_field = [&j](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  JoinToken t;
  t.controller_address = text_field("addr");
  t.ca_fingerprint = text_field("ca");
  t.secret = text_field("secret");
  if (!ValidateHostPort(t.controller_address).ok()) return Malformed("bad controller address");
  if (t.ca_fingerprint.size() != 64) return Malformed("bad CA fingerprint");
  if (t.secret.size() < 32) return Malformed("secret too short");
  return t;
}

}  // namespace dflow
