// What the controller, the agent and the CLI check the same way about Dokku's
// extras: port maps, storage, check settings, services and image references,
// and how a service URL splits into variables. Messages say what is allowed.
#ifndef DFLOW_COMMON_DOKKU_NAMES_H_
#define DFLOW_COMMON_DOKKU_NAMES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace dflow {

// SCHEME:HOST_PORT:CONTAINER_PORT with scheme http, https, tcp or udp and ports
// 1-65535, as `dokku ports:set` takes it (docs: networking/port-management).
absl::Status ValidatePortMap(absl::string_view map);
// A named storage ([A-Za-z0-9_-]+, Dokku's storage:create rule) or an
// absolute host path; then ":" and an absolute container directory.
absl::Status ValidateStorageMount(absl::string_view source, absl::string_view container_dir);
bool IsNamedStorage(absl::string_view source);
// Who owns a named storage's host directory, in Dokku's --chown words:
// herokuish (32767, the default), heroku (1000), paketo (2000), root (0) or
// false (left as Dokku made it). An absolute host path takes none: Dokku 0.38
// refuses --chown off its own storage directory (requireDefaultHostPath).
absl::Status ValidateStorageChown(absl::string_view source, absl::string_view chown);
// Those --chown words, in that order (theme manifests take the same).
const std::vector<std::string>& StorageOwners();
// The owner a mount is made with: "" for a host path, herokuish when unset.
std::string StorageChownOrDefault(absl::string_view source, absl::string_view chown);
// Whether Dokku `dokku_version` ("0.35.20", as agents report it) on `server`
// can give storage `source` to `owner`: before 0.38 its chown helper takes
// 32767, 1000 and 2000 only (plugins/storage/bin/chown-storage-dir @ v0.35.20),
// so root is FailedPrecondition there. An unknown version passes.
absl::Status CheckStorageOwnerOnDokku(absl::string_view owner, absl::string_view source,
                                      absl::string_view dokku_version, absl::string_view server);
// The version test of CheckStorageOwnerOnDokku: false for a known version
// before 0.38.
bool DokkuChownsToRoot(absl::string_view dokku_version);
// wait | timeout | attempts | wait-to-retire (what `checks set` and `checks unset` take).
absl::Status ValidateCheckKey(absl::string_view key);
// A check key with a whole number (seconds; attempts: a count).
absl::Status ValidateCheckSetting(absl::string_view key, absl::string_view value);
// postgres | redis | mysql (the dokku-postgres, dokku-redis and dokku-mysql plugins).
absl::Status ValidateServiceKind(absl::string_view kind);
// Dokku's service name rule ([A-Za-z0-9_]+, the postgres/redis plugins'
// `is_valid_service_name`), at most 48 characters.
absl::Status ValidateServiceName(absl::string_view name);
// Empty, or [A-Z_][A-Z0-9_]* ending in "_" (e.g. DB_).
absl::Status ValidateSplitPrefix(absl::string_view prefix);
// A pinned image: REPO:TAG (or REPO@sha256:…); no tag and the tag "latest" are refused.
absl::Status ValidatePinnedImage(absl::string_view image);

// The variable a link sets: DATABASE_URL (postgres, mysql) or REDIS_URL (redis).
std::string ServiceUrlVariable(absl::string_view kind);
// scheme://user:password@host:port/database into {HOST, PORT, USER, PASSWORD,
// DATABASE} (missing parts are empty).
std::map<std::string, std::string> SplitServiceUrl(absl::string_view url);
// The URL without its password (scheme://user@host:port/database): what the
// controller may keep and show. Unchanged when it has none.
std::string ServiceUrlWithoutPassword(absl::string_view url);

}  // namespace dflow

#endif  // DFLOW_COMMON_DOKKU_NAMES_H_
