// Template references in env values and domains must name something the
// theme defines; input defaults must pass their own input's checks.
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/hostname.h"
#include "themes/decoder.h"
#include "themes/render.h"
#include "themes/template.h"

namespace dflow::themes {
namespace {

// Where the `index`-th "{{" of a value starting at `start` is in the source.
Mark RefMark(absl::string_view text, const Mark& start, int index) {
  size_t pos = start.offset;
  for (int i = 0; i <= index; ++i) {
    size_t at = text.find("{{", pos);
    if (at == absl::string_view::npos) return start;
    if (i == index) return MarkAt(text, at);
    pos = at + 2;
  }
  return start;
}

std::vector<std::string> Defined(const Theme& t) {
  std::vector<std::string> out = {"app.name", "app.url", "app.host", "app.scheme"};
  for (const auto& i : t.inputs) out.push_back("inputs." + i.name);
  for (const auto& s : t.secrets) out.push_back("secrets." + s.name);
  for (const auto& s : t.services) {
    for (const auto& w : s.wants) out.push_back(absl::StrCat("services.", s.name, ".", w));
  }
  return out;
}

// "" when `path` is defined, else why not.
std::string Undefined(const Theme& t, const std::vector<std::string>& defined,
                      const std::string& path) {
  for (const auto& d : defined) {
    if (d == path) return "";
  }
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  if (parts.size() == 3 && parts[0] == "services") {
    const Service* s = t.FindService(parts[1]);
    for (const char* p : kServiceParts) {
      if (s != nullptr && parts[2] == p) {
        return absl::StrCat("{{ ", path, " }} needs \"", p, "\" in the wants of service \"",
                            s->name, "\" (it has: ", absl::StrJoin(s->wants, ", "), ")");
      }
    }
  }
  std::string near = NearestWord(path, defined);
  if (!near.empty()) {
    return absl::StrCat("undefined reference \"", path, "\"; did you mean \"", near, "\"?");
  }
  return absl::StrCat("undefined reference \"", path,
                      "\"; a reference is inputs.NAME, secrets.NAME, services.NAME.PART or "
                      "app.name|url|host|scheme of what this theme defines");
}

void CheckTemplate(Decoder& d, absl::string_view text, const Theme& t,
                   const std::vector<std::string>& defined, absl::string_view what,
                   const std::string& value, const Mark& mark, bool* has_refs) {
  std::vector<TemplatePiece> pieces;
  TemplateError err;
  if (!ParseTemplate(value, &pieces, &err)) {
    d.Error(RefMark(text, mark, err.ref_index), absl::StrCat(what, ": ", err.message));
    return;
  }
  for (const auto& p : pieces) {
    if (!p.is_ref) continue;
    *has_refs = true;
    std::string why = Undefined(t, defined, p.text);
    if (!why.empty()) d.Error(RefMark(text, mark, p.ref_index), absl::StrCat(what, ": ", why));
  }
}

}  // namespace

void CheckReferences(Decoder& d, absl::string_view text, const Theme& t) {
  std::vector<std::string> defined = Defined(t);
  for (const auto& e : t.env) {
    bool refs = false;
    CheckTemplate(d, text, t, defined, "env." + e.key, e.value, e.mark, &refs);
  }
  for (size_t i = 0; i < t.domains.size(); ++i) {
    bool refs = false;
    std::string what = absl::StrCat("domains[", i, "]");
    CheckTemplate(d, text, t, defined, what, t.domains[i].host, t.domains[i].mark, &refs);
    if (!refs) {
      if (auto s = ValidateHostname(what, t.domains[i].host); !s.ok()) {
        d.Error(t.domains[i].mark, std::string(s.message()));
      }
    }
  }
  for (size_t i = 0; i < t.inputs.size(); ++i) {
    const Input& in = t.inputs[i];
    if (!in.default_value) continue;
    if (auto s = ValidateInputValue(in, *in.default_value); !s.ok()) {
      d.Error(in.default_mark, absl::StrCat("inputs[", i, "].default: ", s.message()));
    }
  }
}

}  // namespace dflow::themes
