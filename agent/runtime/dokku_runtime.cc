#include "agent/runtime/dokku_runtime.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/procfile.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxStartOutput = 256 << 10;  // the tail of a deploy's output kept for the op

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Dokku's output during a deploy, into the agent's log a line at a time (the
// Runtime contract gives StartInstance no output stream of its own).
OutputFn LogLines(const std::string& app) {
  return [app](const std::string& chunk) {
    for (absl::string_view line : absl::StrSplit(chunk, '\n', absl::SkipWhitespace())) {
      spdlog::info("dokku {}: {}", app, std::string(absl::StripTrailingAsciiWhitespace(line)));
    }
  };
}

}  // namespace

absl::Status CheckDokkuConfigValue(const std::string& key, const std::string& value) {
  auto refuse = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("config ", key, " cannot be stored on Dokku as it is: ", why,
                     " (Dokku keeps config with the godotenv library, which has this bug)"));
  };
  if (!value.empty() && value.back() == '"') {
    return refuse(
        "its value ends with a double quote, which Dokku reads back without it and which leaves "
        "the app's config unreadable after the next change; end it with another character");
  }
  if (!value.empty() && value.back() == '\\') {
    return refuse("its value ends with a backslash, which Dokku cannot read back");
  }
  absl::string_view digits = value;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  int64_t n = 0;
  if (!digits.empty() && std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) &&
      absl::SimpleAtoi(value, &n) && absl::StrCat(n) != value) {
    return refuse(absl::StrCat("its value \"", value, "\" is read as the integer ", n,
                               " and would come back as \"", n, "\""));
  }
  return absl::OkStatus();
}

std::map<std::string, int> DokkuFormation(const DokkuApp& app, const DokkuRelease& release) {
  std::map<std::string, int> formation;
  for (const auto& [type, command] : release.processes) {
    if (type == "release") continue;
    std::map<int64_t, int> per_release;
    for (const auto& [id, i] : app.instances) {
      if (i.process == type) per_release[i.release]++;
    }
    int most = 0;
    for (const auto& [v, n] : per_release) most = std::max(most, n);
    formation[type] = most;
  }
  return formation;
}

absl::StatusOr<std::unique_ptr<DokkuRuntime>> DokkuRuntime::Open(DokkuRuntimeOptions options) {
  std::unique_ptr<ProcessRunner> owned, owned_tar;
  if (options.runner == nullptr) {
    owned = std::make_unique<PosixProcessRunner>();
    options.runner = owned.get();
  }
  if (options.tar_runner == nullptr) {
    owned_tar = std::make_unique<PosixProcessRunner>();
    options.tar_runner = owned_tar.get();
  }
  DokkuCli cli(options.runner, options.dokku_binary, options.server_name);
  absl::StatusOr<DokkuVersion> version = cli.Version();
  if (!version.ok()) {
    return absl::Status(version.status().code(),
                        absl::StrCat("cannot use Dokku on server ", options.server_name, ": ",
                                     version.status().message()));
  }
  if (!version->AtLeast(kMinimumDokkuVersion.major, kMinimumDokkuVersion.minor,
                        kMinimumDokkuVersion.patch)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "server ", options.server_name, " runs Dokku ", version->ToString(), " (`",
        options.dokku_binary, " version`); dflow needs Dokku ", kMinimumDokkuVersion.ToString(),
        " or newer: upgrade Dokku, or run this agent with --runtime local"));
  }
  RETURN_IF_ERROR(EnsureDir(options.data_dir + "/dokku/releases", 0700));
  ASSIGN_OR_RETURN(DokkuState state, DokkuState::Load(options.data_dir + "/dokku/state.json"));
  return std::unique_ptr<DokkuRuntime>(new DokkuRuntime(
      std::move(options), std::move(owned), std::move(owned_tar), std::move(state), *version));
}

DokkuRuntime::DokkuRuntime(DokkuRuntimeOptions options, std::unique_ptr<ProcessRunner> owned,
                           std::unique_ptr<ProcessRunner> owned_tar, DokkuState state,
                           DokkuVersion version)
    : options_(std::move(options)),
      owned_runner_(std::move(owned)),
      owned_tar_runner_(std::move(owned_tar)),
      tar_runner_(options_.tar_runner),
      cli_(options_.runner, options_.dokku_binary, options_.server_name),
      version_(version),
      state_(std::move(state)) {}

DokkuRuntime::~DokkuRuntime() = default;

std::mutex& DokkuRuntime::AppLock(const std::string& app) {
  std::lock_guard lock(mu_);
  auto& m = app_locks_[app];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

DokkuApp DokkuRuntime::Snapshot(const std::string& app) {
  std::lock_guard lock(mu_);
  auto it = state_.apps().find(app);
  return it == state_.apps().end() ? DokkuApp{} : it->second;
}

absl::Status DokkuRuntime::Commit(const std::string& app, const DokkuApp& a) {
  std::lock_guard lock(mu_);
  state_.apps()[app] = a;
  return state_.Save();
}

absl::StatusOr<DokkuOutput> DokkuRuntime::Dokku(const std::string& app,
                                                std::vector<std::string> args, const OutputFn& out,
                                                std::chrono::milliseconds deadline,
                                                std::string stdin_data) {
  DokkuCommand c;
  c.args = std::move(args);
  c.app = app;
  c.stdin_data = std::move(stdin_data);
  c.deadline = deadline.count() > 0 ? deadline : options_.command_timeout;
  c.out = out;
  return cli_.Run(c);
}

absl::Status DokkuRuntime::PrepareRelease(const ReleaseSpec& spec, const OutputFn& out) {
  for (const auto& [key, value] : spec.env) RETURN_IF_ERROR(CheckDokkuConfigValue(key, value));
  std::lock_guard app_lock(AppLock(spec.app));
  DokkuApp a = Snapshot(spec.app);
  if (auto it = a.releases.find(spec.version);
      it != a.releases.end() && it->second.digest == spec.source_digest &&
      it->second.image == spec.image && (!spec.image.empty() || fs::exists(it->second.tree))) {
    return absl::OkStatus();  // already prepared
  }
  // apps:exists exits 20 when the app is missing; only then create it.
  DokkuCommand exists{.args = {"apps:exists", spec.app}, .app = spec.app};
  exists.accept_any_exit = true;
  ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
  if (e.exit_code == 20) {
    RETURN_IF_ERROR(Dokku(spec.app, {"apps:create", spec.app}, out).status());
  } else if (e.exit_code != 0) {
    ProcessResult r;
    r.exit_code = e.exit_code;
    r.stderr_data = e.err;
    return DokkuFailure(exists, r, options_.server_name);
  }

  if (!spec.image.empty()) {
    // An image brings its own command (and Procfile, which Dokku reads from
    // it): dflow runs it as the web process (docs: deployment/methods/git,
    // git:from-image).
    DokkuRelease release;
    release.version = spec.version;
    release.image = spec.image;
    release.env = spec.env;
    release.health_path = spec.health_path;
    release.memory_bytes = spec.memory_bytes;
    release.cpus = spec.cpus;
    release.processes["web"] = absl::StrCat("(the command of image ", spec.image, ")");
    a.releases[spec.version] = release;
    return Commit(spec.app, a);
  }
  const std::string tree =
      absl::StrCat(options_.data_dir, "/dokku/releases/", spec.app, "/v", spec.version);
  const std::string tmp = absl::StrCat(tree, ".tmp-", getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", ec.message()));
  ProcessSpec untar{.argv = {"tar", "-xzf", spec.archive_path, "-C", tmp, "--no-same-owner"},
                    .deadline = std::chrono::minutes(5)};
  ASSIGN_OR_RETURN(ProcessResult unpacked, tar_runner_->Run(untar));
  if (unpacked.exit_code != 0) {
    fs::remove_all(tmp, ec);
    return absl::InvalidArgumentError(absl::StrCat("cannot unpack the source of ", spec.app, " v",
                                                   spec.version, ": ", unpacked.stderr_data));
  }
  absl::StatusOr<std::string> procfile = ReadFile(tmp + "/Procfile");
  if (!procfile.ok()) {
    fs::remove_all(tmp, ec);
    return absl::InvalidArgumentError(
        absl::StrCat("the source of ", spec.app, " v", spec.version, " has no Procfile"));
  }
  absl::StatusOr<std::vector<ProcfileEntry>> entries = ParseProcfile(*procfile);
  if (!entries.ok()) {
    fs::remove_all(tmp, ec);
    return entries.status();
  }
  DokkuRelease release;
  release.version = spec.version;
  release.digest = spec.source_digest;
  release.tree = tree;
  release.env = spec.env;
  release.health_path = spec.health_path;
  release.memory_bytes = spec.memory_bytes;
  release.cpus = spec.cpus;
  for (const auto& entry : *entries) release.processes[entry.type] = entry.command;
  if (FileExists(tmp + "/app.json")) release.app_json = ReadFile(tmp + "/app.json").value_or("");
  fs::remove_all(tree, ec);
  fs::rename(tmp, tree, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot move ", tmp, ": ", ec.message()));
  a.releases[spec.version] = release;
  return Commit(spec.app, a);
}

absl::StatusOr<std::map<std::string, std::string>> DokkuRuntime::Processes(const std::string& app,
                                                                           int64_t version) {
  DokkuApp a = Snapshot(app);
  auto it = a.releases.find(version);
  if (it == a.releases.end()) {
    return absl::NotFoundError(
        absl::StrCat(app, " v", version, " is not prepared on server ", options_.server_name));
  }
  return it->second.processes;
}

absl::Status DokkuRuntime::RunReleaseCommand(const std::string& app, int64_t version,
                                             std::chrono::milliseconds, const OutputFn& out) {
  RETURN_IF_ERROR(Processes(app, version).status());
  if (out) out("Dokku runs the Procfile's release command itself, during the deploy\n");
  return absl::OkStatus();
}

absl::StatusOr<InstanceStatus> DokkuRuntime::StartInstance(
    const InstanceSpec& spec, std::chrono::milliseconds health_deadline) {
  return StartInstanceStreaming(spec, health_deadline, nullptr);
}

absl::StatusOr<InstanceStatus> DokkuRuntime::StartInstanceStreaming(
    const InstanceSpec& spec, std::chrono::milliseconds health_deadline, const OutputFn& out) {
  std::lock_guard app_lock(AppLock(spec.app));
  DokkuApp a = Snapshot(spec.app);
  auto rel = a.releases.find(spec.release);
  if (rel == a.releases.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        spec.app, " v", spec.release, " is not prepared on server ", options_.server_name));
  }
  if (spec.process == "release" || rel->second.processes.count(spec.process) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.app, " v", spec.release, " has no process type \"", spec.process, "\""));
  }
  const bool added = a.instances.count(spec.id) == 0;
  if (added) a.instances[spec.id] = {spec.id, spec.process, spec.release, NowMs()};
  const DokkuRelease& target = a.releases.at(NewestInstanceRelease(a));
  std::map<std::string, int> formation = DokkuFormation(a, target);
  // Dokku's build and deploy output goes to the agent's log and back to the
  // controller with the result (the step's output in `dflow deploy`).
  std::string printed;
  OutputFn log = [&printed, &out, to_log = LogLines(spec.app)](const std::string& chunk) {
    to_log(chunk);
    if (out) out(chunk);
    printed += chunk;
    if (printed.size() > kMaxStartOutput) printed.erase(0, printed.size() - kMaxStartOutput);
  };
  absl::Status s;
  if (target.version != a.deployed_release) {
    s = Deploy(spec.app, a, target, formation, health_deadline, log);
  } else if (formation != a.formation) {
    s = Scale(spec.app, formation, /*skip_deploy=*/false, health_deadline, log);
    if (s.ok()) s = Verify(spec.app, formation);
    if (s.ok()) a.formation = formation;
  } else {
    s = Verify(spec.app, formation);
  }
  if (!s.ok()) {
    if (added) a.instances.erase(spec.id);
    (void)Commit(spec.app, a);
    return s;
  }
  if (a.port == 0) {
    absl::StatusOr<DokkuOutput> ports =
        Dokku(spec.app, {"ports:report", spec.app, "--format", "json"});
    if (ports.ok()) {
      if (auto r = ParseJsonReport(ports->out); r.ok()) a.port = HttpHostPort(*r);
    }
  }
  RETURN_IF_ERROR(Commit(spec.app, a));
  const DokkuInstance& i = a.instances.at(spec.id);
  InstanceStatus st;
  st.id = i.id;
  st.app = spec.app;
  st.process = i.process;
  st.release = i.release;
  st.port = a.port;
  st.state = InstanceState::kRunning;
  st.started_at_ms = i.started_at_ms;
  st.output = std::move(printed);
  return st;
}

absl::Status DokkuRuntime::StopInstance(const std::string& id, std::chrono::milliseconds grace) {
  std::string app;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, a] : state_.apps()) {
      if (a.instances.count(id) > 0) app = name;
    }
  }
  if (app.empty()) return FinishStops(grace);
  std::lock_guard app_lock(AppLock(app));
  DokkuApp a = Snapshot(app);
  if (a.instances.erase(id) == 0) return absl::OkStatus();
  RETURN_IF_ERROR(Commit(app, a));  // forgotten first: a retried stop finds it gone
  return ApplyStop(app, a, grace, LogLines(app));
}

// A stop forgets the instance before it changes Dokku: when that change failed
// (or the agent died before it), the controller's retry finds the id unknown.
// So an unknown id finishes what earlier stops left: every app whose
// instances want a smaller formation than the one last applied.
absl::Status DokkuRuntime::FinishStops(std::chrono::milliseconds grace) {
  std::vector<std::string> behind;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, a] : state_.apps()) {
      auto deployed = a.releases.find(a.deployed_release);
      if (deployed == a.releases.end()) continue;
      if (NewestInstanceRelease(a) != a.deployed_release && !a.instances.empty()) {
        behind.push_back(name);  // an undone deploy not rolled back yet
      } else if (DokkuFormation(a, deployed->second) != a.formation) {
        behind.push_back(name);
      }
    }
  }
  for (const auto& app : behind) {
    std::lock_guard app_lock(AppLock(app));
    DokkuApp a = Snapshot(app);
    RETURN_IF_ERROR(ApplyStop(app, a, grace, LogLines(app)));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::DestroyApp(const std::string& app) {
  std::lock_guard app_lock(AppLock(app));
  absl::Status s = Dokku(app, {"apps:destroy", app, "--force"}).status();
  if (!s.ok() && !absl::IsNotFound(s)) return s;
  if (s.ok()) {
    // Read back: apps:exists exits 20 once the app is gone.
    DokkuCommand exists{.args = {"apps:exists", app}, .app = app};
    exists.accept_any_exit = true;
    ASSIGN_OR_RETURN(DokkuOutput e, cli_.Run(exists));
    if (e.exit_code == 0) {
      return absl::DataLossError(absl::StrCat("after apps:destroy Dokku on server ",
                                              options_.server_name, " still has app ", app,
                                              " (apps:exists)"));
    }
  }
  std::error_code ec;
  fs::remove_all(absl::StrCat(options_.data_dir, "/dokku/releases/", app), ec);
  std::lock_guard lock(mu_);
  state_.apps().erase(app);
  return state_.Save();
}

}  // namespace dflow::agent
