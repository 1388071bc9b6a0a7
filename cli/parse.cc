#include "cli/parse.h"

#include <cctype>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/names.h"

namespace dflow::cli {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = kKiB * 1024;
constexpr int64_t kGiB = kMiB * 1024;
constexpr int kMaxScale = 1000;

bool IsProcessTypeChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

}  // namespace

absl::Status ValidateProcessType(absl::string_view type) {
  bool ok = !type.empty() && type.size() <= 63;
  for (char c : type) ok = ok && IsProcessTypeChar(c);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("process type \"", type,
                   "\" is not allowed: use 1 to 63 letters, digits, '_' or '-' (for example web)"));
}

absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text,
        "\" is not a size: use a positive number and a unit K, M or G (for example 256M or 1.5G)"));
  };
  size_t i = 0;
  while (i < text.size() &&
         (absl::ascii_isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  double number = 0;
  if (i == 0 || !absl::SimpleAtod(text.substr(0, i), &number) || !(number > 0)) return bad();
  std::string unit = absl::AsciiStrToUpper(text.substr(i));
  int64_t scale = 0;
  if (unit.empty()) return bad();
  switch (unit[0]) {
    case 'K':
      scale = kKiB;
      break;
    case 'M':
      scale = kMiB;
      break;
    case 'G':
      scale = kGiB;
      break;
    default:
      return bad();
  }
  absl::string_view rest = absl::string_view(unit).substr(1);
  if (!rest.empty() && rest != "I" && rest != "B" && rest != "IB") return bad();
  double bytes = std::round(number * static_cast<double>(scale));
  // 1 TiB per instance is far beyond any host; it also keeps the value in range.
  if (bytes < 1 || bytes > static_cast<double>(1024 * kGiB)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\" is out of range: use at least 1K and at most 1024G"));
  }
  return static_cast<int64_t>(bytes);
}

std::string FormatByteSize(int64_t bytes) {
  struct Unit {
    int64_t size;
    const char* name;
  } units[] = {{kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  for (const auto& u : units) {
    if (bytes < u.size) continue;
    if (bytes % u.size == 0) return absl::StrCat(bytes / u.size, " ", u.name);
    return absl::StrFormat("%.1f %s", static_cast<double>(bytes) / u.size, u.name);
  }
  return absl::StrCat(bytes, " B");
}

absl::StatusOr<double> ParseCpus(absl::string_view text) {
  double cpus = 0;
  if (!absl::SimpleAtod(text, &cpus) || !std::isfinite(cpus) || !(cpus > 0) || cpus > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--cpus \"", text,
                     "\" is not allowed: use a number of CPUs greater than 0 and at most 1024 "
                     "(for example 0.5 or 2)"));
  }
  return cpus;
}

absl::Status ValidateHealthPath(absl::string_view path) {
  bool ok = !path.empty() && path[0] == '/' && path.size() <= 1024;
  for (char c : path) {
    ok = ok && static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) != 0x7f;
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--health-path \"", path,
                   "\" is not allowed: use an HTTP path that starts with '/' and has no spaces "
                   "or control characters (for example /health)"));
}

absl::Status ValidateStrategy(absl::string_view strategy) {
  if (strategy == "spread" || strategy == "binpack") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--strategy \"", strategy,
      "\" is not allowed: use spread (instances across servers, the default) or binpack "
      "(fill the fullest server that fits first)"));
}

absl::StatusOr<std::map<std::string, std::string>> ParseConstraints(
    const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--constraint \"", p, "\" must be written key=value (for example tier=beefy)"));
    }
    std::string key = p.substr(0, eq), value = p.substr(eq + 1);
    if (auto s = ValidateLabel(key, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--constraint: ", s.message()));
    }
    if (auto [it, inserted] = out.emplace(key, value); !inserted && it->second != value) {
      return absl::InvalidArgumentError(
          absl::StrCat("--constraint ", key, " is given twice (", it->second, " and ", value,
                       "): a server has one value per label, so keep one"));
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, int32_t>> ParseScale(const std::vector<std::string>& pairs) {
  std::map<std::string, int32_t> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", p, "\" must be written TYPE=COUNT (for example web=2)"));
    }
    std::string type = p.substr(0, eq), count_text = p.substr(eq + 1);
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("\"", p, "\" is not allowed: ", why));
    };
    if (!ValidateProcessType(type).ok()) {
      return bad(
          "the process type must be 1 to 63 letters, digits, '_' or '-' (for example "
          "web=2)");
    }
    if (type == "release") {
      return bad(
          "the release process runs once per release, before instances switch, so it "
          "cannot be scaled (scale the types that serve, for example web=2)");
    }
    int32_t count = -1;
    bool digits = !count_text.empty() && count_text.size() <= 4;
    for (char c : count_text) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
    if (!digits || !absl::SimpleAtoi(count_text, &count) || count > kMaxScale) {
      return bad(absl::StrCat("the count must be a whole number from 0 to ", kMaxScale));
    }
    if (!out.emplace(type, count).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("process type ", type, " is given twice: give each type once"));
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> ParseConfigPairs(
    const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", p,
          "\" must be written KEY=VALUE (for example GREETING=hi); to remove a key use "
          "`dflow config unset`"));
    }
    std::string key = p.substr(0, eq);
    if (auto s = ValidateEnvKey(key); !s.ok()) return s;
    if (!out.emplace(key, p.substr(eq + 1)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("config key ", key, " is given twice: give each key once"));
    }
  }
  return out;
}

absl::Status ValidateConfigKeys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (auto s = ValidateEnvKey(k); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseVersion(absl::string_view text) {
  absl::string_view digits = text;
  if (!digits.empty() && (digits[0] == 'v' || digits[0] == 'V')) digits.remove_prefix(1);
  bool ok = !digits.empty();
  for (char c : digits) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(c));
  int64_t version = 0;
  if (!ok || !absl::SimpleAtoi(digits, &version) || version < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "release \"", text,
        "\" is not a version: use vN or N with N at least 1 (for example v3), as listed by "
        "`dflow releases APP`"));
  }
  return version;
}

absl::StatusOr<int64_t> ParseOpId(absl::string_view text) {
  bool ok = !text.empty();
  for (char c : text) ok = ok && absl::ascii_isdigit(static_cast<unsigned char>(c));
  int64_t id = 0;
  if (!ok || !absl::SimpleAtoi(text, &id) || id < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operation id \"", text,
        "\" is not allowed: use a whole number of at least 1, as listed by `dflow ops ls`"));
  }
  return id;
}

}  // namespace dflow::cli
