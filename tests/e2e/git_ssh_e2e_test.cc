// git push over SSH as on a real install: deploy/git-user.sh creates a
// non-root git user and group (run twice: it is idempotent), the controller
// keeps the repositories, its git socket and authorized_keys in that user's
// home outside its 0700 data dir, and a real sshd on a loopback port logs the
// user in with keys the controller forces into `dflow-controller git-shell`.
// The users the test creates are removed at the end.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/git_fixture.h"

namespace dflow::testing {
namespace {

class GitSshE2E : public GitE2E {
 protected:
  void SetUp() override {
    std::string id = std::to_string(getpid() % 100000);
    user_ = "dfgit" + id;
    member_ = "dfmem" + id;
    outsider_ = "dfout" + id;
    char tmpl[] = "/tmp/dflow-git-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    shared_ = tmpl;
    chmod(shared_.c_str(), 0755);  // the git user reaches its home through it
    home_ = shared_ + "/home";
    std::string script = std::string(DFLOW_EXAMPLES_DIR) + "/../deploy/git-user.sh";
    // The script includes the safe.directory list from the system gitconfig:
    // here a file of the test's (git honours GIT_CONFIG_SYSTEM), not /etc/gitconfig.
    system_gitconfig_ = shared_ + "/system.gitconfig";
    auto first = RunProgram({script, "--user", user_, "--home", home_},
                            {{"GIT_CONFIG_SYSTEM", system_gitconfig_}});
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    created_ = true;
    EXPECT_TRUE(Contains(first.out, "created user " + user_)) << first.out;
    EXPECT_TRUE(Contains(first.out, "added include.path " + home_ + "/safe-directories.gitconfig"))
        << first.out;
    auto second = RunProgram({script, "--user", user_, "--home", home_},
                             {{"GIT_CONFIG_SYSTEM", system_gitconfig_}});
    ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
    EXPECT_FALSE(Contains(second.out, "created")) << second.out;
    EXPECT_FALSE(Contains(second.out, "added")) << second.out;
    EXPECT_TRUE(Contains(second.out, "--repos-dir " + home_ + "/repos")) << second.out;
    auto out = RunProgram({"useradd", "--system", "--user-group", "--no-create-home", "--shell",
                           "/usr/sbin/nologin", "--", outsider_});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    // A developer on this machine in the git group (a supplementary group).
    out = RunProgram({"useradd", "--system", "--user-group", "--groups", user_, "--no-create-home",
                      "--shell", "/usr/sbin/nologin", "--", member_});
    ASSERT_EQ(out.exit_code, 0) << out.err;
    struct passwd* pw = getpwnam(user_.c_str());
    ASSERT_NE(pw, nullptr);
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;

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
    port_ = FreeLoopbackPort();
    Put(dir_ + "/sshd_config",
        "Port " + std::to_string(port_) + "\nListenAddress 127.0.0.1\nHostKey " + dir_ +
            "/host\nAuthorizedKeysFile " + home_ +
            "/.ssh/authorized_keys\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin no\n"
            "SetEnv ASAN_OPTIONS=detect_leaks=0\nPidFile " +
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

  void TearDown() override {
    sshd_ = Proc();
    fleet_.reset();  // the controller first: it owns the socket
    if (created_) {
      RunProgram({"userdel", "--force", "--", user_});
      RunProgram({"groupdel", "--", user_});
    }
    for (const auto& u : {outsider_, member_}) {
      RunProgram({"userdel", "--force", "--", u});
      RunProgram({"groupdel", "--", u});
    }
    if (!shared_.empty()) RunProgram({"rm", "-rf", "--", shared_});
  }

  std::vector<std::string> ExtraControllerFlags() override {
    return {"--git-group",       user_,
            "--repos-dir",       home_ + "/repos",
            "--git-socket",      home_ + "/git.sock",
            "--authorized-keys", home_ + "/.ssh/authorized_keys",
            "--git-safe-config", home_ + "/safe-directories.gitconfig"};
  }

  std::string Url(const std::string& app) {
    return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + "/" + app;
  }
  CliResult GitAs(const std::string& key, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"git", "-c", "user.name=t", "-c", "user.email=t@t.invalid"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, {{"GIT_SSH", dir_ + "/ssh-" + key}, {"GIT_SSH_VARIANT", "ssh"}});
  }
  // Runs `command` as the SSH command line, as a crafted client would.
  CliResult SshAs(const std::string& key, const std::string& command) {
    return RunProgram(
        {dir_ + "/ssh-" + key, "-p", std::to_string(port_), user_ + "@127.0.0.1", command});
  }
  // `dflow-controller git-shell` run directly as the outsider (uid and gid its
  // own, no supplementary groups), as sshd would run it for that user.
  CliResult ShellAsOutsider(const std::string& command) {
    return RunProgram(
        {"setpriv", "--reuid", outsider_, "--regid", outsider_, "--clear-groups", "--",
         DFLOW_CONTROLLER_BIN, "git-shell", "--socket", home_ + "/git.sock", "--key", "alice"},
        {{"SSH_ORIGINAL_COMMAND", command}});
  }

  std::string user_, outsider_, member_, shared_, home_, system_gitconfig_;
  bool created_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
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
  std::string authorized = Read(home_ + "/.ssh/authorized_keys");
  EXPECT_TRUE(Contains(authorized, "git-shell --socket ")) << authorized;
  EXPECT_TRUE(Contains(authorized, " --key alice\",restrict ssh-ed25519 ")) << authorized;

  std::string work = tmp_.path() + "/work";
  std::string sha = NewHelloRepo(work, "over-ssh");
  auto push = GitAs("alice", {"-C", work, "push", Url("web"), "main"});
  ASSERT_EQ(push.exit_code, 0) << push.err << sshd_.Log();
  EXPECT_TRUE(Contains(push.err, "remote: release v1 of web is live")) << push.err;
  // The repository is the git group's, outside the data dir; git ran as the git user.
  std::string repo = home_ + "/repos/web.git";
  EXPECT_EQ(Remote("web"), repo);
  struct stat st;
  ASSERT_EQ(stat((home_ + "/repos").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, gid_);
  EXPECT_EQ(st.st_mode & 07777, 02770u);
  ASSERT_EQ(stat(repo.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, gid_);
  EXPECT_EQ(st.st_mode & 02070, 02070u) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_mode & 0002, 0u) << std::oct << st.st_mode;
  ASSERT_EQ(stat((repo + "/refs/heads/main").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid_) << "the push did not run as the git user";
  EXPECT_EQ(st.st_mode & 0002, 0u);
  ASSERT_EQ(stat((repo + "/config").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0022, 0u) << "the git user may not change the repository's config";
  ASSERT_EQ(stat((repo + "/hooks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0022, 0u) << "the git user may not add hooks the controller would run";
  EXPECT_EQ(GitOk(repo, {"config", "--get", "core.sharedRepository"}), "group");
  ASSERT_EQ(stat((home_ + "/git.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, gid_);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_TRUE(WaitSettled("web", 1));
  EXPECT_TRUE(AllAnswer("web", "over-ssh"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_EQ(releases[0].value("created_by", ""), "git push by key alice") << releases.dump();
  EXPECT_EQ(releases[0].value("commit_sha", ""), sha) << releases.dump();
  EXPECT_EQ(releases[0].value("pushed_by", ""), "key alice") << releases.dump();
  std::string table = CliOk({"releases", "web"});
  EXPECT_TRUE(Contains(table, "git commit " + sha)) << table;
  EXPECT_TRUE(Contains(table, "git push by key alice")) << table;

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

TEST_F(GitSshE2E, CallersOutsideTheGitGroupAreRefusedByTheSocket) {
  CliOk({"apps", "create", "web"});
  CliOk({"keys", "add", "alice", "--file", dir_ + "/alice.pub", "--apps", "web"});
  std::string sock = home_ + "/git.sock";
  // The socket file's group and mode stop the outsider at connect().
  auto r = ShellAsOutsider("git-receive-pack 'web'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(Contains(r.err, "user " + outsider_ + " may not use the controller's git socket"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "deploy/git-user.sh")) << r.err;
  // With the home and the socket file opened to everyone, the controller's
  // SO_PEERCRED check still refuses.
  ASSERT_EQ(chmod(home_.c_str(), 0755), 0);
  ASSERT_EQ(chmod(sock.c_str(), 0666), 0);
  r = ShellAsOutsider("git-receive-pack 'web'");
  chmod(sock.c_str(), 0660);
  chmod(home_.c_str(), 0750);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(Contains(r.err, outsider_ + " may not deploy: only the controller's user and the " +
                                  user_ + " group may use the git hook socket"))
      << r.err;
  EXPECT_TRUE(Contains(fleet_->controller().Log(), "refused " + outsider_))
      << fleet_->controller().Log();
  EXPECT_EQ(BareRef(Remote("web"), "main"), "");
}

// A member of the git group pushes to the local path (git push REPOS/APP.git):
// git trusts the controller's repository because the system gitconfig includes
// the controller's --git-safe-config list; without that include git refuses it.
TEST_F(GitSshE2E, GroupMemberPushesToTheLocalPath) {
  CliOk({"apps", "create", "web", "--health-path", "/health"});
  std::string remote = Remote("web");
  ASSERT_EQ(remote, home_ + "/repos/web.git");
  std::string safe = Read(home_ + "/safe-directories.gitconfig");
  EXPECT_TRUE(Contains(safe, "[safe]\n\tdirectory = \"" + remote + "\"\n")) << safe;
  struct stat st;
  ASSERT_EQ(stat((home_ + "/safe-directories.gitconfig").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  std::string work = shared_ + "/member-work";
  std::string sha = NewHelloRepo(work, "from-a-member");
  ASSERT_EQ(RunProgram({"chown", "-R", "--", member_ + ":" + member_, work}).exit_code, 0);
  auto push_as_member = [&](const std::string& system_config) {
    return RunProgram({"setpriv", "--reuid", member_, "--regid", member_, "--init-groups", "--",
                       "git", "-C", work, "push", remote, "main"},
                      {{"GIT_CONFIG_SYSTEM", system_config}, {"HOME", work}});
  };
  auto refused = push_as_member("/dev/null");
  EXPECT_NE(refused.exit_code, 0) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "dubious ownership")) << refused.err;

  auto push = push_as_member(system_gitconfig_);
  ASSERT_EQ(push.exit_code, 0) << push.err << fleet_->controller().Log();
  EXPECT_TRUE(Contains(push.err, "release v1 of web is live")) << push.err;
  EXPECT_EQ(BareRef(remote, "main"), sha);
  ASSERT_TRUE(WaitSettled("web", 1));
  EXPECT_TRUE(AllAnswer("web", "from-a-member"));
  auto releases = Json({"releases", "web", "--json"});
  ASSERT_TRUE(releases.is_array() && !releases.empty());
  EXPECT_EQ(releases[0].value("pushed_by", ""), "user " + member_) << releases.dump();
  EXPECT_EQ(releases[0].value("commit_sha", ""), sha) << releases.dump();

  // Destroyed: the repository leaves the list.
  CliOk({"apps", "destroy", "web", "--force"});
  safe = Read(home_ + "/safe-directories.gitconfig");
  EXPECT_FALSE(Contains(safe, remote)) << safe;
}

}  // namespace
}  // namespace dflow::testing
