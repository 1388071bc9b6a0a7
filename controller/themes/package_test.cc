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

TEST(PackageTest, DokkuPortsStorageAndLinkedServices) {
  const std::string dsn = "postgres://postgres:pgpw@dokku-postgres-shop-db:5432/shop_db";
  store::Release r;
  r.version = 3;
  r.image = "ghcr.io/acme/shop:2.0.0";
  r.config = {{"DATABASE_URL", dsn},   {"DB_HOST", "dokku-postgres-shop-db"},
              {"DB_PORT", "5432"},     {"DB_USER", "postgres"},
              {"DB_PASSWORD", "pgpw"}, {"DB_DATABASE", "shop_db"},
              {"GREETING", "hi"}};
  store::AppExtras extras;
  extras.ports = {"http:80:5678"};
  extras.storage = {{"shop-data", "/app/data"}, {"shop-uploads", "/app/public/uploads"}};
  extras.services = {{.name = "shop_db",
                      .kind = "postgres",
                      .server = "dokku-1",
                      .dsn = dsn,
                      .links = {{"shop_db", "shop", "DB_"}}}};
  auto p = PackageApp(ShopApp(), r, {}, extras);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->manifest.find("pgpw"), std::string::npos) << p->manifest;
  themes::ThemeParse t = themes::ParseTheme(p->manifest);
  ASSERT_TRUE(t.theme) << p->manifest;
  EXPECT_EQ(t.theme->port, 5678);
  ASSERT_EQ(t.theme->services.size(), 1u);
  EXPECT_EQ(t.theme->services[0].name, "shop_db");
  EXPECT_EQ(t.theme->services[0].type, "postgres");
  ASSERT_EQ(t.theme->volumes.size(), 2u);
  EXPECT_EQ(t.theme->volumes[0].path, "/app/data");
  EXPECT_TRUE(t.theme->volumes[0].backup);
  std::map<std::string, std::string> env;
  for (const auto& e : t.theme->env) env[e.key] = e.value;
  EXPECT_EQ(env["DATABASE_URL"], "{{ services.shop_db.url }}");
  EXPECT_EQ(env["DB_PASSWORD"], "{{ services.shop_db.password }}");
  EXPECT_EQ(env["DB_HOST"], "{{ services.shop_db.host }}");
  EXPECT_EQ(env["GREETING"], "{{ inputs.greeting }}");
  EXPECT_TRUE(t.theme->secrets.empty());
}

TEST(PackageTest, LooksSecret) {
  EXPECT_TRUE(LooksSecret("N8N_ENCRYPTION_KEY"));
  EXPECT_TRUE(LooksSecret("api_token"));
  EXPECT_FALSE(LooksSecret("GREETING"));
  EXPECT_FALSE(LooksSecret("DATABASE_URL"));
}

}  // namespace
}  // namespace dflow::controller_themes
