// git push to the controller's app repositories (the local path): the
// pre-receive hook deploys through the durable deploy op, a failing release
// rejects the push, other branches are stored only, pushes are serialized.
#include <pwd.h>
#include <unistd.h>

#include <thread>

#include "tests/e2e/git_fixture.h"

namespace dflow::testing {
namespace {

TEST_F(GitE2E, PushDeploysToBothServersAndABrokenCommitIsRejected) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  std::string remote = Remote("web");
  ASSERT_TRUE(Contains(remote, "/repos/web.git")) << remote;
  ASSERT_TRUE(FileExists(remote + "/HEAD"));
  std::string work = tmp_.path() + "/work";

  std::string first = NewHelloRepo(work, "first-push");
  auto push = Git(work, {"push", remote, "main"});
  ASSERT_EQ(push.exit_code, 0) << push.err << fleet_->controller().Log();
  EXPECT_TRUE(Contains(push.err, "remote: ")) << push.err;
  EXPECT_TRUE(Contains(push.err, "release v1 of web is live")) << push.err;
  CliOk({"scale", "web", "web=2"});
  ASSERT_TRUE(WaitSettled("web", 2));
  ASSERT_EQ(RunningByServer("web").size(), 2u) << Ps("web").dump();

  SetGreeting(work, "second-push");
  std::string second = Commit(work, "second");
  push = Git(work, {"push", remote, "main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_TRUE(Contains(push.err, "release v2 of web is live")) << push.err;
  EXPECT_TRUE(Contains(push.err, "on local-1 at http://")) << push.err;
  EXPECT_TRUE(Contains(push.err, "on local-2 at http://")) << push.err;
  ASSERT_TRUE(WaitSettled("web", 2));
  EXPECT_EQ(RunningByServer("web").size(), 2u);
  EXPECT_TRUE(AllAnswer("web", "second-push")) << ::testing::PrintToString(Answers("web"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_TRUE(Contains(releases[0].value("description", ""), second)) << releases.dump();
  EXPECT_TRUE(Contains(releases[0].value("created_by", ""), "git push by")) << releases.dump();
  // The commit and the pusher (the local user) in `dflow releases`.
  std::string table = CliOk({"releases", "web"});
  EXPECT_TRUE(Contains(table, "git commit " + second)) << table;
  struct passwd* me = getpwuid(geteuid());
  ASSERT_NE(me, nullptr);
  EXPECT_TRUE(Contains(table, std::string("git push by ") + me->pw_name)) << table;
  // ... and as fields: the full SHA in --json, the short one in the COMMIT column.
  EXPECT_EQ(releases[0].value("commit_sha", ""), second) << releases.dump();
  EXPECT_EQ(releases[0].value("pushed_by", ""), std::string("user ") + me->pw_name);
  EXPECT_EQ(releases[1].value("commit_sha", ""), first) << releases.dump();
  EXPECT_TRUE(Contains(table, "COMMIT")) << table;
  EXPECT_TRUE(Contains(table, " " + second.substr(0, 12) + " ")) << table;
  EXPECT_EQ(BareRef(remote, "main"), second);

  // A commit whose instances never pass the health check: rejected, not stored.
  Put(work + "/Procfile", Read(Example("broken") + "/Procfile"));
  Put(work + "/broken.py", Read(Example("broken") + "/broken.py"));
  std::string broken = Commit(work, "broken");
  int before = ReleaseCount("web");
  push = Git(work, {"push", remote, "main"});
  EXPECT_NE(push.exit_code, 0) << push.err;
  EXPECT_TRUE(Contains(push.err, "remote: dflow: push rejected")) << push.err;
  EXPECT_TRUE(Contains(push.err, "release v2 keeps serving")) << push.err;
  EXPECT_EQ(BareRef(remote, "main"), second);
  EXPECT_TRUE(AllAnswer("web", "second-push"));
  EXPECT_EQ(ReleaseCount("web"), before + 1);  // the failed one, recorded as failed
  EXPECT_EQ(Json({"releases", "web", "--json"})[0].value("commit_sha", ""), broken);

  // Another branch: stored, not deployed.
  push = Git(work, {"push", remote, "HEAD:refs/heads/feature"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_TRUE(Contains(push.err, "refs/heads/feature stored, not deployed")) << push.err;
  EXPECT_EQ(BareRef(remote, "feature"), broken);
  EXPECT_EQ(BareRef(remote, "main"), second);
  EXPECT_EQ(ReleaseCount("web"), before + 1);
  EXPECT_TRUE(AllAnswer("web", "second-push"));

  // A rollback to v1 runs v1's code: its release carries v1's commit and pusher.
  CliOk({"rollback", "web", "v1"});
  releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_EQ(releases[0].value("kind", ""), "rollback") << releases.dump();
  EXPECT_EQ(releases[0].value("commit_sha", ""), first) << releases.dump();
  EXPECT_EQ(releases[0].value("pushed_by", ""), std::string("user ") + me->pw_name);
  ASSERT_TRUE(WaitSettled("web", 2));
  EXPECT_TRUE(AllAnswer("web", "first-push"));
}

TEST_F(GitE2E, ConcurrentPushesToOneAppAreSerialized) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  std::string remote = Remote("web");
  std::string seed = tmp_.path() + "/seed";
  NewHelloRepo(seed, "seed");
  ASSERT_EQ(Git(seed, {"push", remote, "main"}).exit_code, 0);

  std::string a = tmp_.path() + "/a", b = tmp_.path() + "/b";
  RunProgram({"git", "clone", "--quiet", remote, a});
  RunProgram({"git", "clone", "--quiet", remote, b});
  SetGreeting(a, "from-a");
  std::string sha_a = Commit(a, "a");
  SetGreeting(b, "from-b");
  Commit(b, "b");
  CliResult ra, rb;
  int64_t seed_op = LastOp("web").value("id", int64_t{0});
  std::thread ta([&] { ra = Git(a, {"push", "origin", "main"}); });
  // b pushes while a's deploy runs.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto op = LastOp("web");
        return op.is_object() && op.value("id", int64_t{0}) > seed_op;
      },
      std::chrono::seconds(20)));
  std::thread tb([&] { rb = Git(b, {"push", "origin", "main"}); });
  ta.join();
  tb.join();
  // a deploys; b waits for it, then finds main moved and deploys nothing.
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_NE(rb.exit_code, 0) << rb.err;
  const CliResult& won = ra;
  const CliResult& lost = rb;
  std::string winner = sha_a;
  EXPECT_TRUE(Contains(won.err, "release v2 of web is live")) << won.err;
  EXPECT_TRUE(Contains(lost.err, "remote: waiting for the push of " + winner.substr(0, 12)))
      << lost.err;
  EXPECT_TRUE(Contains(lost.err, "moved to " + winner.substr(0, 12))) << lost.err;
  EXPECT_EQ(BareRef(remote, "main"), winner);
  EXPECT_EQ(ReleaseCount("web"), 2);
  EXPECT_TRUE(AllAnswer("web", "from-a"));
}

// `apps destroy` removes the app's repository: a new app of the same name
// starts with an empty one, and its first push is its v1.
TEST_F(GitE2E, DestroyRemovesTheRepository) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  std::string remote = Remote("web");
  std::string work = tmp_.path() + "/work";
  std::string old = NewHelloRepo(work, "before-destroy");
  ASSERT_EQ(Git(work, {"push", remote, "main"}).exit_code, 0);
  ASSERT_EQ(BareRef(remote, "main"), old);
  ASSERT_EQ(Git(work, {"push", remote, "HEAD:refs/heads/feature"}).exit_code, 0);

  CliOk({"apps", "destroy", "web", "--force"});
  EXPECT_FALSE(FileExists(remote + "/HEAD")) << remote;
  EXPECT_FALSE(FileExists(remote)) << remote;

  CliOk({"apps", "create", "web", "--health-path", "/health"});
  ASSERT_EQ(Remote("web"), remote);
  ASSERT_TRUE(FileExists(remote + "/HEAD"));
  auto refs = Git(remote, {"for-each-ref"});
  ASSERT_EQ(refs.exit_code, 0) << refs.err;
  EXPECT_EQ(refs.out, "") << "the new app's repository holds the old app's refs";
  EXPECT_NE(Git(remote, {"cat-file", "-e", old + "^{commit}"}).exit_code, 0)
      << "the old app's commit is still in the new app's repository";

  std::string fresh = tmp_.path() + "/fresh";
  std::string sha = NewHelloRepo(fresh, "after-destroy");
  auto push = Git(fresh, {"push", remote, "main"});
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_TRUE(Contains(push.err, "release v1 of web is live")) << push.err;
  EXPECT_EQ(BareRef(remote, "main"), sha);
  EXPECT_EQ(BareRef(remote, "feature"), "");
}

}  // namespace
}  // namespace dflow::testing
