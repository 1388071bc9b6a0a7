#include "common/names.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dflow {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

absl::Status ValidateDnsLabel(absl::string_view what, absl::string_view name) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " name \"", name,
        "\" is not allowed: use 1 to 48 characters of lowercase letters, digits and hyphens, "
        "starting and ending with a letter or digit (for example \"shop-api\")"));
  };
  if (name.empty() || name.size() > 48) return bad();
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) return bad();
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return bad();
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateAppName(absl::string_view name) { return ValidateDnsLabel("app", name); }
absl::Status ValidateServerName(absl::string_view name) { return ValidateDnsLabel("server", name); }

absl::Status ValidateEnvKey(absl::string_view key) {
  bool ok = !key.empty() && !(key[0] >= '0' && key[0] <= '9');
  for (char c : key) {
    bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    ok = ok && word;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("config key \"", key,
                   "\" is not allowed: use letters, digits and underscores, not starting with a "
                   "digit (for example DATABASE_URL)"));
}

absl::Status ValidateLabel(absl::string_view key, absl::string_view value) {
  bool key_ok = !key.empty() && key.size() <= 63 && IsLowerAlnum(key[0]);
  for (char c : key) {
    key_ok = key_ok && (IsLowerAlnum(c) || c == '.' || c == '_' || c == '/' || c == '-');
  }
  if (!key_ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label key \"", key,
        "\" is not allowed: use 1 to 63 of lowercase letters, digits, '.', '_', '/', '-', "
        "starting with a letter or digit (for example tier=beefy)"));
  }
  bool value_ok = value.size() <= 63;
  for (char c : value) {
    value_ok = value_ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  }
  if (!value_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("label value \"", value, "\" for key \"", key,
                     "\" is not allowed: use up to 63 of letters, digits, '.', '_', '-'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("label \"", p, "\" must be written key=value (for example tier=beefy)"));
    }
    std::string key = p.substr(0, eq), value = p.substr(eq + 1);
    if (auto s = ValidateLabel(key, value); !s.ok()) return s;
    out[key] = value;
  }
  return out;
}

bool SplitHostPort(absl::string_view hp, std::string* host, int* port) {
  size_t colon = hp.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  absl::string_view h = hp.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  int p = 0;
  if (!absl::SimpleAtoi(hp.substr(colon + 1), &p) || p < 1 || p > 65535) return false;
  *host = std::string(h);
  *port = p;
  return true;
}

absl::Status ValidateHostPort(absl::string_view hp) {
  std::string host;
  int port;
  if (SplitHostPort(hp, &host, &port)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "address \"", hp,
      "\" must be HOST:PORT with a port from 1 to 65535 (for example 127.0.0.1:7443)"));
}

}  // namespace dflow
