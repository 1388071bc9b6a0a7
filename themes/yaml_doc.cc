#include "themes/yaml_doc.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
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

// Document starts, as yaml-cpp's event parser reports them. YAML::LoadAll is
// not used: on some invalid input (a "," at the top level) yaml-cpp yields
// empty documents forever without consuming anything, and LoadAll collects
// them until memory runs out. Here a start that does not advance is "stuck".
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& m) override { starts.push_back(m); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

struct DocumentScan {
  int documents = 0;
  size_t second_at = std::string::npos;  // byte offset of the second document's first token
  bool stuck = false;
  size_t stuck_at = 0;
};

constexpr int kMaxDocumentsCounted = 100;

DocumentScan ScanDocuments(absl::string_view text) {
  DocumentScan out;
  std::stringstream in{std::string(text)};
  YAML::Parser parser(in);
  DocumentStarts h;
  try {
    for (int i = 0; i < kMaxDocumentsCounted; ++i) {
      size_t before = h.starts.size();
      if (!parser.HandleNextDocument(h)) break;
      if (h.starts.size() > 1 && h.starts.size() > before &&
          h.starts.back().pos <= h.starts[h.starts.size() - 2].pos) {
        out.stuck = true;
        out.stuck_at = std::min(static_cast<size_t>(std::max(0, h.starts.back().pos)),
                                text.empty() ? 0 : text.size() - 1);
        return out;
      }
    }
  } catch (const YAML::Exception&) {
    // A syntax error in a later document: the starts seen so far count.
  }
  out.documents = static_cast<int>(h.starts.size());
  if (h.starts.size() > 1 && h.starts[1].pos >= 0) out.second_at = h.starts[1].pos;
  return out;
}

// Where the second document starts: its "---" line (the last one at or
// before the start yaml-cpp reports), else that start.
Mark SecondDocumentMark(absl::string_view text, size_t second_at) {
  size_t end = std::min(second_at, text.size());
  size_t marker = absl::string_view::npos;
  for (size_t line = 0; line <= end && line < text.size();) {
    if (text.compare(line, 3, "---") == 0 &&
        (line + 3 == text.size() || text[line + 3] == ' ' || text[line + 3] == '\t' ||
         text[line + 3] == '\n' || text[line + 3] == '\r')) {
      if (line > 0) marker = line;  // a "---" on the first line opens the first document
    }
    size_t nl = text.find('\n', line);
    if (nl == absl::string_view::npos) break;
    line = nl + 1;
  }
  return MarkAt(text, marker != absl::string_view::npos ? marker : end);
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
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    Mark m;
    if (e.mark.line >= 0) m = Mark{e.mark.line + 1, e.mark.column + 1, size_t(e.mark.pos)};
    out.diagnostics.push_back({m, absl::StrCat("YAML syntax error: ", e.msg)});
    return out;
  }
  // A second document would be dropped without a word: refuse it. And a
  // parser that stops advancing (a stray "," at the top level) gets a
  // syntax error instead of a silently empty manifest.
  DocumentScan scan = ScanDocuments(text);
  if (scan.stuck) {
    char c = text.empty() ? ' ' : text[scan.stuck_at];
    out.diagnostics.push_back(
        {MarkAt(text, scan.stuck_at),
         absl::ascii_isgraph(static_cast<unsigned char>(c))
             ? absl::StrCat("YAML syntax error: unexpected \"", std::string(1, c),
                            "\" where a value should start")
             : std::string("YAML syntax error: the parser cannot continue here")});
    return out;
  }
  if (scan.documents > 1) {
    out.diagnostics.push_back(
        {SecondDocumentMark(text, scan.second_at),
         absl::StrCat("the manifest holds ", scan.documents,
                      " YAML documents; a theme is exactly one (remove this \"---\" and what "
                      "follows, or put each theme in its own theme.yaml)")});
    // The first document is still checked: every error at once.
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
