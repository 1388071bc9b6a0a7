// git push over SSH: a real sshd on a loopback port whose AuthorizedKeysFile
// is the one the controller writes from `dflow keys`; every key is forced
// into `dflow-controller git-shell`.
#include <sys/stat.h>

#include "tests/e2e/git_fixture.h"

namespace dflow::testing {
namespace {

class GitSshE2E : public GitE2E {
 protected:
  void SetUp() override {
    GitE2E::SetUp();
    if (HasFatalFailure()) return;
    dir_ = tmp_.path() + "/ssh";
    mkdir(dir_.c_str(), 0700);
    mkdir("/run/sshd", 0755);  // sshd's privilege-separation directory
    for (const char* k : {"host", "alice", "bob"}) {
      auto r = RunProgram(
          {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", k, "-f", dir_ + "/" + k});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    port_ = FreePort();
    Put(dir_ + "/sshd_config",
        "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + dir_ +
            "/host\nAuthorizedKeysFile " + fleet_->controller_dir() +
            "/git/authorized_keys\nStrictModes no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
            "PidFile " +
            dir_ + "/sshd.pid\nLogLevel VERBOSE\n");
    sshd_ = Proc({"/usr/sbin/sshd", "-D", "-e", "-f", dir_ + "/sshd_config"}, dir_ + "/sshd.log");
    ASSERT_TRUE(WaitFor([&] { return Contains(sshd_.Log(), "Server listening"); },
                        std::chrono::seconds(10)))
        << sshd_.Log();
    // GIT_SSH: git runs this program with argv (no shell of ours in between).
    for (const char* k : {"alice", "bob"}) {
      std::string wrapper = dir_ + "/ssh-" + k;
      Put(wrapper, "#!/bin/sh\nexec ssh -i " + dir_ + "/" + k +
                       " -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "
                       "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \"$@\"\n");
      chmod(wrapper.c_str(), 0755);
    }
  }

  std::string Url(const std::string& app) {
    return "ssh://root@127.0.0.1:" + std::to_string(port_) + "/" + app;
  }
  CliResult GitAs(const std::string& key, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, {{"GIT_SSH", dir_ + "/ssh-" + key}, {"GIT_SSH_VARIANT", "ssh"}});
  }
  // Runs `command` as the SSH command line, as a crafted client would.
  CliResult SshAs(const std::string& key, const std::string& command) {
    return RunProgram(
        {dir_ + "/ssh-" + key, "-p", std::to_string(port_), "root@127.0.0.1", command});
  }

  std::string dir_;
  int port_ = 0;
  Proc sshd_;
};

TEST_F(GitSshE2E, KeysPushOnlyToTheirAppsAndCraftedNamesAreRefused) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  CliOk({"apps", "create", "other"});
  CliOk({"keys", "add", "alice", "--file", dir_ + "/alice.pub", "--apps", "web"});
  CliOk({"keys", "add", "bob", "--file", dir_ + "/bob.pub", "--apps", "other"});
  auto keys = Json({"keys", "ls", "--json"});
  ASSERT_TRUE(keys.is_array() && keys.size() == 2u) << keys.dump();
  EXPECT_TRUE(Contains(keys[0].value("fingerprint", ""), "SHA256:"));
  std::string authorized = Read(fleet_->controller_dir() + "/git/authorized_keys");
  EXPECT_TRUE(Contains(authorized, "git-shell --socket ")) << authorized;
  EXPECT_TRUE(Contains(authorized, " --key alice\",restrict ssh-ed25519 ")) << authorized;

  std::string work = tmp_.path() + "/work";
  std::string sha = NewHelloRepo(work, "over-ssh");
  auto push = GitAs("alice", {"-C", work, "push", Url("web"), "main"});
  ASSERT_EQ(push.exit_code, 0) << push.err << sshd_.Log();
  EXPECT_TRUE(Contains(push.err, "remote: release v1 of web is live")) << push.err;
  ASSERT_TRUE(WaitSettled("web", 1));
  EXPECT_TRUE(AllAnswer("web", "over-ssh"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_EQ(releases[0].value("created_by", ""), "git push by key alice") << releases.dump();

  // Clone works for a key with rights.
  auto clone = GitAs("alice", {"clone", "--quiet", Url("web.git"), tmp_.path() + "/clone"});
  EXPECT_EQ(clone.exit_code, 0) << clone.err;
  EXPECT_EQ(GitOk(tmp_.path() + "/clone", {"rev-parse", "HEAD"}), sha);

  // bob may push to `other` only.
  SetGreeting(work, "from-bob");
  Commit(work, "bob");
  push = GitAs("bob", {"-C", work, "push", Url("web"), "main"});
  EXPECT_NE(push.exit_code, 0);
  EXPECT_TRUE(Contains(push.err, "key bob may not push to app web")) << push.err;
  EXPECT_EQ(BareRef(Remote("web"), "main"), sha);
  EXPECT_EQ(ReleaseCount("web"), 1);

  // Crafted commands: one-line refusals, nothing run.
  for (const std::string& cmd :
       {std::string("git-receive-pack '../x'"), std::string("git-receive-pack 'a;b'"),
        std::string("git-receive-pack 'we\"b'"), std::string("git-receive-pack 'web'\\''x'"),
        std::string("git-receive-pack web"), std::string("ls -la"),
        std::string("git-upload-pack '/etc/passwd'")}) {
    auto r = SshAs("alice", cmd);
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_TRUE(Contains(r.err, "dflow: ")) << cmd << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << cmd << ": " << r.err;
  }
  // A removed key is refused at once.
  CliOk({"keys", "rm", "alice"});
  push = GitAs("alice", {"-C", work, "push", Url("web"), "main"});
  EXPECT_NE(push.exit_code, 0);
  EXPECT_EQ(BareRef(Remote("web"), "main"), sha);
}

}  // namespace
}  // namespace dflow::testing
