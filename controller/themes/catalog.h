// The controller's theme catalog: the built-in themes (a directory of
// <name>/theme.yaml shipped with dflow, read-only) and custom themes added by
// users, kept in the data directory as themes/<name>/theme.yaml with their
// bundle or release archive in the blob store (digest in
// themes/<name>/archive.sha256). Every manifest is validated when it is read
// or added; a custom theme never shadows a built-in one. Thread-safe: writes
// are atomic renames; adds are serialized.
#ifndef DFLOW_CONTROLLER_THEMES_CATALOG_H_
#define DFLOW_CONTROLLER_THEMES_CATALOG_H_

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/blob_store.h"
#include "themes/theme.h"

namespace dflow::controller_themes {

struct CatalogTheme {
  themes::Theme theme;
  std::string manifest;        // the YAML text
  std::string origin;          // "builtin" | "custom"
  std::string dir;             // where a built-in theme's files are
  std::string archive_digest;  // custom bundle/release: blob digest
  int64_t added_at_ms = 0;
};

class ThemeCatalog {
 public:
  // `builtin_dir` may be empty (no built-in themes); `data_dir` holds themes/.
  ThemeCatalog(std::string builtin_dir, std::string data_dir, BlobStore* blobs);

  // Every valid theme, sorted by name; an invalid built-in or custom manifest
  // is skipped (and logged), never served.
  std::vector<CatalogTheme> List() const;
  absl::StatusOr<CatalogTheme> Get(const std::string& name) const;
  // Validates `manifest` (all diagnostics in the message, as
  // "theme.yaml:L:C: …" lines) and stores it; `archive` must be given exactly
  // when the source is a bundle or a release.
  absl::StatusOr<CatalogTheme> Add(const std::string& manifest, const std::string& archive,
                                   int64_t now_ms);

 private:
  absl::StatusOr<CatalogTheme> Load(const std::string& dir, const std::string& origin) const;

  std::string builtin_dir_;
  std::string custom_dir_;
  BlobStore* blobs_;
  std::mutex add_mu_;
};

// Diagnostics as one message, one "FILE:L:C: text" per line.
std::string DiagnosticsText(const std::string& file,
                            const std::vector<themes::Diagnostic>& diagnostics);

}  // namespace dflow::controller_themes

#endif  // DFLOW_CONTROLLER_THEMES_CATALOG_H_
