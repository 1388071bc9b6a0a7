// Decoding of the manifest's structured sections; see themes/SCHEMA.md.
#include <algorithm>
#include <cctype>
#include <set>

#include <re2/re2.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/dokku_names.h"
#include "themes/decoder.h"
#include "themes/pattern.h"

namespace dflow::themes {
namespace {

std::string At(absl::string_view list, size_t i) { return absl::StrCat(list, "[", i, "]"); }

bool OneOf(Decoder& d, const YamlNode& n, absl::string_view what,
           const std::vector<std::string>& allowed, std::string* out) {
  std::string s;
  if (!d.String(n, what, &s)) return false;
  if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
    d.Error(n.mark, absl::StrCat(what, " must be one of ", absl::StrJoin(allowed, ", "), "; got ",
                                 Quoted(s)));
    return false;
  }
  *out = s;
  return true;
}

// repo[:tag][@sha256:digest] with a pinned tag that is not "latest".
void CheckImage(Decoder& d, const YamlNode& n, const std::string& image) {
  static const RE2 kRef(
      R"([a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)"
      R"((?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?)",
      RE2::Latin1);
  if (!RE2::FullMatch(image, kRef)) {
    d.Error(n.mark, absl::StrCat("source.image ", Quoted(image),
                                 " is not an image reference; write REPOSITORY:TAG, e.g. "
                                 "n8nio/n8n:1.64.3"));
    return;
  }
  size_t slash = image.rfind('/');
  size_t at = image.find('@');
  std::string name_tag = image.substr(0, at);
  size_t colon = name_tag.rfind(':');
  bool has_tag = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (!has_tag && at == std::string::npos) {
    d.Error(n.mark, absl::StrCat("source.image ", Quoted(image),
                                 " has no tag; pin a version, e.g. ", image, ":1.2.3"));
    return;
  }
  if (has_tag && name_tag.substr(colon + 1) == "latest") {
    d.Error(n.mark, absl::StrCat("source.image ", Quoted(image),
                                 " uses the tag \"latest\", which moves; pin a version, e.g. ",
                                 name_tag.substr(0, colon), ":1.2.3"));
  }
}

bool LooksLikeGitUrl(absl::string_view url) {
  if (url.empty() || url[0] == '-' || url.find_first_of(" \t\r\n\\") != absl::string_view::npos) {
    return false;
  }
  for (absl::string_view p : {"https://", "ssh://", "git://", "file://"}) {
    if (absl::StartsWith(url, p) && url.size() > p.size()) return true;
  }
  size_t colon = url.find(':');
  return url.find('@') != absl::string_view::npos && colon != absl::string_view::npos &&
         colon + 1 < url.size();
}

// A path beside the manifest: relative, inside its directory.
void CheckRelativePath(Decoder& d, const YamlNode& n, absl::string_view what,
                       const std::string& p) {
  bool ok = !p.empty() && p[0] != '/' && p.find('\\') == std::string::npos;
  for (absl::string_view seg : absl::StrSplit(p, '/')) ok = ok && seg != "..";
  if (!ok) {
    d.Error(n.mark, absl::StrCat(what, " ", Quoted(p),
                                 " must be a relative path inside the theme's directory"));
  }
}

}  // namespace

void DecodeSource(Decoder& d, const YamlNode& n, Source* out) {
  out->mark = n.mark;
  if (!d.Map(n, "source", {"image", "git", "ref", "bundle", "release"})) return;
  std::vector<std::string> kinds;
  for (absl::string_view k : {"image", "git", "bundle", "release"}) {
    if (n.Find(k) != nullptr) kinds.emplace_back(k);
  }
  if (kinds.size() != 1) {
    d.Error(n.mark, kinds.empty()
                        ? "source needs one of image, git, bundle or release"
                        : absl::StrCat("source has ", absl::StrJoin(kinds, " and "),
                                       "; give exactly one of image, git, bundle or release"));
  }
  const YamlNode* ref = n.Find("ref");
  if (const YamlNode* v = n.Find("image")) {
    out->kind = Source::Kind::kImage;
    if (d.String(*v, "source.image", &out->image)) CheckImage(d, *v, out->image);
  }
  if (const YamlNode* v = n.Find("git")) {
    out->kind = Source::Kind::kGit;
    if (d.String(*v, "source.git", &out->git) && !LooksLikeGitUrl(out->git)) {
      d.Error(v->mark, absl::StrCat("source.git ", Quoted(out->git),
                                    " is not a git URL; use https://, ssh://, git://, file:// "
                                    "or user@host:path"));
    }
    if (ref == nullptr) {
      d.Error(n.mark, "source.git needs a ref (a tag or commit) so every install builds the same");
    }
  }
  if (ref != nullptr) {
    if (out->kind != Source::Kind::kGit || n.Find("git") == nullptr) {
      d.Error(ref->mark, "source.ref is only used with source.git");
    } else if (d.String(*ref, "source.ref", &out->ref)) {
      static const RE2 kRefRe(R"([A-Za-z0-9_][A-Za-z0-9_./-]{0,199})", RE2::Latin1);
      if (!RE2::FullMatch(out->ref, kRefRe) || absl::StrContains(out->ref, "..")) {
        d.Error(ref->mark, absl::StrCat("source.ref ", Quoted(out->ref),
                                        " is not a git ref; use a tag, branch or commit"));
      }
    }
  }
  if (const YamlNode* v = n.Find("bundle")) {
    out->kind = Source::Kind::kBundle;
    if (d.String(*v, "source.bundle", &out->bundle)) {
      CheckRelativePath(d, *v, "source.bundle", out->bundle);
    }
  }
  if (const YamlNode* v = n.Find("release")) {
    out->kind = Source::Kind::kRelease;
    if (d.String(*v, "source.release", &out->release)) {
      CheckRelativePath(d, *v, "source.release", out->release);
    }
  }
}

void DecodeInputs(Decoder& d, const YamlNode& n, std::vector<Input>* out) {
  if (!d.List(n, "inputs")) return;
  std::set<std::string> names;
  for (size_t i = 0; i < n.items.size(); ++i) {
    const YamlNode& item = n.items[i];
    std::string what = At("inputs", i);
    if (!d.Map(item, what, {"name", "description", "type", "default", "required", "pattern"})) {
      continue;
    }
    Input in;
    in.mark = item.mark;
    if (const YamlNode* v = d.Required(item, what, "name")) {
      if (d.Identifier(*v, what + ".name", &in.name) && !names.insert(in.name).second) {
        d.Error(v->mark, absl::StrCat("input \"", in.name, "\" is defined twice"));
      }
    }
    if (const YamlNode* v = item.Find("description"))
      d.String(*v, what + ".description", &in.description);
    if (const YamlNode* v = item.Find("type")) {
      OneOf(d, *v, what + ".type", {"string", "int", "bool", "email", "url"}, &in.type);
    }
    if (const YamlNode* v = item.Find("required")) d.Bool(*v, what + ".required", &in.required);
    if (const YamlNode* v = item.Find("pattern")) {
      if (d.String(*v, what + ".pattern", &in.pattern)) {
        if (absl::Status s = CheckPattern(in.pattern); !s.ok()) {
          d.Error(v->mark, absl::StrCat(what, ".pattern ", Quoted(in.pattern), " ", s.message()));
          in.pattern.clear();
        }
      }
    }
    if (const YamlNode* v = item.Find("default")) {
      std::string def;
      if (d.String(*v, what + ".default", &def)) in.default_value = def;
      in.default_mark = v->mark;
    }
    out->push_back(std::move(in));
  }
}

void DecodeSecrets(Decoder& d, const YamlNode& n, std::vector<Secret>* out) {
  if (!d.List(n, "secrets")) return;
  std::set<std::string> names;
  for (size_t i = 0; i < n.items.size(); ++i) {
    const YamlNode& item = n.items[i];
    std::string what = At("secrets", i);
    if (!d.Map(item, what, {"name", "length", "alphabet"})) continue;
    Secret s;
    s.mark = item.mark;
    if (const YamlNode* v = d.Required(item, what, "name")) {
      if (d.Identifier(*v, what + ".name", &s.name) && !names.insert(s.name).second) {
        d.Error(v->mark, absl::StrCat("secret \"", s.name, "\" is defined twice"));
      }
    }
    int64_t len = s.length;
    if (const YamlNode* v = item.Find("length")) d.Int(*v, what + ".length", 16, 256, &len);
    s.length = static_cast<int>(len);
    if (const YamlNode* v = item.Find("alphabet")) {
      OneOf(d, *v, what + ".alphabet", {"alnum", "hex", "base64url", "lower"}, &s.alphabet);
    }
    out->push_back(std::move(s));
  }
}

void DecodeServices(Decoder& d, const YamlNode& n, std::vector<Service>* out) {
  if (!d.List(n, "services")) return;
  std::set<std::string> names;
  const std::vector<std::string> parts(std::begin(kServiceParts), std::end(kServiceParts));
  for (size_t i = 0; i < n.items.size(); ++i) {
    const YamlNode& item = n.items[i];
    std::string what = At("services", i);
    if (!d.Map(item, what, {"name", "type", "version", "wants"})) continue;
    Service s;
    s.mark = item.mark;
    if (const YamlNode* v = d.Required(item, what, "name")) {
      if (d.Identifier(*v, what + ".name", &s.name) && !names.insert(s.name).second) {
        d.Error(v->mark, absl::StrCat("service \"", s.name, "\" is defined twice"));
      }
    }
    if (const YamlNode* v = d.Required(item, what, "type")) {
      OneOf(d, *v, what + ".type", {"postgres", "mysql", "mariadb", "redis", "mongo", "rabbitmq"},
            &s.type);
    }
    if (const YamlNode* v = item.Find("version")) {
      static const RE2 kVersion(R"([0-9A-Za-z][0-9A-Za-z._-]{0,63})", RE2::Latin1);
      if (d.String(*v, what + ".version", &s.version) && s.version != "" &&
          (!RE2::FullMatch(s.version, kVersion) || s.version == "latest")) {
        d.Error(v->mark, absl::StrCat(what, ".version ", Quoted(s.version),
                                      " must be a pinned version such as \"16.4\""));
      }
    }
    if (const YamlNode* v = item.Find("wants"); v != nullptr && d.List(*v, what + ".wants")) {
      for (size_t j = 0; j < v->items.size(); ++j) {
        std::string part;
        if (OneOf(d, v->items[j], At(what + ".wants", j), parts, &part)) s.wants.push_back(part);
      }
    }
    if (s.wants.empty()) s.wants.push_back("url");
    out->push_back(std::move(s));
  }
}

// The owner words `dflow storage mount --chown` takes (ValidateStorageChown),
// with the nearest one suggested.
void DecodeChown(Decoder& d, const YamlNode& n, const std::string& what, std::string* out) {
  const std::vector<std::string>& owners = StorageOwners();
  std::string s;
  if (!d.String(n, what, &s)) return;
  if (std::find(owners.begin(), owners.end(), s) != owners.end()) {
    *out = s;
    return;
  }
  std::string near = NearestWord(s, owners);
  d.Error(n.mark,
          absl::StrCat(what, " must be one of ", absl::StrJoin(owners, ", "), "; got ", Quoted(s),
                       near.empty() ? "" : absl::StrCat("; did you mean \"", near, "\"?")));
}

void DecodeVolumes(Decoder& d, const YamlNode& n, std::vector<Volume>* out) {
  if (!d.List(n, "volumes")) return;
  std::set<std::string> paths, names;
  static const RE2 kPath(R"((?:/[A-Za-z0-9._@+-]+)+)", RE2::Latin1);
  for (size_t i = 0; i < n.items.size(); ++i) {
    const YamlNode& item = n.items[i];
    std::string what = At("volumes", i);
    if (!d.Map(item, what, {"name", "path", "backup", "chown"})) continue;
    Volume vol;
    if (const YamlNode* v = d.Required(item, what, "path");
        v && d.String(*v, what + ".path", &vol.path)) {
      bool ok = RE2::FullMatch(vol.path, kPath);
      for (absl::string_view seg : absl::StrSplit(vol.path, '/'))
        ok = ok && seg != ".." && seg != ".";
      if (!ok) {
        d.Error(v->mark, absl::StrCat(what, ".path ", Quoted(vol.path),
                                      " must be an absolute path inside the app, e.g. /data"));
      } else if (!paths.insert(vol.path).second) {
        d.Error(v->mark, absl::StrCat("volume path ", Quoted(vol.path), " is listed twice"));
      }
      vol.name = vol.path.substr(vol.path.rfind('/') + 1);
      std::transform(vol.name.begin(), vol.name.end(), vol.name.begin(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '-';
      });
    }
    if (const YamlNode* v = item.Find("name")) {
      if (d.Identifier(*v, what + ".name", &vol.name)) {
        std::replace(vol.name.begin(), vol.name.end(), '_', '-');
      }
    }
    if (!vol.name.empty() && !names.insert(vol.name).second) {
      d.Error(item.mark, absl::StrCat("volume name \"", vol.name,
                                      "\" is used twice; give each volume its own name"));
    }
    if (const YamlNode* v = item.Find("backup")) d.Bool(*v, what + ".backup", &vol.backup);
    if (const YamlNode* v = item.Find("chown")) DecodeChown(d, *v, what + ".chown", &vol.chown);
    out->push_back(std::move(vol));
  }
}

void DecodeHealthcheck(Decoder& d, const YamlNode& n, Healthcheck* out) {
  if (!d.Map(n, "healthcheck", {"path", "timeout", "attempts"})) return;
  if (const YamlNode* v = d.Required(n, "healthcheck", "path")) {
    if (d.String(*v, "healthcheck.path", &out->path)) {
      bool ok = !out->path.empty() && out->path[0] == '/';
      for (char c : out->path) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
      if (!ok) {
        d.Error(v->mark, absl::StrCat("healthcheck.path ", Quoted(out->path),
                                      " must be an HTTP path starting with / without spaces"));
      }
    }
  }
  if (const YamlNode* v = n.Find("timeout")) {
    d.Duration(*v, "healthcheck.timeout", 1000, 600000, &out->timeout_ms);
  }
  int64_t attempts = out->attempts;
  if (const YamlNode* v = n.Find("attempts")) d.Int(*v, "healthcheck.attempts", 1, 100, &attempts);
  out->attempts = static_cast<int>(attempts);
}

void DecodeResources(Decoder& d, const YamlNode& n, Resources* out) {
  if (!d.Map(n, "resources", {"memory", "cpus"})) return;
  if (const YamlNode* v = n.Find("memory")) {
    std::string s;
    if (d.String(*v, "resources.memory", &s)) {
      static const RE2 kMem(R"((?i)([0-9]{1,6})([KMG])(?:i?B)?)", RE2::Latin1);
      std::string digits, unit_text;
      int64_t num = 0;
      if (!RE2::FullMatch(s, kMem, &digits, &unit_text) || !absl::SimpleAtoi(digits, &num) ||
          num == 0) {
        d.Error(v->mark, absl::StrCat("resources.memory ", Quoted(s),
                                      " must be a size such as \"512M\" or \"2G\""));
      } else {
        char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(unit_text[0])));
        out->memory_bytes = num << (unit == 'K' ? 10 : unit == 'M' ? 20 : 30);
      }
    }
  }
  if (const YamlNode* v = n.Find("cpus")) d.Number(*v, "resources.cpus", 0.01, 1024, &out->cpus);
}

}  // namespace dflow::themes
