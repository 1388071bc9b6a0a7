#include "common/dokku_names.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dflow {
namespace {

bool AllOf(absl::string_view s, bool (*ok)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), ok);
}

bool Port(absl::string_view s, int* out) {
  return AllOf(s, [](char c) { return absl::ascii_isdigit(c); }) && absl::SimpleAtoi(s, out) &&
         *out >= 1 && *out <= 65535;
}

}  // namespace

absl::Status ValidatePortMap(absl::string_view map) {
  std::vector<absl::string_view> parts = absl::StrSplit(map, ':');
  int host = 0, container = 0;
  // Dokku's proxies know these schemes (docs: networking/port-management).
  static const char* kSchemes[] = {"http", "https", "tcp", "udp", "grpc", "grpcs"};
  bool scheme = parts.size() == 3 && std::any_of(std::begin(kSchemes), std::end(kSchemes),
                                                 [&](const char* s) { return parts[0] == s; });
  if (!scheme || !Port(parts[1], &host) || !Port(parts[2], &container)) {
    return absl::InvalidArgumentError(
        absl::StrCat("port map \"", map,
                     "\" is not SCHEME:HOST_PORT:CONTAINER_PORT (scheme http, https, tcp, udp, "
                     "grpc or grpcs; ports 1-65535), e.g. http:80:5000"));
  }
  return absl::OkStatus();
}

bool IsNamedStorage(absl::string_view source) {
  return AllOf(source, [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; });
}

absl::Status ValidateStorageMount(absl::string_view source, absl::string_view container_dir) {
  bool path = !source.empty() && source[0] == '/' && source.find(':') == absl::string_view::npos;
  if (!path && !IsNamedStorage(source)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage \"", source,
                     "\" is neither a name (letters, digits, _ and -) nor an absolute host path"));
  }
  if (container_dir.empty() || container_dir[0] != '/' ||
      container_dir.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("the container directory \"", container_dir,
                                                   "\" must be an absolute path without ':'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateStorageChown(absl::string_view source, absl::string_view chown) {
  if (chown.empty()) return absl::OkStatus();
  if (!IsNamedStorage(source)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--chown is for a named storage only; the host path ", source,
                     " keeps its owner (Dokku does not chown a directory outside its storage "
                     "directory): chown it on the server yourself"));
  }
  const auto& owners = StorageOwners();
  if (std::find(owners.begin(), owners.end(), chown) == owners.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown storage owner \"", chown,
                     "\"; use herokuish (uid 32767, the default), heroku (1000), paketo (2000), "
                     "root (0) or false (no chown)"));
  }
  return absl::OkStatus();
}

const std::vector<std::string>& StorageOwners() {
  static const std::vector<std::string> kOwners = {"herokuish", "heroku", "paketo", "root",
                                                   "false"};
  return kOwners;
}

std::string StorageChownOrDefault(absl::string_view source, absl::string_view chown) {
  if (!IsNamedStorage(source)) return "";
  return chown.empty() ? "herokuish" : std::string(chown);
}

bool DokkuChownsToRoot(absl::string_view dokku_version) {
  std::vector<absl::string_view> parts = absl::StrSplit(dokku_version, '.');
  int major = 0, minor = 0;
  return parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
         !absl::SimpleAtoi(parts[1], &minor) || major > 0 || minor >= 38;
}

absl::Status CheckStorageOwnerOnDokku(absl::string_view owner, absl::string_view source,
                                      absl::string_view dokku_version, absl::string_view server) {
  if (owner != "root" || DokkuChownsToRoot(dokku_version)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "Dokku ", dokku_version, " on ", server, " cannot give storage ", source,
      " to root (before 0.38 its chown helper takes herokuish, heroku or paketo only); "
      "mount it with --chown false to keep Dokku's owner, or upgrade Dokku to 0.38"));
}

absl::Status ValidateCheckKey(absl::string_view key) {
  if (key != "wait" && key != "timeout" && key != "attempts" && key != "wait-to-retire") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown check setting \"", key, "\"; use wait, timeout, attempts or wait-to-retire"));
  }
  return absl::OkStatus();
}

absl::Status ValidateCheckSetting(absl::string_view key, absl::string_view value) {
  if (auto s = ValidateCheckKey(key); !s.ok()) return s;
  int n = 0;
  if (!AllOf(value, [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(value, &n) || n > 86400) {
    return absl::InvalidArgumentError(
        absl::StrCat("check ", key, " takes a whole number (seconds, or attempts) from 0 to 86400",
                     ", not \"", value, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceKind(absl::string_view kind) {
  if (kind == "postgres" || kind == "redis" || kind == "mysql") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "service kind \"", kind, "\" is not one dflow drives; use postgres, redis or mysql"));
}

absl::Status ValidateServiceName(absl::string_view name) {
  if (name.size() <= 48 && AllOf(name, [](char c) { return absl::ascii_isalnum(c) || c == '_'; })) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "service name \"", name, "\" is not valid: use letters, digits and _ (at most 48)"));
}

absl::Status ValidateSplitPrefix(absl::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  bool ok = prefix.back() == '_' && !absl::ascii_isdigit(prefix[0]) && AllOf(prefix, [](char c) {
              return absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '_';
            });
  if (ok && prefix.size() <= 32) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "split-env prefix \"", prefix,
      "\" must be upper-case letters, digits and _, start with a letter or _ and end with _ "
      "(e.g. DB_)"));
}

absl::Status ValidatePinnedImage(absl::string_view image) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("image \"", image, "\" ", why));
  };
  if (image.empty()) return bad("is empty; give REPO:TAG, e.g. nginx:1.27");
  for (char c : image) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_' || c == '/' || c == ':' ||
          c == '@')) {
      return bad("has characters an image reference cannot have (letters, digits, . - _ / : @)");
    }
  }
  if (image.find('@') != absl::string_view::npos) {
    absl::string_view digest = image.substr(image.find('@') + 1);
    if (digest.substr(0, 7) != "sha256:" || digest.size() != 71) {
      return bad("has a digest that is not sha256: and 64 hex digits");
    }
    return absl::OkStatus();
  }
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon == absl::string_view::npos || (slash != absl::string_view::npos && colon < slash)) {
    return bad("has no tag; pin one, e.g. nginx:1.27 (an untagged image means :latest)");
  }
  absl::string_view tag = image.substr(colon + 1);
  if (tag.empty()) return bad("has an empty tag; pin one, e.g. nginx:1.27");
  if (tag == "latest") {
    return bad("uses the tag latest, which moves; pin a version, e.g. nginx:1.27");
  }
  if (colon == 0 || image.front() == '/') return bad("has no repository");
  return absl::OkStatus();
}

std::string ServiceUrlVariable(absl::string_view kind) {
  // The plugins' default alias (PLUGIN_DEFAULT_ALIAS in dokku-postgres/config,
  // dokku-redis/config, dokku-mysql/config: DATABASE) with _URL.
  return kind == "redis" ? "REDIS_URL" : "DATABASE_URL";
}

std::map<std::string, std::string> SplitServiceUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (size_t p = rest.find("://"); p != absl::string_view::npos) rest.remove_prefix(p + 3);
  absl::string_view auth, where = rest;
  if (size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    auth = rest.substr(0, at);
    where = rest.substr(at + 1);
  }
  absl::string_view hostport = where.substr(0, where.find('/'));
  absl::string_view database =
      where.find('/') == absl::string_view::npos ? "" : where.substr(where.find('/') + 1);
  size_t colon = hostport.rfind(':');
  size_t auth_colon = auth.find(':');
  return {{"HOST", std::string(hostport.substr(0, colon))},
          {"PORT", colon == absl::string_view::npos ? "" : std::string(hostport.substr(colon + 1))},
          {"USER", std::string(auth.substr(0, auth_colon))},
          {"PASSWORD",
           auth_colon == absl::string_view::npos ? "" : std::string(auth.substr(auth_colon + 1))},
          {"DATABASE", std::string(database)}};
}

std::string ServiceUrlWithoutPassword(absl::string_view url) {
  size_t start = url.find("://");
  start = start == absl::string_view::npos ? 0 : start + 3;
  size_t at = url.rfind('@');
  if (at == absl::string_view::npos || at < start) return std::string(url);
  size_t colon = url.substr(start, at - start).find(':');
  if (colon == absl::string_view::npos) return std::string(url);
  return absl::StrCat(url.substr(0, start + colon), url.substr(at));
}

}  // namespace dflow
