#include "themes/theme.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include <re2/re2.h>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/names.h"
#include "themes/decoder.h"

namespace dflow::themes {
namespace {

// What a common/names.h rule allows: its message after "… is not allowed: ".
std::string RuleOf(const absl::Status& s) {
  std::string why(s.message());
  size_t p = why.find("is not allowed: ");
  return p == std::string::npos ? why : why.substr(p + 16);
}

const std::vector<std::string>& TopLevelKeys() {
  static const std::vector<std::string> k = {"apiVersion",  "kind",        "name",      "version",
                                             "description", "source",      "port",      "processes",
                                             "inputs",      "secrets",     "services",  "env",
                                             "volumes",     "healthcheck", "resources", "domains"};
  return k;
}

void DecodeScalars(Decoder& d, const YamlNode& root, Theme* t) {
  const char* kWhat = "the theme";
  if (const YamlNode* v = d.Required(root, kWhat, "apiVersion");
      v && d.String(*v, "apiVersion", &t->api_version) && t->api_version != kApiVersion) {
    d.Error(v->mark,
            absl::StrCat("apiVersion must be \"", kApiVersion, "\", got ", Quoted(t->api_version)));
  }
  if (const YamlNode* v = d.Required(root, kWhat, "kind");
      v && d.String(*v, "kind", &t->kind) && t->kind != kKind) {
    d.Error(v->mark, absl::StrCat("kind must be \"", kKind, "\", got ", Quoted(t->kind)));
  }
  if (const YamlNode* v = d.Required(root, kWhat, "name"); v && d.String(*v, "name", &t->name)) {
    if (auto s = ValidateAppName(t->name); !s.ok()) {
      d.Error(v->mark,
              absl::StrCat("name ", Quoted(t->name), " is not a valid theme name: ", RuleOf(s)));
    }
  }
  if (const YamlNode* v = d.Required(root, kWhat, "version");
      v && d.String(*v, "version", &t->version)) {
    static const RE2 kVersion(R"([0-9]+(?:\.[0-9]+){0,2}(?:[-+][0-9A-Za-z.-]{1,40})?)",
                              RE2::Latin1);
    if (!RE2::FullMatch(t->version, kVersion)) {
      d.Error(v->mark, absl::StrCat("version ", Quoted(t->version),
                                    " must look like 1.2.3 (optionally -suffix)"));
    }
  }
  if (const YamlNode* v = d.Required(root, kWhat, "description")) {
    if (d.String(*v, "description", &t->description) && t->description.size() > 500) {
      d.Error(v->mark, "description is longer than 500 characters");
    }
  }
  if (const YamlNode* v = root.Find("port")) {
    int64_t port = 0;
    if (d.Int(*v, "port", 1, 65535, &port)) t->port = static_cast<int>(port);
  }
}

void DecodeProcesses(Decoder& d, const YamlNode& n, Theme* t) {
  if (!n.IsMap()) {
    d.Error(n.mark, absl::StrCat("processes must be a map of process type to instances, got ",
                                 KindName(n)));
    return;
  }
  static const RE2 kType(R"([A-Za-z0-9_-]{1,63})", RE2::Latin1);
  for (const auto& [k, v] : n.entries) {
    std::string type;
    if (!d.String(k, "a process type", &type)) continue;
    if (!RE2::FullMatch(type, kType) || type == "release") {
      d.Error(k.mark, absl::StrCat("process type ", Quoted(type),
                                   " must be 1 to 63 of letters, digits, _ and - (not release)"));
      continue;
    }
    int64_t count = 0;
    if (d.Int(v, absl::StrCat("processes.", type), 0, 100, &count)) {
      t->processes[type] = static_cast<int>(count);
    }
  }
}

void DecodeEnv(Decoder& d, const YamlNode& n, Theme* t) {
  if (!n.IsMap()) {
    d.Error(n.mark, absl::StrCat("env must be a map of KEY: value, got ", KindName(n)));
    return;
  }
  for (const auto& [k, v] : n.entries) {
    std::string key;
    if (!d.String(k, "an env key", &key)) continue;
    if (auto s = ValidateEnvKey(key); !s.ok()) {
      d.Error(k.mark, absl::StrCat("env key ", Quoted(key), " is not valid: ", RuleOf(s)));
      continue;
    }
    EnvVar e{key, "", v.mark};
    if (v.kind == YamlNode::Kind::kNull) {
      d.Error(k.mark, absl::StrCat("env.", key, " has no value; write \"\" for an empty one"));
      continue;
    }
    if (d.String(v, absl::StrCat("env.", key), &e.value)) t->env.push_back(std::move(e));
  }
}

void DecodeDomains(Decoder& d, const YamlNode& n, Theme* t) {
  if (!d.List(n, "domains")) return;
  for (size_t i = 0; i < n.items.size(); ++i) {
    Domain dom;
    dom.mark = n.items[i].mark;
    if (d.String(n.items[i], absl::StrCat("domains[", i, "]"), &dom.host)) {
      t->domains.push_back(std::move(dom));
    }
  }
}

}  // namespace

const char* SourceKindName(Source::Kind k) {
  switch (k) {
    case Source::Kind::kImage:
      return "image";
    case Source::Kind::kGit:
      return "git";
    case Source::Kind::kRelease:
      return "release";
    default:
      return "bundle";
  }
}

bool Service::split() const {
  return std::any_of(wants.begin(), wants.end(), [](const std::string& w) { return w != "url"; });
}

const Input* Theme::FindInput(absl::string_view n) const {
  for (const auto& i : inputs) {
    if (i.name == n) return &i;
  }
  return nullptr;
}
const Secret* Theme::FindSecret(absl::string_view n) const {
  for (const auto& s : secrets) {
    if (s.name == n) return &s;
  }
  return nullptr;
}
const Service* Theme::FindService(absl::string_view n) const {
  for (const auto& s : services) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

ThemeParse ParseTheme(absl::string_view text) {
  ThemeParse out;
  YamlParse y = ParseYaml(text);
  Decoder d;
  d.diagnostics = std::move(y.diagnostics);
  if (y.ok) {
    const YamlNode& root = y.root;
    if (!root.IsMap()) {
      d.Error(root.mark, absl::StrCat("a theme manifest must be a map of keys (apiVersion, kind, "
                                      "name, …), got ",
                                      KindName(root)));
    } else {
      Theme t;
      d.Map(root, "the theme", TopLevelKeys());
      DecodeScalars(d, root, &t);
      if (const YamlNode* v = d.Required(root, "the theme", "source"))
        DecodeSource(d, *v, &t.source);
      if (const YamlNode* v = root.Find("processes")) DecodeProcesses(d, *v, &t);
      if (const YamlNode* v = root.Find("inputs")) DecodeInputs(d, *v, &t.inputs);
      if (const YamlNode* v = root.Find("secrets")) DecodeSecrets(d, *v, &t.secrets);
      if (const YamlNode* v = root.Find("services")) DecodeServices(d, *v, &t.services);
      if (const YamlNode* v = root.Find("env")) DecodeEnv(d, *v, &t);
      if (const YamlNode* v = root.Find("volumes")) DecodeVolumes(d, *v, &t.volumes);
      if (const YamlNode* v = root.Find("healthcheck")) {
        t.healthcheck.emplace();
        DecodeHealthcheck(d, *v, &*t.healthcheck);
      }
      if (const YamlNode* v = root.Find("resources")) DecodeResources(d, *v, &t.resources);
      if (const YamlNode* v = root.Find("domains")) DecodeDomains(d, *v, &t);
      CheckReferences(d, text, t);
      if (d.diagnostics.empty()) out.theme = std::move(t);
    }
  }
  out.diagnostics = std::move(d.diagnostics);
  std::stable_sort(
      out.diagnostics.begin(), out.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
        return std::tie(a.mark.line, a.mark.column) < std::tie(b.mark.line, b.mark.column);
      });
  return out;
}

std::vector<Diagnostic> CheckThemeFiles(const Theme& theme, const std::string& dir) {
  std::vector<Diagnostic> out;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (theme.source.kind == Source::Kind::kBundle) {
    fs::path p = fs::path(dir) / theme.source.bundle;
    if (!fs::is_directory(p, ec)) {
      out.push_back({theme.source.mark,
                     absl::StrCat("source.bundle: directory ", p.string(), " does not exist")});
    } else if (!fs::is_regular_file(p / "Procfile", ec)) {
      out.push_back({theme.source.mark,
                     absl::StrCat("source.bundle: ", p.string(),
                                  " has no Procfile; a bundle needs one with a web: line")});
    }
  }
  if (theme.source.kind == Source::Kind::kRelease) {
    fs::path p = fs::path(dir) / theme.source.release;
    if (!fs::is_regular_file(p, ec)) {
      out.push_back({theme.source.mark,
                     absl::StrCat("source.release: file ", p.string(), " does not exist")});
    }
  }
  return out;
}

}  // namespace dflow::themes
