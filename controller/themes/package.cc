#include "controller/themes/package.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/dokku_names.h"
#include "controller/store/store.h"
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

// A URL whose authority carries a credential: user:password@ in any scheme,
// and any user@ in http(s), where the user part is a token
// (https://ghp_…@github.com/…), e.g. a linked service's DATABASE_URL or a
// repository URL with a token in it. Its value must not leave the controller.
bool HasCredentials(const std::string& value) {
  size_t scheme = value.find("://");
  if (scheme == std::string::npos) return false;
  size_t start = scheme + 3;
  size_t end = value.find_first_of("/?#", start);
  std::string authority = value.substr(start, end == std::string::npos ? end : end - start);
  size_t at = authority.rfind('@');
  if (at == std::string::npos) return false;
  std::string name = absl::AsciiStrToLower(value.substr(0, scheme));
  if (name == "http" || name == "https") return true;
  return authority.find(':') < at;
}

// Dokku's checks:set timeout (per attempt, seconds) and attempts as the
// theme's whole wait and attempts, the inverse of what an install sets
// (installer_dokku.cc: timeout / attempts per attempt). Dokku's defaults
// stand in for the one not set: 5 attempts of 5 s (dokku.com/docs
// deployment/zero-downtime-deploys).
std::string HealthcheckTuning(const store::AppExtras& extras) {
  auto setting = [&](const char* name, int64_t* out) {
    auto it = extras.checks.find(name);
    return it != extras.checks.end() && absl::SimpleAtoi(it->second, out) && *out > 0;
  };
  int64_t timeout = 5, attempts = 5;
  bool has_timeout = setting("timeout", &timeout);
  bool has_attempts = setting("attempts", &attempts);
  if (!has_timeout && !has_attempts) return "";
  attempts = std::clamp<int64_t>(attempts, 1, 100);
  int64_t total = std::clamp<int64_t>(timeout * attempts, 1, 600);
  return absl::StrCat("  timeout: ", total, "s\n  attempts: ", attempts, "\n");
}

}  // namespace

bool LooksSecret(const std::string& key) {
  static const std::set<std::string> kCredential = {
      "SECRET", "SECRETS", "PASSWORD", "PASSWORDS",  "PASSWD",     "PASS",
      "PWD",    "TOKEN",   "TOKENS",   "PASSPHRASE", "SALT",       "KEY",
      "KEYS",   "APIKEY",  "COOKIE",   "CREDENTIAL", "CREDENTIALS"};
  static const std::set<std::string> kAbout = {
      "URL",       "URI",    "PATH",     "FILE",     "DIR",      "NAME",    "ID",         "HOST",
      "PORT",      "DOMAIN", "USER",     "USERNAME", "EMAIL",    "TYPE",    "KIND",       "MODE",
      "ALGORITHM", "LENGTH", "SIZE",     "TTL",      "EXPIRY",   "EXPIRES", "EXPIRATION", "TIMEOUT",
      "HEADER",    "PREFIX", "ENABLED",  "DISABLED", "REQUIRED", "SECURE",  "VERSION",    "FORMAT",
      "FIELD",     "ISSUER", "AUDIENCE", "ENDPOINT", "REGION",   "COUNT",   "LIMIT"};
  std::vector<std::string> words =
      absl::StrSplit(absl::AsciiStrToUpper(key), absl::ByAnyChar("_-."), absl::SkipEmpty());
  if (words.empty() || kAbout.count(words.back())) return false;
  bool public_seen = false;
  for (const auto& w : words) {
    if (w == "PUBLIC" || w == "PUBLISHABLE") public_seen = true;
    if (!kCredential.count(w)) continue;
    if ((w == "KEY" || w == "KEYS") && public_seen) continue;
    return true;
  }
  return false;
}

absl::StatusOr<AppOrigin> ReadAppOrigin(store::Store& store, const store::App& app) {
  AppOrigin out;
  absl::StatusOr<store::AppGit> git = store.GetAppGit(app.name);
  if (!git.ok()) return git.status();
  out.git_url = git->git_url;
  absl::StatusOr<std::map<std::string, std::string>> domains = store.ListDomains();
  if (!domains.ok()) return domains.status();
  for (const auto& [host, owner] : *domains) {
    if (owner == app.name) out.domains.push_back(host);
  }
  std::set<std::string> servers;
  if (!app.pinned_server.empty()) servers.insert(app.pinned_server);
  absl::StatusOr<std::vector<store::Instance>> instances = store.ListInstances(app.name);
  if (!instances.ok()) return instances.status();
  for (const auto& i : *instances) servers.insert(i.server);
  for (const auto& name : servers) {
    absl::StatusOr<store::Server> server = store.GetServer(name);
    if (!server.ok() && !absl::IsNotFound(server.status())) return server.status();
    if (server.ok() && server->runtime == "dokku") out.runs_on_dokku = true;
  }
  return out;
}

std::optional<GitSource> ReproducibleGitSource(const store::Release& release,
                                               const AppOrigin& origin,
                                               const store::AppExtras& extras,
                                               std::string* why_not) {
  auto no = [&](std::string why) -> std::optional<GitSource> {
    if (why_not != nullptr) *why_not = std::move(why);
    return std::nullopt;
  };
  const std::string& sha = release.commit_sha;
  if (sha.size() != 40 || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return no("the release records no git commit");
  }
  if (!absl::StartsWith(release.pushed_by, "github delivery ") &&
      !absl::StartsWith(release.pushed_by, "gitlab delivery ")) {
    return no(absl::StrCat("commit ", sha, " was pushed to this controller's own repository (",
                           release.pushed_by.empty() ? "no pusher recorded" : release.pushed_by,
                           "), so no other controller can fetch it"));
  }
  const std::string& url = origin.git_url;
  bool network = absl::StartsWith(url, "https://") || absl::StartsWith(url, "ssh://") ||
                 absl::StartsWith(url, "git://") ||
                 (url.find("://") == std::string::npos && url.find('@') != std::string::npos &&
                  url.find(':') != std::string::npos);
  if (url.empty() || !network) {
    return no(url.empty() ? "the app has no git URL"
                          : absl::StrCat("the app's git URL ", url, " is not a network URL"));
  }
  if (HasCredentials(url)) {
    return no("the app's git URL carries credentials, which a manifest must not");
  }
  if (!origin.runs_on_dokku && !extras.NeedsDokku()) {
    return no(
        "the app runs on LocalRuntime servers and a git theme installs on Dokku servers only");
  }
  return GitSource{url, sha};
}

absl::StatusOr<PackagedTheme> PackageApp(const store::App& app, const store::Release& release,
                                         const std::set<std::string>& secret_keys,
                                         const store::AppExtras& extras, const AppOrigin& origin) {
  PackagedTheme out;
  std::string y;
  absl::StrAppend(&y, "# Packaged by `dflow themes package ", app.name, "` from release v",
                  release.version, ".\n");
  absl::StrAppend(&y, "apiVersion: dflow/v1\nkind: Theme\nname: ", app.name, "\nversion: 1.0.0\n");
  absl::StrAppend(
      &y, "description: ",
      Q(absl::StrCat("Packaged from app ", app.name, " (release v", release.version, ")")), "\n");
  std::string why_not;
  if (!release.image.empty()) {  // deployed with `dflow deploy --image`
    absl::StrAppend(&y, "source:\n  image: ", Q(release.image), "\n");
  } else if (auto git = ReproducibleGitSource(release, origin, extras, &why_not)) {
    absl::StrAppend(&y, "# Built from ", release.pushed_by, ": the app's git URL at that commit.\n",
                    "source:\n  git: ", Q(git->url), "\n  ref: ", git->ref, "\n");
  } else {
    if (!release.commit_sha.empty()) {  // say why the commit does not travel as git
      absl::StrAppend(&y, "# Git commit ", release.commit_sha,
                      " travels as the release archive: ", why_not, ".\n");
    }
    absl::StrAppend(&y, "source:\n  release: ", kReleaseArchiveName, "\n");
    out.needs_archive = true;
  }
  if (!app.scale.empty()) {
    absl::StrAppend(&y, "processes:\n");
    for (const auto& [type, n] : app.scale) absl::StrAppend(&y, "  ", Q(type), ": ", n, "\n");
  }
  // What the schema has no place for is named in a comment, not dropped unsaid.
  std::vector<std::string> not_carried;
  bool port_written = false;
  for (const auto& map : extras.ports) {  // http:80:PORT, the app's own port
    if (!port_written && map.rfind("http:80:", 0) == 0) {
      absl::StrAppend(&y, "port: ", map.substr(8), "\n");
      port_written = true;
    } else {
      not_carried.push_back("port map " + map);
    }
  }
  for (const auto& [key, value] : extras.checks) {
    bool carried = !app.health_path.empty() && (key == "timeout" || key == "attempts");
    if (!carried) not_carried.push_back(absl::StrCat("checks ", key, "=", value));
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
      // The store keeps the URL without its password; the config has it whole.
      if (!svc.dsn.empty() &&
          ServiceUrlWithoutPassword(value) == ServiceUrlWithoutPassword(svc.dsn)) {
        linked[key] = "services." + name + ".url";
      }
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
    if (secret_keys.count(key) || LooksSecret(key) || HasCredentials(value) ||
        absl::StrContains(value, "PRIVATE KEY-----")) {
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
  // Custom domains as inputs, so an install elsewhere keeps today's names or
  // gives its own (--set domain_1=…).
  std::string domains;
  for (size_t i = 0; i < origin.domains.size(); ++i) {
    std::string name = NameFor(absl::StrCat("domain_", i + 1), &used);
    absl::StrAppend(&inputs, "  - name: ", name,
                    "\n    description: \"A hostname the app answers to\"\n    default: ",
                    Q(origin.domains[i]), "\n");
    absl::StrAppend(&domains, "  - \"{{ inputs.", name, " }}\"\n");
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
      // The owner the volume has on Dokku (a host path had none of its own).
      if (!m.chown.empty()) absl::StrAppend(&y, "    chown: ", m.chown, "\n");
    }
  }
  if (!app.health_path.empty()) {
    absl::StrAppend(&y, "healthcheck:\n  path: ", Q(app.health_path), "\n",
                    HealthcheckTuning(extras));
  }
  if (!domains.empty()) absl::StrAppend(&y, "domains:\n", domains);
  if (app.memory_bytes > 0 || app.cpus > 0) {
    absl::StrAppend(&y, "resources:\n");
    if (app.memory_bytes > 0) {
      absl::StrAppend(&y, "  memory: ", std::max<int64_t>(1, app.memory_bytes >> 20), "M\n");
    }
    if (app.cpus > 0) absl::StrAppend(&y, "  cpus: ", app.cpus, "\n");
  }
  if (!not_carried.empty()) {
    absl::StrAppend(&y, "# Not carried (a theme has no key for them; set them again after the ",
                    "install): ", absl::StrJoin(not_carried, ", "), "\n");
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
