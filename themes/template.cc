#include "themes/template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dflow::themes {
namespace {

bool ValidSegment(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

bool ValidPath(absl::string_view path) {
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    absl::string_view seg =
        path.substr(start, dot == absl::string_view::npos ? absl::string_view::npos : dot - start);
    if (!ValidSegment(seg)) return false;
    if (dot == absl::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

bool ParseTemplate(absl::string_view tmpl, std::vector<TemplatePiece>* pieces,
                   TemplateError* error) {
  pieces->clear();
  size_t pos = 0;
  int index = 0;
  while (pos < tmpl.size()) {
    size_t open = tmpl.find("{{", pos);
    if (open == absl::string_view::npos) {
      pieces->push_back({false, std::string(tmpl.substr(pos)), pos, 0});
      break;
    }
    if (open > pos) pieces->push_back({false, std::string(tmpl.substr(pos, open - pos)), pos, 0});
    size_t close = tmpl.find("}}", open + 2);
    if (close == absl::string_view::npos) {
      *error = {open, index, "\"{{\" without a closing \"}}\""};
      return false;
    }
    absl::string_view inner = absl::StripAsciiWhitespace(tmpl.substr(open + 2, close - open - 2));
    if (inner.empty()) {
      *error = {open, index, "empty reference \"{{ }}\"; write e.g. {{ inputs.NAME }}"};
      return false;
    }
    if (!ValidPath(inner)) {
      *error = {open, index,
                absl::StrCat("invalid reference \"", inner,
                             "\": a reference is a dotted path of names (letters, digits, _ "
                             "and -), e.g. {{ secrets.key }}; there are no expressions")};
      return false;
    }
    pieces->push_back({true, std::string(inner), open, index});
    ++index;
    pos = close + 2;
  }
  return true;
}

absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl,
                                           const std::map<std::string, std::string>& values) {
  std::vector<TemplatePiece> pieces;
  TemplateError err;
  if (!ParseTemplate(tmpl, &pieces, &err)) return absl::InvalidArgumentError(err.message);
  std::string out;
  for (const auto& p : pieces) {
    if (!p.is_ref) {
      out += p.text;
      continue;
    }
    auto it = values.find(p.text);
    if (it == values.end()) {
      return absl::InvalidArgumentError(absl::StrCat("no value for {{ ", p.text, " }}"));
    }
    out += it->second;
  }
  return out;
}

}  // namespace dflow::themes
