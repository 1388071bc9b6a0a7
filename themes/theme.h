// A theme manifest (themes/SCHEMA.md) as plain structs, and the function that
// reads, checks and decodes one.
//
// ParseTheme() never stops at the first problem: it reports every error it can
// find (syntax, duplicate keys, unknown keys with the nearest valid key, wrong
// types, missing required keys, bad names, unpinned images, undefined template
// references) as diagnostics with line:column marks, and returns a Theme only
// when there is none. It touches no files; CheckThemeFiles() is the separate
// check that a bundle/release named by the manifest exists beside it.
#ifndef DFLOW_THEMES_THEME_H_
#define DFLOW_THEMES_THEME_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "themes/yaml_doc.h"

namespace dflow::themes {

inline constexpr char kApiVersion[] = "dflow/v1";
inline constexpr char kKind[] = "Theme";

struct Source {
  enum class Kind { kImage, kGit, kBundle, kRelease };
  Kind kind = Kind::kBundle;
  std::string image;    // kImage: repo:tag (pinned)
  std::string git;      // kGit: repository URL
  std::string ref;      // kGit: tag, branch or commit
  std::string bundle;   // kBundle: directory beside the manifest
  std::string release;  // kRelease: tar.gz beside the manifest
  Mark mark;
};
const char* SourceKindName(Source::Kind k);  // "image", "git", "bundle", "release"

struct Input {
  std::string name;
  std::string description;
  std::string type = "string";  // string | int | bool | email | url
  std::optional<std::string> default_value;
  bool required = false;
  std::string pattern;  // RE2 regex the whole value must match (pattern.h)
  Mark mark;
  Mark default_mark;
};

struct Secret {
  std::string name;
  int length = 32;
  std::string alphabet = "alnum";  // alnum | hex | base64url | lower
  Mark mark;
};

// The parts of a service's connection a template may use.
inline constexpr const char* kServiceParts[] = {"url",  "host",     "port",
                                                "user", "password", "database"};

struct Service {
  std::string name;                // how templates refer to it: services.NAME.*
  std::string type;                // postgres | mysql | mariadb | redis | mongo | rabbitmq
  std::string version;             // optional plugin image version
  std::vector<std::string> wants;  // subset of kServiceParts; default {"url"}
  bool split() const;              // wants anything but the URL
  Mark mark;
};

struct EnvVar {
  std::string key;
  std::string value;  // a template
  Mark mark;          // where the value starts in the source
};

struct Volume {
  std::string name;  // defaults to the path's last component
  std::string path;  // absolute path inside the app
  bool backup = false;
  // Who owns its host directory on Dokku, in Dokku's --chown words
  // (herokuish | heroku | paketo | root | false).
  std::string chown = "herokuish";
};

struct Healthcheck {
  std::string path;
  int64_t timeout_ms = 60000;
  int attempts = 5;
};

struct Resources {
  int64_t memory_bytes = 0;
  double cpus = 0;
};

struct Domain {
  std::string host;  // a template
  Mark mark;
};

struct Theme {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string version;
  std::string description;
  Source source;
  int port = 0;                          // 0: the runtime's default ($PORT on LocalRuntime)
  std::map<std::string, int> processes;  // process type -> instances
  std::vector<Input> inputs;
  std::vector<Secret> secrets;
  std::vector<Service> services;
  std::vector<EnvVar> env;
  std::vector<Volume> volumes;
  std::optional<Healthcheck> healthcheck;
  Resources resources;
  std::vector<Domain> domains;

  const Input* FindInput(absl::string_view name) const;
  const Secret* FindSecret(absl::string_view name) const;
  const Service* FindService(absl::string_view name) const;
};

struct ThemeParse {
  std::optional<Theme> theme;           // set only when diagnostics is empty
  std::vector<Diagnostic> diagnostics;  // sorted by position
};

ThemeParse ParseTheme(absl::string_view text);

// Problems with files the manifest names, relative to `dir` (the manifest's
// directory): a bundle directory with a Procfile, a release archive.
std::vector<Diagnostic> CheckThemeFiles(const Theme& theme, const std::string& dir);

// The nearest of `candidates` to `word` by edit distance (transpositions count
// one), or "" when none is close enough to be a likely typo.
std::string NearestWord(absl::string_view word, const std::vector<std::string>& candidates);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_THEME_H_
