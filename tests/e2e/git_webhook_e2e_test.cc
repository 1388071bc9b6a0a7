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

class WebhookE2E : public GitE2E {
 protected:
  // Rejections become events at most once per app per 10 s (default 1 min):
  // long enough that a flood of ten curls on a loaded machine fits in one.
  std::vector<std::string> ExtraControllerFlags() override {
    return {"--webhook-rejected-every", "10s"};
  }
  // The events of `kind` about `app`, oldest first.
  std::vector<nlohmann::json> Events(const std::string& kind, const std::string& app) {
    auto events = Json({"events", "--json", "-n", "1000"});
    std::vector<nlohmann::json> out;
    if (!events.is_object()) return out;
    for (const auto& e : events["data"]) {
      if (e.value("kind", "") == kind && e.value("app", "") == app) out.push_back(e);
    }
    return out;
  }
  nlohmann::json LastDelivery(const std::string& app) {
    auto show = Json({"apps", "show", app, "--json"});
    if (!show.is_object() || !show["git"].is_object()) return nlohmann::json::object();
    auto d = show["git"]["last_delivery"];
    return d.is_object() ? d : nlohmann::json::object();
  }
  // The newest event of `kind` about `app`, or null.
  nlohmann::json LastEvent(const std::string& kind, const std::string& app) {
    auto events = Json({"events", "--json", "-n", "1000"});
    if (!events.is_object()) return nullptr;
    nlohmann::json found;
    for (const auto& e : events["data"]) {
      if (e.value("kind", "") == kind && e.value("app", "") == app) found = e;
    }
    return found;
  }
  std::vector<std::string> Signed(const std::string& id, const std::string& secret,
                                  const std::string& body) {
    return {"X-GitHub-Event: push", "X-GitHub-Delivery: " + id,
            "X-Hub-Signature-256: sha256=" + Hmac(secret, body)};
  }
};

TEST_F(WebhookE2E, WebhooksDeployVerifiedPushesOnly) {
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
  // The answer names the deploy op (the fetch from a local forge is quick).
  auto accepted = nlohmann::json::parse(ok.second, nullptr, false);
  ASSERT_TRUE(accepted.is_object()) << ok.second;
  EXPECT_EQ(accepted.value("state", ""), "deploying") << ok.second;
  EXPECT_EQ(accepted.value("delivery", ""), "d-1");
  ASSERT_TRUE(accepted["op_id"].is_number_integer()) << ok.second;
  int64_t op = accepted["op_id"].get<int64_t>();
  auto op_json = Json({"ops", "show", std::to_string(op), "--json"});
  ASSERT_TRUE(op_json.is_object()) << ok.second;
  EXPECT_EQ(op_json.value("app", ""), "web") << op_json.dump();
  ASSERT_TRUE(WaitSettled("web", 1)) << fleet_->controller().Log();
  EXPECT_TRUE(AllAnswer("web", "hook-one"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && releases.size() == 1u) << releases.dump();
  EXPECT_TRUE(Contains(releases[0].value("description", ""), one));
  EXPECT_TRUE(Contains(releases[0].value("created_by", ""), "github webhook, delivery d-1"));
  EXPECT_EQ(releases[0].value("commit_sha", ""), one) << releases.dump();
  EXPECT_EQ(releases[0].value("pushed_by", ""), "github delivery d-1") << releases.dump();
  // `dflow releases` shows the commit and the delivery; `apps show` the delivery's result.
  std::string table = CliOk({"releases", "web"});
  EXPECT_TRUE(Contains(table, "git commit " + one)) << table;
  EXPECT_TRUE(Contains(table, "github webhook, delivery d-1")) << table;
  ASSERT_TRUE(WaitFor([&] { return LastDelivery("web").value("state", "") == "deployed"; },
                      std::chrono::seconds(30)))
      << LastDelivery("web").dump();
  EXPECT_EQ(LastDelivery("web").value("op_id", int64_t{0}), op);
  std::string show = CliOk({"apps", "show", "web"});
  EXPECT_TRUE(Contains(show, "deployed: github delivery d-1, commit " + one.substr(0, 12))) << show;

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
  releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_EQ(releases[0].value("commit_sha", ""), two) << releases.dump();
  EXPECT_EQ(releases[0].value("pushed_by", ""), "gitlab delivery g-1") << releases.dump();
  // The controller's repository follows once the deploy has succeeded.
  EXPECT_TRUE(
      WaitFor([&] { return BareRef(Remote("web"), "main") == two; }, std::chrono::seconds(10)));

  // Bodies over the limit are refused before they are read.
  auto big = Post("/hooks/github?app=web", std::string(2 << 20, 'x'),
                  {"X-GitHub-Event: push", "X-GitHub-Delivery: d-3"});
  EXPECT_EQ(big.first, 413) << big.second;
}

TEST_F(WebhookE2E, FailedDeliveriesAreReportedAndMayBeRedelivered) {
  std::string forge = tmp_.path() + "/forge.git";
  RunProgram({"git", "init", "--quiet", "--bare", "--initial-branch", "main", forge});
  std::string work = tmp_.path() + "/work";
  std::string one = NewHelloRepo(work, "hook-ok");
  ASSERT_EQ(Git(work, {"push", forge, "main"}).exit_code, 0);
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  auto set = Json({"apps", "set", "web", "--git-url", "file://" + tmp_.path() + "/no-such.git",
                   "--webhook-secret-generate", "--json"});
  ASSERT_TRUE(set.is_object());
  std::string secret = set.value("webhook_secret", "");

  // The fetch fails: the forge gets the reason, and so do `dflow events` and `apps show`.
  std::string body = PushBody("refs/heads/main", one);
  auto r = Post("/hooks/github?app=web", body, Signed("d-fetch", secret, body));
  EXPECT_EQ(r.first, 502) << r.second;
  EXPECT_TRUE(Contains(r.second, "no-such.git")) << r.second;
  auto event = LastEvent("git.webhook_failed", "web");
  ASSERT_TRUE(event.is_object()) << Cli({"events", "--json"}).out;
  std::string msg = event.value("message", "");
  EXPECT_TRUE(Contains(msg, "webhook delivery d-fetch (github) for app web failed")) << msg;
  EXPECT_TRUE(Contains(msg, "dflow apps set web --git-url URL")) << msg;
  EXPECT_TRUE(Contains(msg, "redeliver d-fetch")) << msg;
  EXPECT_EQ(LastDelivery("web").value("state", ""), "failed");
  std::string show = CliOk({"apps", "show", "web"});
  EXPECT_TRUE(Contains(show, "failed: github delivery d-fetch")) << show;
  std::string events = CliOk({"events"});
  EXPECT_TRUE(Contains(events, "d-fetch")) << events;
  EXPECT_EQ(ReleaseCount("web"), 0);

  // Fixed URL: the forge's redelivery of the same delivery deploys.
  CliOk({"apps", "set", "web", "--git-url", "file://" + forge});
  r = Post("/hooks/github?app=web", body, Signed("d-fetch", secret, body));
  EXPECT_EQ(r.first, 202) << r.second;
  ASSERT_TRUE(WaitFor([&] { return LastDelivery("web").value("state", "") == "deployed"; },
                      std::chrono::seconds(60)))
      << LastDelivery("web").dump() << fleet_->controller().Log();
  EXPECT_TRUE(AllAnswer("web", "hook-ok"));

  // A commit whose release never passes its health check: accepted with its op,
  // then reported as failed while the previous release keeps serving.
  Put(work + "/Procfile", Read(Example("broken") + "/Procfile"));
  Put(work + "/broken.py", Read(Example("broken") + "/broken.py"));
  std::string broken = Commit(work, "broken");
  ASSERT_EQ(Git(work, {"push", forge, "main"}).exit_code, 0);
  std::string body2 = PushBody("refs/heads/main", broken);
  r = Post("/hooks/github?app=web", body2, Signed("d-broken", secret, body2));
  ASSERT_EQ(r.first, 202) << r.second;
  auto accepted = nlohmann::json::parse(r.second, nullptr, false);
  ASSERT_TRUE(accepted.is_object() && accepted["op_id"].is_number_integer()) << r.second;
  std::string op = std::to_string(accepted["op_id"].get<int64_t>());
  ASSERT_TRUE(WaitFor([&] { return LastDelivery("web").value("state", "") == "failed"; },
                      std::chrono::seconds(120)))
      << LastDelivery("web").dump();
  event = LastEvent("git.webhook_failed", "web");
  msg = event.is_object() ? event.value("message", "") : "";
  EXPECT_TRUE(Contains(msg, "webhook delivery d-broken (github) for app web failed")) << msg;
  EXPECT_TRUE(Contains(msg, "op " + op)) << msg;
  EXPECT_TRUE(Contains(msg, "release v1 keeps serving")) << msg;
  EXPECT_TRUE(Contains(msg, "dflow ops show " + op)) << msg;
  EXPECT_TRUE(AllAnswer("web", "hook-ok"));
  show = CliOk({"apps", "show", "web"});
  EXPECT_TRUE(Contains(
      show, "failed: github delivery d-broken, commit " + broken.substr(0, 12) + ", op " + op))
      << show;
  // Its replay is ignored: the commit has had its deploy.
  r = Post("/hooks/github?app=web", body2, Signed("d-broken", secret, body2));
  EXPECT_EQ(r.first, 200) << r.second;
}

// 401s become git.webhook_rejected events naming the app, the forge and the
// delivery, at most one per app per window; the next one counts those left out.
TEST_F(WebhookE2E, RejectedDeliveriesBecomeRateLimitedEvents) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  auto set = Json({"apps", "set", "web", "--webhook-secret-generate", "--json"});
  ASSERT_TRUE(set.is_object()) << set.dump();
  std::string body = PushBody("refs/heads/main", std::string(40, 'a'));
  for (int i = 0; i < 10; ++i) {
    auto bad = Post("/hooks/github?app=web", body,
                    {"X-GitHub-Event: push", "X-GitHub-Delivery: flood-" + std::to_string(i),
                     "X-Hub-Signature-256: sha256=" + Hmac("not-the-secret", body)});
    ASSERT_EQ(bad.first, 401) << bad.second;
  }
  auto rejected = Events("git.webhook_rejected", "web");
  ASSERT_EQ(rejected.size(), 1u) << Cli({"events", "--json"}).out;
  std::string msg = rejected[0].value("message", "");
  EXPECT_TRUE(Contains(msg, "webhook delivery flood-0 (github) for app web rejected with 401"))
      << msg;
  EXPECT_TRUE(Contains(msg, "X-Hub-Signature-256")) << msg;
  EXPECT_TRUE(Contains(msg, "dflow apps set web --webhook-secret-generate")) << msg;
  EXPECT_TRUE(Contains(CliOk({"events"}), "flood-0"));

  // An app that does not exist: 401, logged, no event (a flood could make names up).
  auto ghost = Post("/hooks/github?app=ghost", body,
                    {"X-GitHub-Event: push", "X-GitHub-Delivery: ghost-1",
                     "X-Hub-Signature-256: sha256=" + Hmac("x", body)});
  EXPECT_EQ(ghost.first, 401) << ghost.second;
  EXPECT_TRUE(Events("git.webhook_rejected", "ghost").empty());

  // Once the window has passed, the next rejection is an event again, with the count.
  int n = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r =
            Post("/hooks/gitlab?app=web", body,
                 {"X-Gitlab-Event: Push Hook", "X-Gitlab-Event-UUID: late-" + std::to_string(n++),
                  "X-Gitlab-Token: wrong"});
        EXPECT_EQ(r.first, 401) << r.second;
        return Events("git.webhook_rejected", "web").size() >= 2u;
      },
      std::chrono::seconds(40)));
  rejected = Events("git.webhook_rejected", "web");
  ASSERT_EQ(rejected.size(), 2u);
  msg = rejected[1].value("message", "");
  EXPECT_TRUE(Contains(msg, "(gitlab) for app web rejected with 401")) << msg;
  EXPECT_TRUE(Contains(msg, "webhook delivery late-" + std::to_string(n - 1))) << msg;
  EXPECT_TRUE(Contains(msg, "X-Gitlab-Token")) << msg;
  // flood-1..9 and the gitlab ones before the window ended.
  std::string more = std::to_string(9 + n - 1) + " more rejected deliveries for web";
  EXPECT_TRUE(Contains(msg, more)) << msg << " (want: " << more << ")";
}

}  // namespace
}  // namespace dflow::testing
