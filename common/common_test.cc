// Tests of the small common pieces: names, durations, join tokens, SQLite, files.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/dokku_names.h"
#include "common/duration.h"
#include "common/files.h"
#include "common/join_token.h"
#include "common/loopback.h"
#include "common/names.h"
#include "common/sqlite.h"

namespace dflow {
namespace {

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-common-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

TEST(Names, AppNames) {
  struct Case {
    const char* name;
    bool ok;
  } cases[] = {{"a", true},
               {"shop", true},
               {"shop-api-2", true},
               {"", false},
               {"-shop", false},
               {"shop-", false},
               {"Shop", false},
               {"shop_api", false},
               {"shop.api", false},
               {"a23456789012345678901234567890123456789012345678", true},
               {"a234567890123456789012345678901234567890123456789", false}};
  for (const auto& c : cases) {
    EXPECT_EQ(ValidateAppName(c.name).ok(), c.ok) << c.name;
  }
  EXPECT_EQ(ValidateAppName("Bad_Name").message(),
            "app name \"Bad_Name\" is not allowed: use 1 to 48 characters of lowercase letters, "
            "digits and hyphens, starting and ending with a letter or digit (for example "
            "\"shop-api\")");
}

TEST(Names, EnvKeys) {
  EXPECT_TRUE(ValidateEnvKey("DATABASE_URL").ok());
  EXPECT_TRUE(ValidateEnvKey("_x1").ok());
  EXPECT_FALSE(ValidateEnvKey("1BAD").ok());
  EXPECT_FALSE(ValidateEnvKey("A-B").ok());
  EXPECT_FALSE(ValidateEnvKey("").ok());
}

TEST(Names, Labels) {
  auto ok = ParseLabels({"tier=beefy", "zone=eu-1", "empty="});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at("tier"), "beefy");
  EXPECT_EQ(ok->at("empty"), "");
  EXPECT_EQ(ParseLabels({"noequals"}).status().message(),
            "label \"noequals\" must be written key=value (for example tier=beefy)");
  EXPECT_FALSE(ParseLabels({"Tier=x"}).ok());
  EXPECT_FALSE(ParseLabels({"tier=a b"}).ok());
  EXPECT_FALSE(ParseLabels({"tier=$x"}).ok());
}

TEST(Names, HostPort) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(SplitHostPort("127.0.0.1:7443", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7443);
  EXPECT_TRUE(SplitHostPort("[::1]:80", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(ValidateHostPort("localhost").ok());
  EXPECT_FALSE(ValidateHostPort("localhost:0").ok());
  EXPECT_FALSE(ValidateHostPort("localhost:70000").ok());
  EXPECT_FALSE(ValidateHostPort(":80").ok());
}

TEST(Duration, Parses) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("5s")->count(), 5000);
  EXPECT_EQ(ParseDuration("1m")->count(), 60000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5400000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7 * 86400000LL);
  for (const char* bad : {"", "5", "s", "5x", "-5s", "1.5s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
}

TEST(JoinToken, RoundTrip) {
  auto t = NewJoinToken("127.0.0.1:7443", std::string(64, 'a'));
  ASSERT_TRUE(t.ok());
  auto back = DecodeJoinToken(t->Encode() + "\n");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->controller_address, "127.0.0.1:7443");
  EXPECT_EQ(back->ca_fingerprint, std::string(64, 'a'));
  EXPECT_EQ(back->secret, t->secret);
  EXPECT_EQ(back->Id(), t->Id());
  EXPECT_NE(t->Id(), NewJoinToken("127.0.0.1:7443", std::string(64, 'a'))->Id());
}

TEST(JoinToken, RejectsGarbage) {
  for (const char* bad :
       {"", "hello", "dflow-join-v1.", "dflow-join-v1.!!!!", "dflow-join-v1.e30"}) {
    auto r = DecodeJoinToken(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("join token is malformed"), std::string::npos);
  }
}

TEST(Sqlite, TransactionRollsBack) {
  std::string dir = TempDir();
  auto db = Db::Open(dir + "/t.db");
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t (x INTEGER)").ok());
  auto s = (*db)->Transaction([&]() -> absl::Status {
    EXPECT_TRUE((*db)->Exec("INSERT INTO t VALUES (1)").ok());
    return absl::InternalError("boom");
  });
  EXPECT_EQ(s.message(), "boom");
  auto count = (*db)->Prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*count->Step());
  EXPECT_EQ(count->Int(0), 0);
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
  std::filesystem::remove_all(dir);
}

TEST(Files, DirLockRefusesSecondHolder) {
  std::string dir = TempDir();
  auto first = DirLock::Acquire(dir, "dflow-controller");
  ASSERT_TRUE(first.ok());
  auto second = DirLock::Acquire(dir, "dflow-controller");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("another dflow-controller (pid "), std::string::npos)
      << second.status().message();
  std::filesystem::remove_all(dir);
}

TEST(Files, WriteFileAtomicSetsMode) {
  std::string dir = TempDir();
  ASSERT_TRUE(WriteFileAtomic(dir + "/k", "secret", 0600).ok());
  struct stat st;
  ASSERT_EQ(stat((dir + "/k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFile(dir + "/k"), "secret");
  EXPECT_FALSE(ReadFile(dir + "/missing").ok());
  std::filesystem::remove_all(dir);
}

TEST(Clock, Rfc3339) {
  EXPECT_EQ(FormatRfc3339(0), "");
  EXPECT_EQ(FormatRfc3339(1700000000123), "2023-11-14T22:13:20.123Z");
}

TEST(DokkuNames, RootOwnedStorageNeedsDokku038) {
  auto before = CheckStorageOwnerOnDokku("root", "n8n-data", "0.35.20", "web-2");
  EXPECT_EQ(before.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(before.message(),
            "Dokku 0.35.20 on web-2 cannot give storage n8n-data to root (before 0.38 its chown "
            "helper takes herokuish, heroku or paketo only); mount it with --chown false to keep "
            "Dokku's owner, or upgrade Dokku to 0.38");
  EXPECT_FALSE(CheckStorageOwnerOnDokku("root", "d", "0.37.9", "s").ok());
  for (const char* version : {"0.38.0", "0.38.27", "0.40.1", "1.0.0"}) {
    EXPECT_TRUE(CheckStorageOwnerOnDokku("root", "d", version, "s").ok()) << version;
  }
  // Unknown (not yet reported, or not Dokku): left to the agent.
  EXPECT_TRUE(CheckStorageOwnerOnDokku("root", "d", "", "s").ok());
  for (const auto& owner : StorageOwners()) {
    if (owner == "root") continue;
    EXPECT_TRUE(CheckStorageOwnerOnDokku(owner, "d", "0.35.20", "s").ok()) << owner;
  }
}

TEST(LoopbackTest, FreeLoopbackPortCanBeListenedOn) {
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << port;
  EXPECT_EQ(listen(fd, 1), 0);
  close(fd);
  EXPECT_NE(FreeLoopbackPort(), 0);
}

TEST(LoopbackTest, FreeLoopbackPortIsOutsideTheEphemeralAndInstanceRanges) {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0, high = 0;
  ASSERT_TRUE(in >> low >> high);
  if (low <= 19999) GTEST_SKIP() << "ephemeral ports start at " << low << " here";
  for (int i = 0; i < 50; ++i) {
    const int port = FreeLoopbackPort();
    EXPECT_GE(port, 10000);
    EXPECT_LE(port, 19999);  // below 20000, where LocalRuntime's instances listen
  }
}

}  // namespace
}  // namespace dflow
