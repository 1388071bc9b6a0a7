#include "controller/themes/package.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "controller/themes/catalog.h"
#include "themes/theme.h"

namespace dflow::controller_themes {
namespace {

// A YAML double-quoted scalar (JSON's escapes are YAML's).
std::string Q(const std::string& s) { return nlohmann::json(s).dump(); }

// A template name for a config key: lowercase, starting with a letter.
std::string NameFor(const std::string& key, std::set<std::string>* used) {
  std::string n;
  for (char c : key) {
    n += absl::ascii_isalnum(static_cast<unsigned char>(c))
             ? absl::ascii_tolower(static_cast<unsigned char>(c))
             : '_';
  }
  while (!n.empty() && n[0] == '_') n.erase(0, 1);
  if (n.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(n[0]))) n = "v_" + n;
  n = n.substr(0, 60);
  std::string out = n;
  for (int i = 2; used->count(out); ++i) out = absl::StrCat(n, "_", i);
  used->insert(out);
  return out;
}

// A URL carrying a password (scheme://user:password@host…), e.g. a linked
// service's DATABASE_URL: its value must not leave the controller either.
bool HasCredentials(const std::string& value) {
  size_t scheme = value.find("://");
  if (scheme == std::string::npos) return false;
  size_t at = value.find('@', scheme + 3);
  size_t slash = value.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return false;
  return value.find(':', scheme + 3) < at;
}

}  // namespace

bool LooksSecret(const std::string& key) {
  std::string upper = absl::AsciiStrToUpper(key);
  for (const char* w : {"SECRET", "PASSWORD", "TOKEN", "KEY", "SALT", "PASS", "CREDENTIAL"}) {
    if (absl::StrContains(upper, w)) return true;
  }
  return false;
}

absl::StatusOr<PackagedTheme> PackageApp(const store::App& app, const store::Release& release,
                                         const std::set<std::string>& secret_keys,
                                         const store::AppExtras& extras) {
  PackagedTheme out;
  std::string y;
  absl::StrAppend(&y, "# Packaged by `dflow themes package ", app.name, "` from release v",
                  release.version, ".\n");
  absl::StrAppend(&y, "apiVersion: dflow/v1\nkind: Theme\nname: ", app.name, "\nversion: 1.0.0\n");
  absl::StrAppend(
      &y, "description: ",
      Q(absl::StrCat("Packaged from app ", app.name, " (release v", release.version, ")")), "\n");
  if (!release.image.empty()) {  // deployed with `dflow deploy --image`
    absl::StrAppend(&y, "source:\n  image: ", Q(release.image), "\n");
  } else {
    absl::StrAppend(&y, "source:\n  release: ", kReleaseArchiveName, "\n");
    out.needs_archive = true;
  }
  if (!app.scale.empty()) {
    absl::StrAppend(&y, "processes:\n");
    for (const auto& [type, n] : app.scale) absl::StrAppend(&y, "  ", Q(type), ": ", n, "\n");
  }
  for (const auto& map : extras.ports) {  // http:80:PORT, the app's own port
    if (map.rfind("http:80:", 0) == 0) {
      absl::StrAppend(&y, "port: ", map.substr(8), "\n");
      break;
    }
  }
  std::set<std::string> used;
  std::string inputs, secrets, env, services;
  const auto& config = release.config.empty() ? app.config : release.config;
  // Keys a service link set: the URL, and PREFIX_HOST … with a split prefix.
  std::map<std::string, std::string> linked;  // key -> template
  for (const auto& svc : extras.services) {
    std::string name = NameFor(svc.name, &used);
    absl::StrAppend(&services, "  - name: ", name, "\n    type: ", svc.kind,
                    "\n    wants: [url, host, port, user, password, database]\n");
    for (const auto& [key, value] : config) {
      if (!svc.dsn.empty() && value == svc.dsn) linked[key] = "services." + name + ".url";
    }
    for (const auto& l : svc.links) {
      if (l.split_prefix.empty()) continue;
      for (const char* part : {"HOST", "PORT", "USER", "PASSWORD", "DATABASE"}) {
        std::string key = l.split_prefix + part;
        if (config.count(key)) {
          linked[key] = "services." + name + "." + absl::AsciiStrToLower(part);
        }
      }
    }
  }
  for (const auto& [key, value] : config) {
    if (auto it = linked.find(key); it != linked.end()) {
      absl::StrAppend(&env, "  ", key, ": \"{{ ", it->second, " }}\"\n");
      continue;
    }
    std::string name = NameFor(key, &used);
    if (secret_keys.count(key) || LooksSecret(key) || HasCredentials(value)) {
      int length = std::clamp(static_cast<int>(value.size()), 16, 256);
      absl::StrAppend(&secrets, "  - name: ", name, "\n    length: ", length, "\n");
      absl::StrAppend(&env, "  ", key, ": \"{{ secrets.", name, " }}\"\n");
    } else {
      absl::StrAppend(&inputs, "  - name: ", name,
                      "\n    description: ", Q(absl::StrCat("The app's ", key)),
                      "\n    default: ", Q(value), "\n");
      absl::StrAppend(&env, "  ", key, ": \"{{ inputs.", name, " }}\"\n");
    }
  }
  if (!inputs.empty()) absl::StrAppend(&y, "inputs:\n", inputs);
  if (!services.empty()) absl::StrAppend(&y, "services:\n", services);
  if (!secrets.empty()) absl::StrAppend(&y, "secrets:\n", secrets);
  if (!env.empty()) absl::StrAppend(&y, "env:\n", env);
  if (!extras.storage.empty()) {
    absl::StrAppend(&y, "volumes:\n");
    for (const auto& m : extras.storage) {
      std::string last = m.container_dir.substr(m.container_dir.rfind('/') + 1);
      absl::StrAppend(&y, "  - name: ", NameFor(last.empty() ? "data" : last, &used),
                      "\n    path: ", Q(m.container_dir), "\n    backup: true\n");
    }
  }
  if (!app.health_path.empty()) {
    absl::StrAppend(&y, "healthcheck:\n  path: ", Q(app.health_path), "\n");
  }
  if (app.memory_bytes > 0 || app.cpus > 0) {
    absl::StrAppend(&y, "resources:\n");
    if (app.memory_bytes > 0) {
      absl::StrAppend(&y, "  memory: ", std::max<int64_t>(1, app.memory_bytes >> 20), "M\n");
    }
    if (app.cpus > 0) absl::StrAppend(&y, "  cpus: ", app.cpus, "\n");
  }
  out.manifest = y;
  // What we write must be a valid theme (an input default that fails its own
  // check, a name the rules refuse, …): say so instead of writing it.
  themes::ThemeParse p = themes::ParseTheme(out.manifest);
  if (!p.theme) {
    return absl::FailedPreconditionError(
        absl::StrCat("the theme packaged from ", app.name, " does not validate:\n",
                     DiagnosticsText("theme.yaml", p.diagnostics)));
  }
  return out;
}

}  // namespace dflow::controller_themes
