// logs, run and builds:* — what a deploy leaves behind.
// Sources (v0.38.27): plugins/logs/src/commands/commands.go,
// plugins/scheduler-docker-local/{scheduler-logs,scheduler-run}, plugins/builds.
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace fs = std::filesystem;
namespace {

// `logs APP [-n N] [-p TYPE] [-q]`: each container's last N lines in
// `docker logs -t` form, prefixed "app[DYNO]:" (colours when not quiet).
// scheduler-logs runs `docker logs` on the app's current container IDs, so
// a container that a deploy or scale replaced takes its lines with it.
void Logs(Ctx& c) {
  std::string app, type;
  int n = 100;
  bool quiet = false;
  for (size_t i = 0; i < c.args.size(); ++i) {
    const std::string& a = c.args[i];
    if ((a == "-n" || a == "--num") && i + 1 < c.args.size()) {
      n = std::atoi(c.args[++i].c_str());
    } else if ((a == "-p" || a == "--ps") && i + 1 < c.args.size()) {
      type = c.args[++i];
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "-t" || a == "--tail") {
      Fail("fake dokku: logs --tail is not supported");
    } else {
      app = a;
    }
  }
  json& s = c.VerifyApp(app);
  if (!s.value("deployed", false)) Fail("App " + app + " has not been deployed");
  static const int kColors[] = {36, 33, 32, 35, 31};
  int k = 0;
  for (const auto& ct : s["containers"]) {
    if (!type.empty() && ct.value("proc", "") != type) continue;
    std::string dyno = ct.value("proc", "") + "." + std::to_string(ct.value("index", 0));
    std::vector<json> lines;
    for (const auto& l : s["logs"]) {
      if (l.value("cid", "") == ct.value("cid", "")) lines.push_back(l);
    }
    size_t from = lines.size() > static_cast<size_t>(std::max(n, 0)) ? lines.size() - n : 0;
    for (size_t i = from; i < lines.size(); ++i) {
      const std::string text = lines[i].value("text", "");
      if (quiet) {
        Out(text);
      } else {
        Out("\x1b[" + std::to_string(kColors[k % 5]) + "m" + lines[i].value("t", "") + " app[" +
            dyno + "]:\x1b[0m " + text);
      }
    }
    ++k;
  }
}

void BuildsList(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  json builds = s.value("builds", json::array());
  if (r.format == "json") {
    Out(builds.empty() ? "[]" : GoJson(builds));
    return;
  }
  if (builds.empty()) return Out("No builds recorded for this app");
  for (const auto& b : builds) {
    Out(b.value("id", "") + "  " + b.value("kind", "") + "  " + b.value("status", ""));
  }
}

void BuildsReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  json last = s.value("builds", json::array()).empty() ? json::object() : s["builds"].back();
  auto field = [&](const char* k) { return last.contains(k) ? last[k].dump() : std::string(); };
  auto text = [&](const char* k) { return last.value(k, std::string()); };
  GoReport g{.type = "builds", .app = r.app};
  g.flags["--build-exit-code"] = text("exit_code");
  g.flags["--build-finished-at"] = last.contains("finished_at") ? field("finished_at") : "";
  g.flags["--build-id"] = text("id");
  g.flags["--build-kind"] = text("kind");
  g.flags["--build-pid"] = "";
  g.flags["--build-source"] = text("source");
  g.flags["--build-started-at"] = last.contains("started_at") ? field("started_at") : "";
  g.flags["--build-status"] = text("status");
  g.flags["--builds-computed-retention"] = "20";
  g.flags["--builds-global-retention"] = "";
  g.flags["--builds-retention"] = "";
  PrintGoReport(g, r.format, r.info_flag);
}

// `run [--env K=V] [--no-tty] APP CMD…` (scheduler-docker-local/scheduler-run
// keeps the argv). Not a container: the command runs here, in the app's last
// archive tree, with the app's config as its environment.
void RunCommand(Ctx& c) {
  std::vector<std::string> rest, extra_env;
  size_t i = 0;
  for (; i < c.args.size() && c.args[i].rfind("--", 0) == 0; ++i) {
    if (c.args[i] == "--env" && i + 1 < c.args.size()) extra_env.push_back(c.args[++i]);
  }
  const std::string app = i < c.args.size() ? c.args[i++] : "";
  json& s = c.VerifyApp(app);
  if (!s.value("deployed", false)) Fail("App " + app + " has not been deployed");
  if (i >= c.args.size()) Fail("No command provided");
  std::vector<std::string> env_storage;
  const char* path = std::getenv("PATH");
  env_storage.push_back(std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"));
  for (const auto& [k, v] : ParseEnv(s.value("env", ""))) env_storage.push_back(k + "=" + v);
  for (const auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> envp, args;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (size_t j = i; j < c.args.size(); ++j) args.push_back(c.args[j].data());
  args.push_back(nullptr);
  fs::path cwd = fs::path(c.state_dir) / "src" / app;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (fs::exists(cwd)) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    Fail(std::string("exec: \"") + args[0] + "\": executable file not found in $PATH", 127);
  int status = 0;
  waitpid(pid, &status, 0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != 0) throw RawFailure{"", code};
}

}  // namespace

void RegisterLogsRun(std::map<std::string, Handler>& m, const Version& v) {
  m["logs"] = Logs;
  m["run"] = RunCommand;
  if (v.AtLeast(0, 38, 0)) {  // the builds plugin arrived in 0.38.0
    m["builds:list"] = BuildsList;
    m["builds:report"] = BuildsReport;
  }
}

}  // namespace fake_dokku
