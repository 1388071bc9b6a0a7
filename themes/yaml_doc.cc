#include "themes/yaml_doc.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dflow::themes {
namespace {

constexpr int kMaxDepth = 32;

class Converter {
 public:
  Converter(absl::string_view text, std::vector<Diagnostic>* diags) : text_(text), diags_(diags) {}

  // False when the node budget ran out (reported once).
  bool Convert(const YAML::Node& in, const Mark& fallback, YamlNode* out, int depth = 0) {
    if (depth > kMaxDepth) {
      diags_->push_back({fallback, absl::StrCat("the manifest nests deeper than ", kMaxDepth,
                                                " levels; a theme needs far fewer")});
      return false;
    }
    if (++nodes_ > kMaxNodes) {
      if (nodes_ == kMaxNodes + 1) {
        diags_->push_back({fallback, absl::StrCat("the manifest has more than ", kMaxNodes,
                                                  " YAML nodes (aliases count each time they "
                                                  "are used); a theme needs far fewer")});
      }
      return false;
    }
    out->mark = ToMark(in.Mark(), fallback);
    switch (in.Type()) {
      case YAML::NodeType::Scalar:
        out->kind = YamlNode::Kind::kScalar;
        out->scalar = in.Scalar();
        out->plain = in.Tag() == "?";
        return true;
      case YAML::NodeType::Sequence:
        out->kind = YamlNode::Kind::kSequence;
        for (const auto& item : in) {
          out->items.emplace_back();
          if (!Convert(item, out->mark, &out->items.back(), depth + 1)) return false;
        }
        return true;
      case YAML::NodeType::Map: {
        out->kind = YamlNode::Kind::kMap;
        std::map<std::string, Mark> seen;
        for (const auto& kv : in) {
          YamlNode key, value;
          if (!Convert(kv.first, out->mark, &key, depth + 1)) return false;
          if (!Convert(kv.second, key.mark, &value, depth + 1)) return false;
          if (key.IsScalar()) {
            auto [it, fresh] = seen.emplace(key.scalar, key.mark);
            if (!fresh) {
              diags_->push_back(
                  {key.mark, absl::StrCat("duplicate key \"", key.scalar, "\" (first defined at ",
                                          it->second.line, ":", it->second.column, ")")});
              continue;
            }
          }
          out->entries.emplace_back(std::move(key), std::move(value));
        }
        return true;
      }
      default:
        out->kind = YamlNode::Kind::kNull;
        return true;
    }
  }

 private:
  Mark ToMark(const YAML::Mark& m, const Mark& fallback) const {
    if (m.pos < 0 || m.line < 0 || m.column < 0) return fallback;
    return Mark{m.line + 1, m.column + 1, static_cast<size_t>(m.pos)};
  }

  absl::string_view text_;
  std::vector<Diagnostic>* diags_;
  int nodes_ = 0;
};

// Where the second document starts: its "---" line (the last one before its
// first node), else that node.
Mark SecondDocumentMark(absl::string_view text, const YAML::Node& second) {
  const YAML::Mark& m = second.Mark();
  size_t end = m.pos >= 0 ? std::min(static_cast<size_t>(m.pos), text.size()) : text.size();
  size_t marker = absl::string_view::npos;
  for (size_t line = 0; line < end;) {
    if (text.compare(line, 3, "---") == 0 && line + 3 <= end &&
        (line + 3 == text.size() || text[line + 3] == ' ' || text[line + 3] == '\t' ||
         text[line + 3] == '\n' || text[line + 3] == '\r')) {
      if (line > 0) marker = line;  // a "---" on the first line opens the first document
    }
    size_t nl = text.find('\n', line);
    if (nl == absl::string_view::npos) break;
    line = nl + 1;
  }
  if (marker != absl::string_view::npos) return MarkAt(text, marker);
  if (m.pos >= 0 && m.line >= 0 && m.column >= 0) {
    return Mark{m.line + 1, m.column + 1, static_cast<size_t>(m.pos)};
  }
  return MarkAt(text, text.size());
}

}  // namespace

std::string FormatDiagnostic(absl::string_view file, const Diagnostic& d) {
  return absl::StrCat(file, ":", d.mark.line, ":", d.mark.column, ": ", d.message);
}

const YamlNode* YamlNode::Find(absl::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.IsScalar() && k.scalar == key) return &v;
  }
  return nullptr;
}

std::string KindName(const YamlNode& n) {
  switch (n.kind) {
    case YamlNode::Kind::kScalar:
      return "a string";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kMap:
      return "a map";
    default:
      return "nothing";
  }
}

Mark MarkAt(absl::string_view text, size_t offset) {
  Mark m;
  m.offset = offset;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else {
      ++m.column;
    }
  }
  return m;
}

YamlParse ParseYaml(absl::string_view text) {
  YamlParse out;
  if (text.size() > kMaxManifestBytes) {
    out.diagnostics.push_back(
        {Mark{}, absl::StrCat("the manifest is ", text.size(), " bytes; at most ",
                              kMaxManifestBytes, " are allowed")});
    return out;
  }
  if (text.find('\0') != absl::string_view::npos) {
    out.diagnostics.push_back(
        {MarkAt(text, text.find('\0')), "the manifest contains a NUL byte; it must be text"});
    return out;
  }
  YAML::Node doc;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (!docs.empty()) doc = docs[0];
    if (docs.size() > 1) {
      // A second document would be dropped without a word; say where it starts.
      out.diagnostics.push_back(
          {SecondDocumentMark(text, docs[1]),
           absl::StrCat("the manifest holds ", docs.size(),
                        " YAML documents; a theme is exactly one (remove this \"---\" and what "
                        "follows, or put each theme in its own theme.yaml)")});
      return out;
    }
  } catch (const YAML::Exception& e) {
    Mark m;
    if (e.mark.line >= 0) m = Mark{e.mark.line + 1, e.mark.column + 1, size_t(e.mark.pos)};
    out.diagnostics.push_back({m, absl::StrCat("YAML syntax error: ", e.msg)});
    return out;
  }
  try {
    Converter c(text, &out.diagnostics);
    out.ok = c.Convert(doc, Mark{}, &out.root);
  } catch (const YAML::Exception& e) {
    out.diagnostics.push_back({Mark{}, absl::StrCat("YAML error: ", e.msg)});
    out.ok = false;
  }
  return out;
}

}  // namespace dflow::themes
