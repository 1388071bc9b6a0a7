#include "controller/themes/catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/names.h"
#include "controller/api/source_archive.h"

namespace dflow::controller_themes {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxArchiveBytes = int64_t{15}
                                     << 20;  // under the CLI socket's 16 MiB message limit

bool NeedsArchive(const themes::Theme& t) {
  return t.source.kind == themes::Source::Kind::kBundle ||
         t.source.kind == themes::Source::Kind::kRelease;
}

}  // namespace

std::string DiagnosticsText(const std::string& file,
                            const std::vector<themes::Diagnostic>& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) {
    if (!out.empty()) out += "\n";
    out += themes::FormatDiagnostic(file, d);
  }
  return out;
}

ThemeCatalog::ThemeCatalog(std::string builtin_dir, std::string data_dir, BlobStore* blobs)
    : builtin_dir_(std::move(builtin_dir)), custom_dir_(data_dir + "/themes"), blobs_(blobs) {}

absl::StatusOr<CatalogTheme> ThemeCatalog::Load(const std::string& dir,
                                                const std::string& origin) const {
  CatalogTheme out;
  out.origin = origin;
  out.dir = dir;
  auto text = ReadFile(dir + "/theme.yaml");
  if (!text.ok()) return text.status();
  out.manifest = *text;
  themes::ThemeParse p = themes::ParseTheme(out.manifest);
  if (!p.theme) {
    return absl::FailedPreconditionError(DiagnosticsText(dir + "/theme.yaml", p.diagnostics));
  }
  out.theme = *std::move(p.theme);
  if (out.theme.name != fs::path(dir).filename().string()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, "/theme.yaml names theme ", out.theme.name, ", not its directory"));
  }
  if (origin == "builtin") {
    auto files = themes::CheckThemeFiles(out.theme, dir);
    if (!files.empty()) {
      return absl::FailedPreconditionError(DiagnosticsText(dir + "/theme.yaml", files));
    }
    return out;
  }
  auto meta_text = ReadFile(dir + "/meta.json");
  if (!meta_text.ok()) return meta_text.status();
  auto meta = nlohmann::json::parse(*meta_text, nullptr, false);
  if (!meta.is_object()) return absl::DataLossError(dir + "/meta.json is not a JSON object");
  out.archive_digest = meta.value("archive_digest", "");
  out.added_at_ms = meta.value("added_at_ms", int64_t{0});
  if (NeedsArchive(out.theme) && !blobs_->Has(out.archive_digest)) {
    return absl::DataLossError(absl::StrCat("the archive of custom theme ", out.theme.name,
                                            " is missing; add the theme again"));
  }
  return out;
}

std::vector<CatalogTheme> ThemeCatalog::List() const {
  std::vector<CatalogTheme> out;
  std::error_code ec;
  for (const auto& [root, origin] :
       {std::pair{builtin_dir_, "builtin"}, std::pair{custom_dir_, "custom"}}) {
    if (root.empty() || !fs::is_directory(root, ec)) continue;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (!e.is_directory()) continue;
      std::string name = e.path().filename().string();
      if (origin == std::string("custom") &&
          std::any_of(out.begin(), out.end(),
                      [&](const CatalogTheme& t) { return t.theme.name == name; })) {
        continue;  // built-in wins
      }
      auto t = Load(e.path().string(), origin);
      if (!t.ok()) {
        spdlog::warn("theme {} skipped: {}", e.path().string(), std::string(t.status().message()));
        continue;
      }
      out.push_back(*std::move(t));
    }
  }
  std::sort(out.begin(), out.end(), [](const CatalogTheme& a, const CatalogTheme& b) {
    return a.theme.name < b.theme.name;
  });
  return out;
}

absl::StatusOr<CatalogTheme> ThemeCatalog::Get(const std::string& name) const {
  if (auto s = ValidateAppName(name); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("theme name: ", s.message()));
  }
  std::error_code ec;
  for (const auto& [root, origin] :
       {std::pair{builtin_dir_, "builtin"}, std::pair{custom_dir_, "custom"}}) {
    if (root.empty() || !fs::is_directory(fs::path(root) / name, ec)) continue;
    return Load((fs::path(root) / name).string(), origin);
  }
  return absl::NotFoundError(absl::StrCat("no theme named ", name,
                                          "; `dflow themes ls` lists them, `dflow themes add "
                                          "DIR` adds your own"));
}

absl::StatusOr<CatalogTheme> ThemeCatalog::Add(const std::string& manifest,
                                               const std::string& archive, int64_t now_ms) {
  themes::ThemeParse p = themes::ParseTheme(manifest);
  if (!p.theme) {
    return absl::InvalidArgumentError(
        absl::StrCat("the theme is not valid:\n", DiagnosticsText("theme.yaml", p.diagnostics)));
  }
  const themes::Theme& t = *p.theme;
  std::error_code ec;
  if (!builtin_dir_.empty() && fs::is_directory(fs::path(builtin_dir_) / t.name, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("theme ", t.name,
                                                 " is a built-in theme; give yours another name "
                                                 "(e.g. ",
                                                 t.name, "-custom)"));
  }
  CatalogTheme out;
  out.theme = t;
  out.manifest = manifest;
  out.origin = "custom";
  out.added_at_ms = now_ms;
  if (NeedsArchive(t)) {
    if (archive.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "theme ", t.name, " has source.", themes::SourceKindName(t.source.kind),
          " but no archive came with it; `dflow themes add DIR` packs it from the theme's "
          "directory"));
    }
    if (archive.size() < 2 || static_cast<unsigned char>(archive[0]) != 0x1f ||
        static_cast<unsigned char>(archive[1]) != 0x8b) {
      return absl::InvalidArgumentError("the theme's archive is not a gzip-compressed tar");
    }
    auto w = blobs_->NewWriter(kMaxArchiveBytes);
    if (!w.ok()) return w.status();
    if (auto s = (*w)->Append(archive); !s.ok()) return s;
    auto digest = (*w)->Commit();
    if (!digest.ok()) return digest.status();
    if (auto procfile = api::ReadProcfile(blobs_->Path(*digest)); !procfile.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "theme ", t.name, ": the archive has no usable Procfile: ", procfile.status().message()));
    }
    out.archive_digest = *digest;
  } else if (!archive.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("theme ", t.name, " has source.",
                                                   themes::SourceKindName(t.source.kind),
                                                   "; it takes no archive"));
  }
  std::lock_guard<std::mutex> lock(add_mu_);
  std::string dir = custom_dir_ + "/" + t.name;
  if (auto s = EnsureDir(dir, 0700); !s.ok()) return s;
  nlohmann::json meta = {{"archive_digest", out.archive_digest}, {"added_at_ms", now_ms}};
  if (auto s = WriteFileAtomic(dir + "/meta.json", meta.dump() + "\n", 0600); !s.ok()) return s;
  if (auto s = WriteFileAtomic(dir + "/theme.yaml", manifest, 0600); !s.ok()) return s;
  out.dir = dir;
  return out;
}

}  // namespace dflow::controller_themes
