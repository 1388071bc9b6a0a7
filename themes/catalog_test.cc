// Every catalog theme validates, names only files that exist, and renders
// with fixed inputs, secrets and services into its committed golden file
// (themes/testdata/golden/NAME.env). DFLOW_UPDATE_GOLDEN=1 rewrites them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "themes/render.h"
#include "themes/theme.h"

namespace dflow::themes {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> CatalogNames() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(std::string(DFLOW_THEMES_DIR) + "/catalog")) {
    if (e.is_directory()) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RenderGolden(const Theme& t) {
  RenderContext ctx;
  ctx.app_name = "my-" + t.name;
  ctx.app_url = absl::StrCat("http://my-", t.name, ".example.test");
  for (const auto& in : t.inputs) {
    if (in.required && !in.default_value) {
      ctx.inputs[in.name] = in.type == "email" ? "admin@example.test" : "value-" + in.name;
    }
  }
  for (const auto& s : t.secrets) ctx.secrets[s.name] = absl::StrCat("<secret ", s.name, ">");
  for (const auto& s : t.services) {
    std::string db = absl::StrCat("my_", t.name, "_", s.name);
    std::replace(db.begin(), db.end(), '-', '_');
    std::string url =
        absl::StrCat(s.type, "://", s.type, ":pw-", s.name, "@dokku-", s.type, "-my-", t.name, "-",
                     s.name, ":", s.type == "mysql" ? 3306 : 5432, "/", db);
    auto c = SplitServiceUrl(url);
    EXPECT_TRUE(c.ok()) << url;
    ctx.services[s.name] = *c;
  }
  auto r = Render(t, ctx);
  EXPECT_TRUE(r.ok()) << t.name << ": " << r.status();
  if (!r.ok()) return "";
  std::ostringstream out;
  out << "# " << t.name << " " << t.version << " source=" << SourceKindName(t.source.kind)
      << " port=" << t.port << "\n";
  for (const auto& [k, v] : r->inputs) out << "# input " << k << "=" << v << "\n";
  for (const auto& v : t.volumes) {
    out << "# volume " << v.name << " " << v.path << (v.backup ? " backup" : "")
        << " chown=" << v.chown << "\n";
  }
  if (t.healthcheck) {
    out << "# healthcheck " << t.healthcheck->path << " " << t.healthcheck->timeout_ms << "ms\n";
  }
  for (const auto& [k, v] : r->env) out << k << "=" << v << "\n";
  return out.str();
}

TEST(CatalogTest, HasTheRequiredThemes) {
  auto names = CatalogNames();
  for (const char* want : {"n8n", "strapi", "directus"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  EXPECT_GE(names.size(), 7u);
}

TEST(CatalogTest, EveryThemeValidatesAndMatchesItsGolden) {
  const bool update = std::getenv("DFLOW_UPDATE_GOLDEN") != nullptr;
  int bundles = 0;
  for (const auto& name : CatalogNames()) {
    SCOPED_TRACE(name);
    std::string dir = std::string(DFLOW_THEMES_DIR) + "/catalog/" + name;
    auto text = ReadFile(dir + "/theme.yaml");
    ASSERT_TRUE(text.ok()) << text.status();
    ThemeParse p = ParseTheme(*text);
    for (const auto& d : p.diagnostics) ADD_FAILURE() << FormatDiagnostic(name, d);
    ASSERT_TRUE(p.theme);
    EXPECT_EQ(p.theme->name, name);
    for (const auto& d : CheckThemeFiles(*p.theme, dir)) ADD_FAILURE() << d.message;
    if (p.theme->source.kind == Source::Kind::kBundle) ++bundles;
    std::set<std::string> secret_names;
    for (const auto& s : p.theme->secrets) EXPECT_TRUE(secret_names.insert(s.name).second);

    std::string got = RenderGolden(*p.theme);
    std::string golden = std::string(DFLOW_THEMES_DIR) + "/testdata/golden/" + name + ".env";
    if (update) {
      ASSERT_TRUE(EnsureDir(fs::path(golden).parent_path().string(), 0755).ok());
      ASSERT_TRUE(WriteFileAtomic(golden, got, 0644).ok());
      continue;
    }
    auto want = ReadFile(golden);
    ASSERT_TRUE(want.ok()) << want.status() << " (run with DFLOW_UPDATE_GOLDEN=1 to create it)";
    EXPECT_EQ(got, *want);
  }
  EXPECT_GE(bundles, 1);
}

TEST(CatalogTest, StrapiKeysAreAllDifferentSecrets) {
  auto text = ReadFile(std::string(DFLOW_THEMES_DIR) + "/catalog/strapi/theme.yaml");
  ASSERT_TRUE(text.ok());
  ThemeParse p = ParseTheme(*text);
  ASSERT_TRUE(p.theme);
  std::set<std::string> used;
  for (const char* key : {"API_TOKEN_SALT", "ADMIN_JWT_SECRET", "TRANSFER_TOKEN_SALT", "JWT_SECRET",
                          "ENCRYPTION_KEY", "APP_KEYS"}) {
    auto it = std::find_if(p.theme->env.begin(), p.theme->env.end(),
                           [&](const EnvVar& e) { return e.key == key; });
    ASSERT_NE(it, p.theme->env.end()) << key;
    size_t pos = 0;
    while ((pos = it->value.find("secrets.", pos)) != std::string::npos) {
      size_t end = it->value.find_first_of(" }", pos);
      EXPECT_TRUE(used.insert(it->value.substr(pos, end - pos)).second)
          << key << " reuses " << it->value.substr(pos, end - pos);
      pos = end;
    }
  }
  EXPECT_EQ(used.size(), 9u);  // 4 app keys + 5 salts/secrets
}

}  // namespace
}  // namespace dflow::themes
