// themes package: the manifest written from an app validates, keeps values of
// ordinary keys as input defaults and never carries a credential's value.
#include "controller/themes/package.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <memory>

#include "common/clock.h"
#include "controller/store/store.h"
#include "controller/store/store_test_util.h"
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
              {"DOCS_URL", "https://docs.example.com/a@b"},
              {"REPO", "https://ghp_tok3n@github.com/acme/shop.git"},
              {"AMQP", "amqp://guest@rabbit:5672/"}};
  return r;
}

TEST(PackageTest, ReleaseSourceInputsAndSecrets) {
  auto p = PackageApp(ShopApp(), ShopRelease(), {"LINKED"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->needs_archive);
  for (const char* value :
       {"sk_live_0123456789", "hunter2", "s3cr3t-from-a-theme", "pgpw", "ghp_tok3n"}) {
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
  EXPECT_NE(t.theme->FindSecret("repo"), nullptr);          // a token as an https URL's user is one
  EXPECT_NE(t.theme->FindInput("amqp"), nullptr);  // a user without a password elsewhere is not
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
  extras.ports = {"http:80:5678", "https:443:5678"};
  extras.storage = {{"shop-data", "/app/data", "heroku"},
                    {"shop-uploads", "/app/public/uploads", "herokuish"}};
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
  EXPECT_NE(p->manifest.find("set them again after the install): port map https:443:5678\n"),
            std::string::npos)
      << p->manifest;
  ASSERT_EQ(t.theme->services.size(), 1u);
  EXPECT_EQ(t.theme->services[0].name, "shop_db");
  EXPECT_EQ(t.theme->services[0].type, "postgres");
  ASSERT_EQ(t.theme->volumes.size(), 2u);
  EXPECT_EQ(t.theme->volumes[0].path, "/app/data");
  EXPECT_TRUE(t.theme->volumes[0].backup);
  // The owner the volume has on Dokku is written back out.
  EXPECT_EQ(t.theme->volumes[0].chown, "heroku");
  EXPECT_EQ(t.theme->volumes[1].chown, "herokuish");
  std::map<std::string, std::string> env;
  for (const auto& e : t.theme->env) env[e.key] = e.value;
  EXPECT_EQ(env["DATABASE_URL"], "{{ services.shop_db.url }}");
  EXPECT_EQ(env["DB_PASSWORD"], "{{ services.shop_db.password }}");
  EXPECT_EQ(env["DB_HOST"], "{{ services.shop_db.host }}");
  EXPECT_EQ(env["GREETING"], "{{ inputs.greeting }}");
  EXPECT_TRUE(t.theme->secrets.empty());
}

// A webhook release: the controller fetched commit_sha from the app's git URL.
store::Release WebhookRelease() {
  store::Release r = ShopRelease();
  r.config = {{"GREETING", "hi"}};
  r.commit_sha = "0123456789abcdef0123456789abcdef01234567";
  r.pushed_by = "github delivery 72d3162e-cc78-11e3-81ab-4c9367dc0958";
  return r;
}

TEST(PackageTest, WebhookReleaseOnDokkuIsItsGitUrlAtTheCommit) {
  AppOrigin origin{.git_url = "https://github.com/acme/shop.git", .runs_on_dokku = true};
  auto p = PackageApp(ShopApp(), WebhookRelease(), {}, {}, origin);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->needs_archive);
  themes::ThemeParse t = themes::ParseTheme(p->manifest);
  ASSERT_TRUE(t.theme) << p->manifest;
  EXPECT_EQ(t.theme->source.kind, themes::Source::Kind::kGit);
  EXPECT_EQ(t.theme->source.git, "https://github.com/acme/shop.git");
  EXPECT_EQ(t.theme->source.ref, "0123456789abcdef0123456789abcdef01234567");
}

struct GitCase {
  const char* name;
  std::string pushed_by;
  std::string git_url;
  bool runs_on_dokku;
  std::string why_not;  // "" when the git source is reproducible
};

void PrintTo(const GitCase& c, std::ostream* os) { *os << c.name; }

class GitSourceTable : public testing::TestWithParam<GitCase> {};

TEST_P(GitSourceTable, DecidesWhatAnotherControllerCanFetch) {
  const GitCase& c = GetParam();
  store::Release r = WebhookRelease();
  r.pushed_by = c.pushed_by;
  AppOrigin origin{.git_url = c.git_url, .runs_on_dokku = c.runs_on_dokku};
  std::string why;
  auto git = ReproducibleGitSource(r, origin, {}, &why);
  EXPECT_EQ(git.has_value(), c.why_not.empty());
  EXPECT_EQ(why, c.why_not);
  // The packaged theme says why in a comment and carries the archive.
  auto p = PackageApp(ShopApp(), r, {}, {}, origin);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->needs_archive, !c.why_not.empty());
  if (!c.why_not.empty()) {
    EXPECT_NE(p->manifest.find("# Git commit 0123456789abcdef0123456789abcdef01234567 travels as "
                               "the release archive: " +
                               c.why_not + ".\n"),
              std::string::npos)
        << p->manifest;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, GitSourceTable,
    testing::Values(
        GitCase{"gitlab_ssh", "gitlab delivery 9", "git@gitlab.com:acme/shop.git", true, ""},
        GitCase{"ssh_key_push", "key laptop", "https://github.com/acme/shop.git", true,
                "commit 0123456789abcdef0123456789abcdef01234567 was pushed to this "
                "controller's own repository (key laptop), so no other controller can fetch it"},
        GitCase{"local_push", "user alice", "https://github.com/acme/shop.git", true,
                "commit 0123456789abcdef0123456789abcdef01234567 was pushed to this "
                "controller's own repository (user alice), so no other controller can fetch it"},
        GitCase{"no_git_url", "github delivery 1", "", true, "the app has no git URL"},
        GitCase{"file_url", "github delivery 1", "file:///srv/git/shop.git", true,
                "the app's git URL file:///srv/git/shop.git is not a network URL"},
        GitCase{"password_in_url", "github delivery 1", "https://bot:ghp_x@github.com/a/b.git",
                true, "the app's git URL carries credentials, which a manifest must not"},
        GitCase{"token_as_user", "github delivery 1", "https://ghp_x@github.com/a/b.git", true,
                "the app's git URL carries credentials, which a manifest must not"},
        GitCase{"ssh_user_is_no_credential", "github delivery 1",
                "ssh://git@github.com/acme/shop.git", true, ""},
        GitCase{"local_runtime", "github delivery 1", "https://github.com/acme/shop.git", false,
                "the app runs on LocalRuntime servers and a git theme installs on Dokku servers "
                "only"}),
    [](const testing::TestParamInfo<GitCase>& i) { return std::string(i.param.name); });

TEST(PackageTest, ReleaseWithoutCommitHasNoGitComment) {
  auto p = PackageApp(ShopApp(), ShopRelease(), {}, {},
                      {.git_url = "https://github.com/acme/shop.git", .runs_on_dokku = true});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->needs_archive);
  EXPECT_EQ(p->manifest.find("# Git commit"), std::string::npos) << p->manifest;
}

TEST(PackageTest, HealthCheckTuningResourcesAndDomains) {
  store::App app = ShopApp();
  app.cpus = 0.5;
  store::AppExtras extras;
  extras.checks = {{"timeout", "12"}, {"attempts", "5"}, {"wait", "3"}};
  AppOrigin origin{.domains = {"shop.example.com", "www.shop.example.com"}};
  store::Release r = ShopRelease();
  r.config = {{"GREETING", "hi"}};
  auto p = PackageApp(app, r, {}, extras, origin);
  ASSERT_TRUE(p.ok()) << p.status();
  themes::ThemeParse t = themes::ParseTheme(p->manifest);
  ASSERT_TRUE(t.theme) << p->manifest;
  // Dokku's per-attempt timeout back into the theme's whole wait, which an
  // install divides again (60 s / 5 attempts = 12 s).
  ASSERT_TRUE(t.theme->healthcheck);
  EXPECT_EQ(t.theme->healthcheck->path, "/health");
  EXPECT_EQ(t.theme->healthcheck->timeout_ms, 60000);
  EXPECT_EQ(t.theme->healthcheck->attempts, 5);
  EXPECT_EQ(t.theme->resources.memory_bytes, int64_t{256} << 20);
  EXPECT_DOUBLE_EQ(t.theme->resources.cpus, 0.5);
  ASSERT_EQ(t.theme->domains.size(), 2u);
  EXPECT_EQ(t.theme->domains[0].host, "{{ inputs.domain_1 }}");
  ASSERT_NE(t.theme->FindInput("domain_2"), nullptr);
  EXPECT_EQ(t.theme->FindInput("domain_2")->default_value, "www.shop.example.com");
  // Dokku settings a theme cannot hold are named, not dropped unsaid.
  EXPECT_NE(p->manifest.find("# Not carried (a theme has no key for them; set them again after "
                             "the install): checks wait=3\n"),
            std::string::npos)
      << p->manifest;
  // Only attempts set: Dokku's 5 s per attempt stands in; totals stay within 600 s.
  extras.checks = {{"attempts", "10"}};
  t = themes::ParseTheme(PackageApp(app, r, {}, extras, {})->manifest);
  ASSERT_TRUE(t.theme && t.theme->healthcheck);
  EXPECT_EQ(t.theme->healthcheck->timeout_ms, 50000);
  EXPECT_EQ(t.theme->healthcheck->attempts, 10);
  extras.checks = {{"timeout", "300"}, {"attempts", "4"}};
  t = themes::ParseTheme(PackageApp(app, r, {}, extras, {})->manifest);
  ASSERT_TRUE(t.theme && t.theme->healthcheck);
  EXPECT_EQ(t.theme->healthcheck->timeout_ms, 600000);
  // Without Dokku settings the defaults stay implicit.
  t = themes::ParseTheme(PackageApp(app, r, {}, {}, {})->manifest);
  ASSERT_TRUE(t.theme && t.theme->healthcheck);
  EXPECT_EQ(t.theme->healthcheck->timeout_ms, 60000);
  EXPECT_TRUE(t.theme->domains.empty());
}

// ReadAppOrigin on a real store (SQLite file in a temporary directory).
class AppOriginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-origin-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    auto s = store::Store::Open(dir_ + "/store.db", &clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Join(const std::string& name, const std::string& runtime) {
    store::JoinTestServer(*store_, clock_.NowMs(), name, runtime, "127.0.0.1:7001");
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AppOriginTest, GitUrlDomainsAndDokkuPlacement) {
  Join("dokku-1", "dokku");
  Join("local-1", "local");
  store::App shop = ShopApp();
  shop.pinned_server = "dokku-1";
  ASSERT_TRUE(store_->CreateApp(shop).ok());
  store::App other;
  other.name = "other";
  other.pinned_server = "local-1";
  ASSERT_TRUE(store_->CreateApp(other).ok());
  store::AppGitUpdate git;
  git.git_url = "https://github.com/acme/shop.git";
  ASSERT_TRUE(store_->UpdateAppGit("shop", git).ok());
  ASSERT_TRUE(store_->AddDomain("shop", "shop.example.com").ok());
  ASSERT_TRUE(store_->AddDomain("other", "other.example.com").ok());
  ASSERT_TRUE(store_->AddDomain("shop", "www.shop.example.com").ok());

  auto origin = ReadAppOrigin(*store_, *store_->GetApp("shop"));
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(origin->git_url, "https://github.com/acme/shop.git");
  EXPECT_EQ(origin->domains,
            (std::vector<std::string>{"shop.example.com", "www.shop.example.com"}));
  EXPECT_TRUE(origin->runs_on_dokku);
  // Packaged from a webhook release with that origin: a git source.
  auto p = PackageApp(*store_->GetApp("shop"), WebhookRelease(), {}, {}, *origin);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->needs_archive);
  EXPECT_NE(p->manifest.find("git: \"https://github.com/acme/shop.git\""), std::string::npos)
      << p->manifest;

  origin = ReadAppOrigin(*store_, *store_->GetApp("other"));
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(origin->git_url, "");
  EXPECT_EQ(origin->domains, std::vector<std::string>{"other.example.com"});
  EXPECT_FALSE(origin->runs_on_dokku);
}

struct SecretCase {
  const char* key;
  bool secret;
};

class LooksSecretTable : public testing::TestWithParam<SecretCase> {};

TEST_P(LooksSecretTable, Classifies) {
  EXPECT_EQ(LooksSecret(GetParam().key), GetParam().secret) << GetParam().key;
}

INSTANTIATE_TEST_SUITE_P(
    Keys, LooksSecretTable,
    testing::Values(
        // Credentials: a credential word anywhere, the last word not about one.
        SecretCase{"N8N_ENCRYPTION_KEY", true}, SecretCase{"api_token", true},
        SecretCase{"JWT_SECRET", true}, SecretCase{"SECRET_KEY_BASE", true},
        SecretCase{"DB_PASSWORD", true}, SecretCase{"database__connection__password", true},
        SecretCase{"APP_KEYS", true}, SecretCase{"API_TOKEN_SALT", true},
        SecretCase{"AWS_SECRET_ACCESS_KEY", true}, SecretCase{"STRIPE_API_KEY", true},
        SecretCase{"RABBITMQ_DEFAULT_PASS", true}, SecretCase{"RABBITMQ_ERLANG_COOKIE", true},
        SecretCase{"SMTP_PWD", true}, SecretCase{"GPG_PASSPHRASE", true},
        SecretCase{"PRIVATE_KEY", true}, SecretCase{"GOOGLE_CREDENTIALS", true},
        SecretCase{"OPENAI_APIKEY", true}, SecretCase{"my-service.token", true},
        // About a credential, not one: the last word is a descriptor.
        SecretCase{"TOKEN_URL", false}, SecretCase{"PUBLIC_KEY_PATH", false},
        SecretCase{"SECRET_NAME", false}, SecretCase{"PASSWORD_FILE", false},
        SecretCase{"AWS_ACCESS_KEY_ID", false}, SecretCase{"JWT_SECRET_TTL", false},
        SecretCase{"TOKEN_HEADER", false}, SecretCase{"SESSION_COOKIE_SECURE", false},
        SecretCase{"COOKIE_DOMAIN", false}, SecretCase{"PASSWORD_MIN_LENGTH", false},
        SecretCase{"CACHE_KEY_PREFIX", false}, SecretCase{"KEY_ALGORITHM", false},
        // Public keys are not secrets.
        SecretCase{"VAPID_PUBLIC_KEY", false}, SecretCase{"STRIPE_PUBLISHABLE_KEY", false},
        // A credential word only counts as a whole word.
        SecretCase{"KEYCLOAK_URL", false}, SecretCase{"PASSENGER_APP_ENV", false},
        SecretCase{"BYPASS_CACHE", false}, SecretCase{"TOKENIZER_MODEL", false},
        SecretCase{"MONKEY", false}, SecretCase{"GREETING", false},
        SecretCase{"DATABASE_URL", false}, SecretCase{"_", false}),
    [](const testing::TestParamInfo<SecretCase>& i) {
      std::string n = i.param.key;
      for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

TEST(PackageTest, PemPrivateKeyValueIsASecret) {
  store::Release r = ShopRelease();
  r.config = {{"SIGNING", "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----"}};
  auto p = PackageApp(ShopApp(), r, {});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->manifest.find("MIIE"), std::string::npos) << p->manifest;
}

}  // namespace
}  // namespace dflow::controller_themes
