// Internal to themes/: typed reads of YamlNode values that record every
// problem as a Diagnostic instead of stopping. `what` names the value by its
// path in the manifest ("inputs[0].name") in every message.
#ifndef DFLOW_THEMES_DECODER_H_
#define DFLOW_THEMES_DECODER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "themes/theme.h"
#include "themes/yaml_doc.h"

namespace dflow::themes {

// `s` in double quotes, control bytes as \xNN, cut at 80 bytes.
std::string Quoted(absl::string_view s);

class Decoder {
 public:
  void Error(const Mark& m, std::string message) { diagnostics.push_back({m, std::move(message)}); }

  // True when `n` is a map; reports every key not in `allowed` (with the
  // nearest allowed key) and every non-scalar key.
  bool Map(const YamlNode& n, absl::string_view what, const std::vector<std::string>& allowed);
  // True when `n` is a list.
  bool List(const YamlNode& n, absl::string_view what);
  // The value of `key` in map `n`, reporting it missing when absent.
  const YamlNode* Required(const YamlNode& n, absl::string_view what, absl::string_view key);

  bool String(const YamlNode& n, absl::string_view what, std::string* out);
  bool Int(const YamlNode& n, absl::string_view what, int64_t min, int64_t max, int64_t* out);
  bool Bool(const YamlNode& n, absl::string_view what, bool* out);
  bool Number(const YamlNode& n, absl::string_view what, double min, double max, double* out);
  // A lowercase identifier usable in a template path: ^[a-z][a-z0-9_]{0,62}$.
  bool Identifier(const YamlNode& n, absl::string_view what, std::string* out);
  // A duration ("30s", "2m") from min_ms to max_ms.
  bool Duration(const YamlNode& n, absl::string_view what, int64_t min_ms, int64_t max_ms,
                int64_t* out);

  std::vector<Diagnostic> diagnostics;
};

// Decoders of the manifest's sections (theme_sections.cc); each appends to
// `d` and fills what it could read.
void DecodeSource(Decoder& d, const YamlNode& n, Source* out);
void DecodeInputs(Decoder& d, const YamlNode& n, std::vector<Input>* out);
void DecodeSecrets(Decoder& d, const YamlNode& n, std::vector<Secret>* out);
void DecodeServices(Decoder& d, const YamlNode& n, std::vector<Service>* out);
void DecodeVolumes(Decoder& d, const YamlNode& n, std::vector<Volume>* out);
void DecodeHealthcheck(Decoder& d, const YamlNode& n, Healthcheck* out);
void DecodeResources(Decoder& d, const YamlNode& n, Resources* out);
// Template references in env values and domains (theme_refs.cc).
void CheckReferences(Decoder& d, absl::string_view text, const Theme& theme);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_DECODER_H_
