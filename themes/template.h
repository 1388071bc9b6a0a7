// The templating of theme values: literal text with `{{ path }}` references,
// where a path is dotted names (`inputs.domain`, `secrets.key`,
// `services.db.host`, `app.url`). There is nothing else — no expressions,
// filters, code or file access — so rendering is a lookup per reference.
#ifndef DFLOW_THEMES_TEMPLATE_H_
#define DFLOW_THEMES_TEMPLATE_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dflow::themes {

struct TemplatePiece {
  bool is_ref = false;
  std::string text;   // literal text, or the reference path ("inputs.x")
  size_t offset = 0;  // where the piece starts in the template
  int ref_index = 0;  // for references: 0 for the first `{{`, 1 for the next, …
};

struct TemplateError {
  size_t offset = 0;
  int ref_index = 0;  // which `{{` the error is in
  std::string message;
};

// Splits a template into pieces; on a malformed reference (`{{` without `}}`,
// an empty or invalid path) fills *error and returns false.
bool ParseTemplate(absl::string_view tmpl, std::vector<TemplatePiece>* pieces,
                   TemplateError* error);

// Replaces each reference by values[path]; a path missing from `values` is
// an error naming it (validation rules out such a template before rendering).
absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl,
                                           const std::map<std::string, std::string>& values);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_TEMPLATE_H_
