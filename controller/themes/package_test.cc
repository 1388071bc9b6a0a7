// themes package: the manifest written from an app validates, keeps values of
// ordinary keys as input defaults and never carries a credential's value.
#include "controller/themes/package.h"

#include <gtest/gtest.h>

#include "themes/theme.h"

namespace dflow::controller_themes {
namespace {

store::App ShopApp() {
  store::App app;
  app.name = "shop";
  app.health_path = "/health";
  app.memory_bytes = int64_t{256} << 20;
  app.scale = {{"web", 2}, {"worker", 1}};
  return app;
}

store::Release ShopRelease() {
  store::Release r;
  r.app = "shop";
  r.version = 7;
  r.config = {{"GREETING", "bonjour \"quoted\"\tand tabbed"},
              {"STRIPE_API_KEY", "sk_live_0123456789"},
              {"DB_PASSWORD", "hunter2"},
              {"_PRIVATE", "x"},
              {"LINKED", "s3cr3t-from-a-theme"},
              {"DATABASE_URL", "postgres://postgres:pgpw@dokku-postgres-db:5432/db"},
              {"DOCS_URL", "https://docs.example.com/a@b"}};
  return r;
}

TEST(PackageTest, ReleaseSourceInputsAndSecrets) {
  auto p = PackageApp(ShopApp(), ShopRelease(), {"LINKED"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->needs_archive);
  for (const char* value : {"sk_live_0123456789", "hunter2", "s3cr3t-from-a-theme", "pgpw"}) {
    EXPECT_EQ(p->manifest.find(value), std::string::npos) << value << " in\n" << p->manifest;
  }
  themes::ThemeParse t = themes::ParseTheme(p->manifest);
  ASSERT_TRUE(t.theme) << p->manifest;
  EXPECT_EQ(t.theme->name, "shop");
  EXPECT_EQ(t.theme->source.kind, themes::Source::Kind::kRelease);
  EXPECT_EQ(t.theme->source.release, kReleaseArchiveName);
  EXPECT_EQ(t.theme->processes, (std::map<std::string, int>{{"web", 2}, {"worker", 1}}));
  ASSERT_TRUE(t.theme->healthcheck);
  EXPECT_EQ(t.theme->healthcheck->path, "/health");
  EXPECT_EQ(t.theme->resources.memory_bytes, int64_t{256} << 20);
  // Credentials become secrets of the same length (at least 16).
  ASSERT_NE(t.theme->FindSecret("stripe_api_key"), nullptr);
  EXPECT_EQ(t.theme->FindSecret("stripe_api_key")->length, 18);
  ASSERT_NE(t.theme->FindSecret("db_password"), nullptr);
  EXPECT_EQ(t.theme->FindSecret("db_password")->length, 16);
  EXPECT_NE(t.theme->FindSecret("linked"), nullptr);  // a theme secret stays one
  // Other keys become inputs with their value as the default, quoting intact.
  const themes::Input* greeting = t.theme->FindInput("greeting");
  ASSERT_NE(greeting, nullptr);
  EXPECT_EQ(greeting->default_value, "bonjour \"quoted\"\tand tabbed");
  EXPECT_NE(t.theme->FindInput("private"), nullptr);
  EXPECT_NE(t.theme->FindSecret("database_url"), nullptr);  // a password inside the URL
  EXPECT_NE(t.theme->FindInput("docs_url"), nullptr);       // an '@' in the path is not one
}

TEST(PackageTest, ImageSourceNeedsNoArchive) {
  store::Release r = ShopRelease();
  r.image = "ghcr.io/acme/shop:1.4.2";
  auto p = PackageApp(ShopApp(), r, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->needs_archive);
  themes::ThemeParse t = themes::ParseTheme(p->manifest);
  ASSERT_TRUE(t.theme) << p->manifest;
  EXPECT_EQ(t.theme->source.image, "ghcr.io/acme/shop:1.4.2");
}

TEST(PackageTest, AValueThatCannotBeAnInputIsReported) {
  store::Release r = ShopRelease();
  r.config = {{"MOTD", "line one\nline two"}};
  auto p = PackageApp(ShopApp(), r, {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("does not validate"), std::string::npos) << p.status();
  EXPECT_NE(p.status().message().find("control characters"), std::string::npos) << p.status();
}

TEST(PackageTest, LooksSecret) {
  EXPECT_TRUE(LooksSecret("N8N_ENCRYPTION_KEY"));
  EXPECT_TRUE(LooksSecret("api_token"));
  EXPECT_FALSE(LooksSecret("GREETING"));
  EXPECT_FALSE(LooksSecret("DATABASE_URL"));
}

}  // namespace
}  // namespace dflow::controller_themes
