// Push webhooks on the controller's HTTP listener: a delivery signed with the
// app's secret makes the controller fetch the commit from the app's git URL (a
// local bare repository standing in for the forge) and deploy it; a bad
// signature gets 401 and deploys nothing; a replayed delivery is ignored.
#include <openssl/hmac.h>

#include "common/crypto.h"
#include "tests/e2e/git_fixture.h"

namespace dflow::testing {
namespace {

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return HexEncode(std::string(reinterpret_cast<char*>(out), len));
}

std::string PushBody(const std::string& ref, const std::string& sha) {
  return nlohmann::json{{"ref", ref}, {"before", std::string(40, '0')}, {"after", sha}}.dump();
}

TEST_F(GitE2E, WebhooksDeployVerifiedPushesOnly) {
  std::string forge = tmp_.path() + "/forge.git";
  RunProgram({"git", "init", "--quiet", "--bare", "--initial-branch", "main", forge});
  std::string work = tmp_.path() + "/work";
  std::string one = NewHelloRepo(work, "hook-one");
  ASSERT_EQ(Git(work, {"push", forge, "main"}).exit_code, 0);

  CliOk({"apps", "create", "web", "--health-path", "/health"});
  auto set = Json({"apps", "set", "web", "--git-url", "file://" + forge,
                   "--webhook-secret-generate", "--json"});
  ASSERT_TRUE(set.is_object()) << set.dump();
  std::string secret = set.value("webhook_secret", "");
  ASSERT_EQ(secret.size(), 64u) << set.dump();
  EXPECT_EQ(set.value("branch", ""), "main");
  // Shown once only.
  auto again = Json({"apps", "set", "web", "--branch", "main", "--json"});
  EXPECT_TRUE(again.is_object() && again["webhook_secret"].is_null()) << again.dump();
  EXPECT_TRUE(again.value("has_webhook_secret", false));

  std::string body = PushBody("refs/heads/main", one);
  // A bad signature: 401, nothing recorded (the same delivery id still works below).
  auto bad = Post("/hooks/github?app=web", body,
                  {"X-GitHub-Event: push", "X-GitHub-Delivery: d-1",
                   "X-Hub-Signature-256: sha256=" + Hmac("not-the-secret", body)});
  EXPECT_EQ(bad.first, 401) << bad.second;
  auto unsigned_post =
      Post("/hooks/github?app=web", body, {"X-GitHub-Event: push", "X-GitHub-Delivery: d-1"});
  EXPECT_EQ(unsigned_post.first, 401) << unsigned_post.second;
  EXPECT_EQ(ReleaseCount("web"), 0);

  std::vector<std::string> good = {"X-GitHub-Event: push", "X-GitHub-Delivery: d-1",
                                   "X-Hub-Signature-256: sha256=" + Hmac(secret, body)};
  auto ok = Post("/hooks/github?app=web", body, good);
  EXPECT_EQ(ok.first, 202) << ok.second;
  ASSERT_TRUE(WaitSettled("web", 1)) << fleet_->controller().Log();
  EXPECT_TRUE(AllAnswer("web", "hook-one"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && releases.size() == 1u) << releases.dump();
  EXPECT_TRUE(Contains(releases[0].value("description", ""), one));
  EXPECT_TRUE(Contains(releases[0].value("created_by", ""), "github webhook, delivery d-1"));

  // The same delivery again: ignored.
  auto replay = Post("/hooks/github?app=web", body, good);
  EXPECT_EQ(replay.first, 200) << replay.second;
  EXPECT_TRUE(Contains(replay.second, "received before")) << replay.second;
  EXPECT_EQ(ReleaseCount("web"), 1);

  // A push to another branch: ignored.
  std::string other = PushBody("refs/heads/feature", one);
  auto ignored = Post("/hooks/github?app=web", other,
                      {"X-GitHub-Event: push", "X-GitHub-Delivery: d-2",
                       "X-Hub-Signature-256: sha256=" + Hmac(secret, other)});
  EXPECT_EQ(ignored.first, 202) << ignored.second;
  EXPECT_TRUE(Contains(ignored.second, "not the deploy branch")) << ignored.second;

  // GitLab: the token header.
  SetGreeting(work, "hook-two");
  std::string two = Commit(work, "two");
  ASSERT_EQ(Git(work, {"push", forge, "main"}).exit_code, 0);
  std::string body2 = PushBody("refs/heads/main", two);
  auto wrong = Post("/hooks/gitlab?app=web", body2,
                    {"X-Gitlab-Event: Push Hook", "X-Gitlab-Event-UUID: g-1",
                     "X-Gitlab-Token: " + secret.substr(1) + "x"});
  EXPECT_EQ(wrong.first, 401) << wrong.second;
  auto gl =
      Post("/hooks/gitlab?app=web", body2,
           {"X-Gitlab-Event: Push Hook", "X-Gitlab-Event-UUID: g-1", "X-Gitlab-Token: " + secret});
  EXPECT_EQ(gl.first, 202) << gl.second;
  ASSERT_TRUE(WaitFor([&] { return AllAnswer("web", "hook-two"); }, std::chrono::seconds(30)))
      << fleet_->controller().Log();
  EXPECT_EQ(ReleaseCount("web"), 2);
  // The controller's repository follows once the deploy has succeeded.
  EXPECT_TRUE(
      WaitFor([&] { return BareRef(Remote("web"), "main") == two; }, std::chrono::seconds(10)));

  // Bodies over the limit are refused before they are read.
  auto big = Post("/hooks/github?app=web", std::string(2 << 20, 'x'),
                  {"X-GitHub-Event: push", "X-GitHub-Delivery: d-3"});
  EXPECT_EQ(big.first, 413) << big.second;
}

}  // namespace
}  // namespace dflow::testing
