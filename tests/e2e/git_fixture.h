// Apps fixture plus a developer's working copy: real `git` committing and
// pushing to the controller's app repositories.
#ifndef DFLOW_TESTS_E2E_GIT_FIXTURE_H_
#define DFLOW_TESTS_E2E_GIT_FIXTURE_H_

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/files.h"
#include "tests/e2e/apps_fixture.h"

namespace dflow::testing {

class GitE2E : public AppsE2E {
 protected:
  // As AppsE2E, with the controller's HTTP listener on a free loopback port.
  void SetUp() override {
    http_port_ = FreeLoopbackPort();
    std::vector<std::string> flags = {"--http-listen", "127.0.0.1:" + std::to_string(http_port_)};
    for (auto& f : ExtraControllerFlags()) flags.push_back(std::move(f));
    StartController(flags);
    StartLocalAgents();
  }

  // More `dflow-controller run` flags (a subclass's git layout).
  virtual std::vector<std::string> ExtraControllerFlags() { return {}; }

  // POST http://127.0.0.1:HTTP/PATH with `body` and headers: {status, body}.
  std::pair<int, std::string> Post(const std::string& path, const std::string& body,
                                   const std::vector<std::string>& headers) {
    std::string file = tmp_.path() + "/post-body";
    Put(file, body);
    std::vector<std::string> argv = {
        "curl", "-sS",           "-m",      "10", "-o", "-", "-w", "\n%{http_code}", "-X",
        "POST", "--data-binary", "@" + file};
    for (const auto& h : headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back("http://127.0.0.1:" + std::to_string(http_port_) + path);
    auto r = RunProgram(argv);
    auto nl = r.out.rfind('\n');
    if (r.exit_code != 0 || nl == std::string::npos) return {-1, r.err};
    return {std::atoi(r.out.substr(nl + 1).c_str()), r.out.substr(0, nl)};
  }

  int http_port_ = 0;

  // git -C DIR ARGS..., with a fixed identity.
  CliResult Git(const std::string& dir, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        "git", "-C", dir, "-c", "user.name=dflow test", "-c", "user.email=test@dflow.invalid"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv);
  }
  std::string GitOk(const std::string& dir, const std::vector<std::string>& args) {
    auto r = Git(dir, args);
    EXPECT_EQ(r.exit_code, 0) << "git " << args[0] << ": " << r.out << r.err;
    return std::string(absl::StripAsciiWhitespace(r.out));
  }

  // The app's repository, as `dflow apps show --json` names it.
  std::string Remote(const std::string& app) {
    auto show = Json({"apps", "show", app, "--json"});
    return show.is_object() ? show.value("git_remote", "") : "";
  }

  void Put(const std::string& path, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(path, text, 0644).ok()) << path;
  }
  std::string Read(const std::string& path) {
    auto r = ReadFile(path);
    EXPECT_TRUE(r.ok()) << path;
    return r.ok() ? *r : "";
  }

  // A new working copy at DIR holding examples/hello whose greeting is
  // `greeting`, committed on main. Returns the commit.
  std::string NewHelloRepo(const std::string& dir, const std::string& greeting) {
    RunProgram({"git", "init", "--quiet", "--initial-branch", "main", dir});
    for (const char* f : {"Procfile", "release.py"})
      Put(dir + "/" + f, Read(Example("hello") + "/" + f));
    SetGreeting(dir, greeting);
    return Commit(dir, "hello " + greeting);
  }

  void SetGreeting(const std::string& dir, const std::string& greeting) {
    std::string app = Read(Example("hello") + "/app.py");
    const std::string from = "\"GREETING\", \"hello\"";
    auto at = app.find(from);
    ASSERT_NE(at, std::string::npos) << "examples/hello/app.py changed its GREETING default";
    app.replace(at, from.size(), "\"GREETING\", \"" + greeting + "\"");
    Put(dir + "/app.py", app);
  }

  std::string Commit(const std::string& dir, const std::string& message) {
    GitOk(dir, {"add", "-A"});
    GitOk(dir, {"commit", "--quiet", "-m", message});
    return GitOk(dir, {"rev-parse", "HEAD"});
  }

  std::string BareRef(const std::string& remote, const std::string& branch) {
    auto r = Git(remote, {"rev-parse", "--verify", "--quiet", "refs/heads/" + branch});
    return std::string(absl::StripAsciiWhitespace(r.out));
  }

  int ReleaseCount(const std::string& app) {
    auto r = Json({"releases", app, "--json"});
    return r.is_array() ? static_cast<int>(r.size()) : -1;
  }
};

}  // namespace dflow::testing

#endif  // DFLOW_TESTS_E2E_GIT_FIXTURE_H_
