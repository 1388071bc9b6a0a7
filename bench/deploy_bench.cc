// What the controller adds to a deploy, against the runtime doing the same work alone.
//
//   deploy_bench [--runs 10]
//
// Each side deploys examples/hello as a new release whose one web instance
// replaces the previous release's, on its own temp dir. One warm-up round (v1:
// nothing to stop, a new archive) is not counted; then `runs` rounds of one
// deploy per side, alternating which goes first, so host load falls on both.
// - Runtime alone: an in-process LocalRuntime (the agent's, default options)
//   does one server's part: tar (the CLI's argv), the BlobStore where the
//   agent's PutArchive writes (only when absent, like the agent),
//   PrepareRelease + Processes (like the agent's RPC), RunReleaseCommand,
//   StartInstance (until /health passes), StopInstance of the previous one.
// - Full stack: a real dflow-controller and one dflow-agent on loopback; the
//   wall time of `dflow deploy hello --path examples/hello`, spawn to exit,
//   split by the op's stored times (`dflow ops show ID --json`).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/runtime/local_runtime.h"
#include "cli/archive.h"
#include "common/blob_store.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/loopback.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace {

namespace agent = dflow::agent;
using SteadyClock = std::chrono::steady_clock;
using Series = std::map<std::string, std::vector<double>>;  // part -> one value per round

constexpr const char* kApp = "hello";
const std::string kHello = std::string(DFLOW_EXAMPLES_DIR) + "/hello";

double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

// Its stdout, or an error with its stderr when it did not exit 0.
absl::StatusOr<std::string> RunOk(const std::vector<std::string>& argv) {
  dflow::PosixProcessRunner runner;
  ASSIGN_OR_RETURN(dflow::ProcessResult r,
                   runner.Run({.argv = argv, .deadline = std::chrono::minutes(2)}));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(argv, " "), " exited ", r.exit_code, ": ",
                                            r.stderr_data, r.stdout_data));
  }
  return r.stdout_data;
}

absl::Status WaitFor(const std::function<bool()>& cond, const std::string& what) {
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (!cond()) {
    if (SteadyClock::now() >= deadline)
      return absl::DeadlineExceededError("timed out waiting for " + what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

// App instances run in their own sessions and outlive whoever started them:
// SIGKILLs every process whose working directory lies under `root`.
void KillUnder(const std::string& root) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    std::string cwd = std::filesystem::read_symlink(e.path() / "cwd", link_ec);
    int pid = std::stoi(name);
    if (!link_ec && cwd.rfind(root + "/", 0) == 0 && pid != getpid()) kill(pid, SIGKILL);
  }
}

// "2024-12-01T08:51:00.123Z" (cli/output.cc JsonTime) -> ms since the epoch; 0 when null.
int64_t ParseMs(const nlohmann::json& j) {
  if (!j.is_string()) return 0;
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(j.get<std::string>().c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

class RuntimeAlone {
 public:
  explicit RuntimeAlone(std::string root) : root_(std::move(root)), blobs_(root_ + "/archives") {}
  ~RuntimeAlone() {
    if (runtime_) (void)runtime_->DestroyApp(kApp);
    runtime_.reset();
    KillUnder(root_);
  }

  absl::Status Open() {
    RETURN_IF_ERROR(dflow::EnsureDir(root_ + "/pack", 0700));
    agent::LocalRuntimeOptions o;
    o.data_dir = root_;
    o.server_name = "bench-alone";
    ASSIGN_OR_RETURN(runtime_, agent::LocalRuntime::Open(std::move(o)));
    return absl::OkStatus();
  }

  // One deploy; adds each part's ms to `out`.
  absl::Status Deploy(Series& out) {
    const int64_t v = ++version_;
    const auto t0 = SteadyClock::now();
    auto mark = t0;
    auto lap = [&](const char* part) {
      out[part].push_back(MsSince(mark));
      mark = SteadyClock::now();
    };
    const std::string tgz = root_ + "/pack/source.tar.gz";
    std::filesystem::remove(tgz);
    RETURN_IF_ERROR(RunOk(dflow::cli::TarArgv(kHello, tgz)).status());
    lap("pack");
    ASSIGN_OR_RETURN(std::string data, dflow::ReadFile(tgz));
    const std::string digest = dflow::Sha256Hex(data);
    if (!blobs_.Has(digest)) {  // PutArchive: 64 KiB chunks into a Writer, Commit(digest)
      ASSIGN_OR_RETURN(auto w, blobs_.NewWriter(100 << 20));
      for (size_t off = 0; off < data.size(); off += 64 << 10) {
        RETURN_IF_ERROR(w->Append(absl::string_view(data).substr(off, 64 << 10)));
      }
      RETURN_IF_ERROR(w->Commit(digest).status());
    }
    lap("archive");
    auto ignore = [](const std::string&) {};
    agent::ReleaseSpec spec;
    spec.app = kApp;
    spec.version = v;
    spec.archive_path = blobs_.Path(digest);
    spec.source_digest = digest;
    spec.health_path = "/health";
    RETURN_IF_ERROR(runtime_->PrepareRelease(spec, ignore));
    RETURN_IF_ERROR(runtime_->Processes(kApp, v).status());
    lap("prepare");
    RETURN_IF_ERROR(runtime_->RunReleaseCommand(kApp, v, std::chrono::minutes(10), ignore));
    lap("release_command");
    agent::InstanceSpec inst;
    inst.id = absl::StrCat(kApp, "-web-v", v);
    inst.app = kApp;
    inst.process = "web";
    inst.release = v;
    RETURN_IF_ERROR(runtime_->StartInstance(inst, std::chrono::seconds(60)).status());
    lap("start");
    if (!previous_.empty()) {
      RETURN_IF_ERROR(runtime_->StopInstance(previous_, std::chrono::seconds(10)));
    }
    previous_ = inst.id;
    lap("stop");
    out["total"].push_back(MsSince(t0));
    return absl::OkStatus();
  }

 private:
  std::string root_;
  dflow::BlobStore blobs_;
  std::unique_ptr<agent::LocalRuntime> runtime_;
  int64_t version_ = 0;
  std::string previous_;
};

class Stack {
 public:
  explicit Stack(std::string root)
      : root_(std::move(root)), ctl_(root_ + "/controller"), socket_(ctl_ + "/controller.sock") {}
  ~Stack() { Stop(); }

  absl::Status Start() {
    RETURN_IF_ERROR(RunOk({DFLOW_CONTROLLER_BIN, "init", "--data-dir", ctl_}).status());
    RETURN_IF_ERROR(
        Spawn({DFLOW_CONTROLLER_BIN, "run", "--data-dir", ctl_, "--listen",
               absl::StrCat("127.0.0.1:", dflow::FreeLoopbackPort()), "--heartbeat-interval",
               "200ms", "--lease", "2s", "--http-listen", "127.0.0.1:0"},
              root_ + "/controller.log"));
    RETURN_IF_ERROR(WaitFor([&] { return Cli({"status"}).ok(); }, "the controller to answer"));
    ASSIGN_OR_RETURN(std::string token, Cli({"servers", "join-token", "--ttl", "10m"}));
    while (!token.empty() && token.back() == '\n') token.pop_back();
    RETURN_IF_ERROR(RunOk({DFLOW_AGENT_BIN, "join", "--token", token, "--name", "bench-1",
                           "--listen", absl::StrCat("127.0.0.1:", dflow::FreeLoopbackPort()),
                           "--data-dir", root_ + "/agent"})
                        .status());
    RETURN_IF_ERROR(
        Spawn({DFLOW_AGENT_BIN, "run", "--data-dir", root_ + "/agent"}, root_ + "/agent.log"));
    RETURN_IF_ERROR(WaitFor(
        [&] {
          auto out = Cli({"servers", "ls", "--json"});
          auto j = nlohmann::json::parse(out.value_or(""), nullptr, false);
          return j.is_array() && j.size() == 1 && j[0].value("status", "") == "healthy";
        },
        "the agent to be healthy"));
    RETURN_IF_ERROR(Cli({"apps", "create", kApp, "--health-path", "/health"}).status());
    app_created_ = true;
    return absl::OkStatus();
  }

  // One `dflow deploy`; adds the wall time and its split to `out`, step kinds
  // new to `step_order` in the order they ran.
  absl::Status Deploy(Series& out, std::vector<std::string>& step_order) {
    const auto cli_start = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const auto t0 = SteadyClock::now();
    ASSIGN_OR_RETURN(std::string said, Cli({"deploy", kApp, "--path", kHello}));
    const double wall = MsSince(t0);
    // Its last line on stdout: "operation ID succeeded".
    const auto at = said.rfind("operation ");
    if (at == std::string::npos) return absl::InternalError("no op id in: " + said);
    const std::string id = std::to_string(std::atoll(said.c_str() + at + 10));
    ASSIGN_OR_RETURN(std::string show, Cli({"ops", "show", id, "--json"}));
    auto op = nlohmann::json::parse(show, nullptr, false);
    if (!op.is_object() || op.value("state", "") != "succeeded") {
      return absl::InternalError("op " + id + " did not succeed: " + show);
    }
    const int64_t created = ParseMs(op["created_at"]), started = ParseMs(op["started_at"]),
                  ended = ParseMs(op["ended_at"]);
    std::map<std::string, double> steps;
    double in_steps = 0;
    for (const auto& s : op["steps"]) {
      const double d = static_cast<double>(ParseMs(s["ended_at"]) - ParseMs(s["started_at"]));
      const std::string kind = "step " + s.value("kind", "?");
      if (std::find(step_order.begin(), step_order.end(), kind) == step_order.end()) {
        step_order.push_back(kind);
      }
      steps[kind] += d;
      in_steps += d;
    }
    for (const auto& [kind, d] : steps) out[kind].push_back(d);
    out["before_op"].push_back(static_cast<double>(created - cli_start));
    out["queued"].push_back(static_cast<double>(started - created));
    out["op"].push_back(static_cast<double>(ended - started));
    out["between_steps"].push_back(static_cast<double>(ended - started) - in_steps);
    out["after_op"].push_back(static_cast<double>(cli_start) + wall - static_cast<double>(ended));
    out["wall"].push_back(wall);
    return absl::OkStatus();
  }

  void Stop() {
    if (app_created_) {
      auto s = Cli({"apps", "destroy", kApp, "--force"});
      if (!s.ok()) std::cerr << "cleanup: " << s.status().message() << "\n";
      app_created_ = false;
    }
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) {  // the agent first
      kill(*it, SIGTERM);
      auto deadline = SteadyClock::now() + std::chrono::seconds(10);
      while (waitpid(*it, nullptr, WNOHANG) == 0) {
        if (SteadyClock::now() >= deadline) {
          kill(*it, SIGKILL);
          waitpid(*it, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    pids_.clear();
    KillUnder(root_);
  }

 private:
  absl::StatusOr<std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {DFLOW_CLI_BIN, "--controller", socket_});
    return RunOk(args);
  }
  absl::Status Spawn(std::vector<std::string> argv, std::string log) {
    ASSIGN_OR_RETURN(int pid,
                     dflow::SpawnDetached({.argv = std::move(argv), .log_path = std::move(log)}));
    pids_.push_back(pid);
    return absl::OkStatus();
  }

  std::string root_, ctl_, socket_;
  std::vector<int> pids_;  // controller, agent
  bool app_created_ = false;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string Ms(double v) { return absl::StrFormat("%.1f", v); }

// "| label | median | min | max |" for the part, or nothing when it was never measured.
void Row(const Series& s, const std::string& part, const std::string& label,
         const std::string& counterpart = "") {
  auto it = s.find(part);
  if (it == s.end()) return;
  auto [lo, hi] = std::minmax_element(it->second.begin(), it->second.end());
  std::cout << "| " << label << " | " << Ms(Median(it->second)) << " | " << Ms(*lo) << " | "
            << Ms(*hi) << (counterpart.empty() ? "" : " | " + counterpart) << " |\n";
}

std::string LoadAverage() {
  auto text = dflow::ReadFile("/proc/loadavg");
  return text.ok() ? text->substr(0, text->find(' ')) : "?";
}

std::string Commit() {
  auto head = RunOk({"git", "-C", DFLOW_SOURCE_DIR, "rev-parse", "--short", "HEAD"});
  if (!head.ok()) return "unknown";
  std::string c = head->substr(0, head->find('\n'));
  auto dirty =
      RunOk({"git", "-C", DFLOW_SOURCE_DIR, "status", "--porcelain", "--untracked-files=no"});
  if (dirty.ok() && !dirty->empty()) {
    c += absl::StrCat(" + uncommitted changes in ", std::count(dirty->begin(), dirty->end(), '\n'),
                      " tracked file(s)");
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 10;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: deploy_bench [--runs N]\n";
      return 2;
    }
  }
  std::vector<std::string> cmdline(argv, argv + argc);
  const std::string load_before = LoadAverage();
  std::string tmpl = "/tmp/dflow-deploy-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return 1;
  const std::string root = tmpl;

  Series alone, stack;
  std::vector<std::string> step_order;
  absl::Status status;
  {
    RuntimeAlone runtime(root + "/alone");
    Stack fleet(root + "/stack");
    status = runtime.Open();
    if (status.ok()) status = fleet.Start();
    for (int round = 0; status.ok() && round <= runs; ++round) {
      Series warm_a, warm_s;  // round 0 is the warm-up
      Series& a = round == 0 ? warm_a : alone;
      Series& s = round == 0 ? warm_s : stack;
      status = round % 2 ? fleet.Deploy(s, step_order) : runtime.Deploy(a);
      if (status.ok()) status = round % 2 ? runtime.Deploy(a) : fleet.Deploy(s, step_order);
    }
  }  // every process started is stopped here
  if (!status.ok()) {
    std::cerr << "deploy_bench: " << status.message() << "\n(logs kept in " << root << ")\n";
    return 1;
  }
  std::filesystem::remove_all(root);

  std::cout
      << "## bench/deploy_bench: examples/hello, 1 web instance replacing the previous release's\n"
      << "build type " << DFLOW_BUILD_TYPE << ", commit " << Commit() << ", "
      << std::thread::hardware_concurrency() << " cores, load average " << load_before << " -> "
      << LoadAverage() << "\ncommand: " << absl::StrJoin(cmdline, " ") << "\n"
      << runs << " rounds after 1 warm-up round; each round deploys once with each side.\n\n"
      << "### Runtime alone (in-process LocalRuntime), ms\n"
      << "| part | median | min | max |\n|---|---|---|---|\n";
  Row(alone, "pack", "pack (tar, the CLI's argv)");
  Row(alone, "archive", "archive (sha256, BlobStore when absent)");
  Row(alone, "prepare", "PrepareRelease + Processes");
  Row(alone, "release_command", "RunReleaseCommand");
  Row(alone, "start", "StartInstance (until /health passes)");
  Row(alone, "stop", "StopInstance (previous release's)");
  Row(alone, "total", "**total**");

  std::cout << "\n### `dflow deploy` (CLI + controller + agent), ms\n"
            << "| part | median | min | max | runtime alone (median) |\n|---|---|---|---|---|\n";
  auto alone_median = [&](const char* part) { return Ms(Median(alone[part])); };
  Row(stack, "before_op", "CLI start -> op created (pack, upload, Deploy RPC)",
      alone_median("pack"));
  Row(stack, "queued", "op created -> started", "-");
  for (const std::string& part : step_order) {  // "step prepare" beside "prepare", …
    std::string twin = part == "step ensure_archive" ? "archive" : part.substr(5);
    Row(stack, part, "op " + part, alone.count(twin) ? alone_median(twin.c_str()) : "-");
  }
  Row(stack, "between_steps", "op, between steps", "-");
  Row(stack, "after_op", "op ended -> CLI exit", "-");
  Row(stack, "op", "op duration (ended_at - started_at)", "-");
  Row(stack, "wall", "**wall, CLI start -> exit**", alone_median("total"));

  const double wall = Median(stack["wall"]), base = Median(alone["total"]);
  std::cout << "\n### Summary (medians), ms\n| | ms |\n|---|---|\n"
            << "| runtime alone, total | " << Ms(base) << " |\n"
            << "| `dflow deploy`, wall | " << Ms(wall) << " |\n"
            << "| controller-added (wall - runtime alone) | " << Ms(wall - base) << " |\n"
            << "| ratio wall / runtime alone | " << absl::StrFormat("%.2f", wall / base) << "x |\n"
            << "| op duration | " << Ms(Median(stack["op"])) << " |\n";
  return 0;
}
