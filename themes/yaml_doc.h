// A YAML document as a plain tree that remembers where every node starts.
//
// ParseYaml() reads one YAML document with yaml-cpp and converts it into
// YamlNode values carrying 1-based line:column marks and byte offsets, so
// callers can report `file:line:column: message` without including yaml-cpp.
// Duplicate mapping keys (which yaml-cpp keeps silently) are reported as
// diagnostics; the first occurrence wins. A text with more than one document
// (a second `---`) is a diagnostic at that line, never half-read. The input is bounded (size, depth
// and node count, aliases included) so a hostile manifest cannot exhaust memory.
#ifndef DFLOW_THEMES_YAML_DOC_H_
#define DFLOW_THEMES_YAML_DOC_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace dflow::themes {

// A 1-based position in the source text.
struct Mark {
  int line = 1;
  int column = 1;
  size_t offset = 0;  // byte offset in the source
};

// One problem found in a manifest, at a position.
struct Diagnostic {
  Mark mark;
  std::string message;
};

// "file:line:column: message"
std::string FormatDiagnostic(absl::string_view file, const Diagnostic& d);

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  Mark mark;
  std::string scalar;           // kScalar
  bool plain = true;            // kScalar written without quotes or block style
  std::vector<YamlNode> items;  // kSequence
  std::vector<std::pair<YamlNode, YamlNode>> entries;  // kMap, in source order

  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsMap() const { return kind == Kind::kMap; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  // The value of the first entry whose key is the scalar `key`, or nullptr.
  const YamlNode* Find(absl::string_view key) const;
};

// "a map", "a list", "a string" (a scalar), "nothing" (null) — for messages.
std::string KindName(const YamlNode& n);

constexpr size_t kMaxManifestBytes = 1 << 20;
constexpr int kMaxNodes = 20000;

struct YamlParse {
  bool ok = false;  // false: a syntax error (in diagnostics); root is unusable
  YamlNode root;
  std::vector<Diagnostic> diagnostics;  // syntax error, or duplicate keys
};

YamlParse ParseYaml(absl::string_view text);

// The mark of byte `offset` in `text` (1-based line and column).
Mark MarkAt(absl::string_view text, size_t offset);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_YAML_DOC_H_
