#include "themes/decoder.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"

namespace dflow::themes {
namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::string Quoted(absl::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "…";
  return out + "\"";
}

std::string NearestWord(absl::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 64) return "";
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t dist = EditDistance(word, c);
    if (dist < best_d) {
      best_d = dist;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best_d == 0 || best_d > limit || best_d >= word.size()) return "";
  return best;
}

bool Decoder::Map(const YamlNode& n, absl::string_view what,
                  const std::vector<std::string>& allowed) {
  if (!n.IsMap()) {
    Error(n.mark, absl::StrCat(what, " must be a map, got ", KindName(n)));
    return false;
  }
  for (const auto& [k, v] : n.entries) {
    if (!k.IsScalar()) {
      Error(k.mark, absl::StrCat("a key in ", what, " must be a string, got ", KindName(k)));
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), k.scalar) != allowed.end()) continue;
    std::string near = NearestWord(k.scalar, allowed);
    if (!near.empty()) {
      Error(k.mark, absl::StrCat("unknown key ", Quoted(k.scalar), " in ", what,
                                 "; did you mean \"", near, "\"?"));
    } else {
      Error(k.mark, absl::StrCat("unknown key ", Quoted(k.scalar), " in ", what,
                                 "; valid keys: ", absl::StrJoin(allowed, ", ")));
    }
  }
  return true;
}

bool Decoder::List(const YamlNode& n, absl::string_view what) {
  if (n.IsSequence()) return true;
  Error(n.mark, absl::StrCat(what, " must be a list, got ", KindName(n)));
  return false;
}

const YamlNode* Decoder::Required(const YamlNode& n, absl::string_view what,
                                  absl::string_view key) {
  const YamlNode* v = n.Find(key);
  if (v == nullptr) Error(n.mark, absl::StrCat("missing required key \"", key, "\" in ", what));
  return v;
}

bool Decoder::String(const YamlNode& n, absl::string_view what, std::string* out) {
  if (!n.IsScalar()) {
    Error(n.mark, absl::StrCat(what, " must be a string, got ", KindName(n)));
    return false;
  }
  *out = n.scalar;
  return true;
}

bool Decoder::Int(const YamlNode& n, absl::string_view what, int64_t min, int64_t max,
                  int64_t* out) {
  int64_t v = 0;
  bool ok = n.IsScalar() && n.plain && absl::SimpleAtoi(n.scalar, &v) && v >= min && v <= max &&
            n.scalar.find_first_of("+ ") == std::string::npos;
  if (!ok) {
    Error(n.mark, absl::StrCat(what, " must be a whole number from ", min, " to ", max, ", got ",
                               n.IsScalar() ? Quoted(n.scalar) : KindName(n)));
    return false;
  }
  *out = v;
  return true;
}

bool Decoder::Bool(const YamlNode& n, absl::string_view what, bool* out) {
  if (n.IsScalar() && n.plain && (n.scalar == "true" || n.scalar == "false")) {
    *out = n.scalar == "true";
    return true;
  }
  Error(n.mark, absl::StrCat(what, " must be true or false, got ",
                             n.IsScalar() ? Quoted(n.scalar) : KindName(n)));
  return false;
}

bool Decoder::Number(const YamlNode& n, absl::string_view what, double min, double max,
                     double* out) {
  double v = 0;
  bool ok = n.IsScalar() && n.plain && absl::SimpleAtod(n.scalar, &v) && std::isfinite(v) &&
            v >= min && v <= max;
  if (!ok) {
    Error(n.mark, absl::StrCat(what, " must be a number from ", min, " to ", max, ", got ",
                               n.IsScalar() ? Quoted(n.scalar) : KindName(n)));
    return false;
  }
  *out = v;
  return true;
}

bool Decoder::Identifier(const YamlNode& n, absl::string_view what, std::string* out) {
  std::string s;
  if (!String(n, what, &s)) return false;
  bool ok = !s.empty() && s.size() <= 63 && s[0] >= 'a' && s[0] <= 'z';
  for (char c : s) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) {
    Error(n.mark, absl::StrCat(what, " ", Quoted(s),
                               " is not a valid name: use 1 to 63 lowercase letters, digits and "
                               "_, starting with a letter"));
    return false;
  }
  *out = s;
  return true;
}

bool Decoder::Duration(const YamlNode& n, absl::string_view what, int64_t min_ms, int64_t max_ms,
                       int64_t* out) {
  std::string s;
  if (!String(n, what, &s)) return false;
  auto d = ParseDuration(s);
  if (!d.ok() || d->count() < min_ms || d->count() > max_ms) {
    Error(n.mark, absl::StrCat(what, " must be a duration from ", min_ms / 1000, "s to ",
                               max_ms / 1000, "s such as \"30s\" or \"2m\", got ", Quoted(s)));
    return false;
  }
  *out = d->count();
  return true;
}

}  // namespace dflow::themes
