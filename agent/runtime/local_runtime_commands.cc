// LocalRuntime: releases, the release-phase command, one-off commands and logs.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/runtime/local_runtime.h"
#include "agent/runtime/process_env.h"
#include "agent/runtime/procfile.h"
#include "common/names.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

constexpr size_t kKeptOutputBytes = 256 << 10;
constexpr int kMaxLogLines = 10000;

std::string Name(const std::string& app, int64_t version) {
  return absl::StrCat("app ", app, " release v", version);
}

// How a finished command ended, in words.
std::string Ending(const ProcessResult& r) {
  if (r.term_signal != 0) return absl::StrCat("was killed by signal ", r.term_signal);
  return absl::StrCat("exited with code ", r.exit_code);
}

}  // namespace

std::map<std::string, std::string> LocalRuntime::CommandEnv(const Release& release) const {
  std::map<std::string, std::string> env = BaseEnv(release.tree);
  for (const auto& [key, value] : release.env) env[key] = value;
  env["DFLOW_APP"] = release.app;
  env["DFLOW_RELEASE"] = absl::StrCat("v", release.version);
  return env;
}

absl::Status LocalRuntime::PrepareRelease(const ReleaseSpec& spec, const OutputFn& out) {
  // No container engine here: an image needs Dokku (the agent words the error).
  if (!spec.image.empty()) return absl::UnimplementedError("image deploys");
  return releases_.Prepare(spec, out).status();
}

absl::StatusOr<std::map<std::string, std::string>> LocalRuntime::Processes(const std::string& app,
                                                                           int64_t version) {
  ASSIGN_OR_RETURN(Release release, releases_.Load(app, version));
  std::map<std::string, std::string> out;
  for (const ProcfileEntry& e : release.procfile) {
    if (e.type != "release") out[e.type] = e.command;
  }
  return out;
}

absl::Status LocalRuntime::RunReleaseCommand(const std::string& app, int64_t version,
                                             std::chrono::milliseconds deadline,
                                             const OutputFn& out) {
  ASSIGN_OR_RETURN(Release release, releases_.Load(app, version));
  const ProcfileEntry* entry = release.Find("release");
  if (entry == nullptr) return absl::OkStatus();

  // One run at a time per release, so a retry that overlaps the first run
  // waits for it and then finds its marker.
  std::shared_ptr<std::mutex> once;
  {
    std::lock_guard lock(release_command_mu_);
    auto& slot = release_command_locks_[absl::StrCat(app, "/v", version)];
    if (slot == nullptr) slot = std::make_shared<std::mutex>();
    once = slot;
  }
  std::lock_guard run_lock(*once);
  if (std::optional<std::string> first = releases_.ReleaseCommandOutput(release)) {
    if (out) out(*first);  // a retry returns the first run's output
    return absl::OkStatus();
  }
  std::map<std::string, std::string> env = CommandEnv(release);
  auto command = ExpandCommand(entry->command, env);
  if (!command.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the release command of ", Name(app, version),
                                                   ": ", command.status().message()));
  }
  for (auto& [key, value] : command->assignments) env[key] = value;
  std::string output;
  auto keep = [&](std::string_view chunk) {
    output.append(chunk);
    if (output.size() > 2 * kKeptOutputBytes) output.erase(0, output.size() - kKeptOutputBytes);
    if (out) out(std::string(chunk));
  };
  auto result = runner_->Run({.argv = command->argv,
                              .env = env,
                              .cwd = release.tree,
                              .deadline = deadline,
                              .output_cap_bytes = 0,
                              .on_output = [&](int, std::string_view chunk) { keep(chunk); }});
  const std::string what = absl::StrCat("the release command `", entry->command, "` of ",
                                        Name(app, version), " on server ", options_.server_name);
  if (!result.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " cannot start: ", result.status().message()));
  }
  if (result->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, " did not finish within ", HumanDuration(deadline),
                     " and was killed. Last output lines:\n", LastLines(output, 20)));
  }
  if (result->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " failed: it ", Ending(*result), ". Last output lines:\n", LastLines(output, 20)));
  }
  return releases_.MarkReleaseCommandDone(release, output);
}

absl::StatusOr<int> LocalRuntime::RunOneOff(const std::string& app, int64_t version,
                                            const std::vector<std::string>& argv,
                                            std::chrono::milliseconds deadline,
                                            const OutputFn& out) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a one-off command for ", Name(app, version), " needs a program to run"));
  }
  ASSIGN_OR_RETURN(Release release, releases_.Load(app, version));
  auto result = runner_->Run({.argv = argv,
                              .env = CommandEnv(release),
                              .cwd = release.tree,
                              .deadline = deadline,
                              .output_cap_bytes = 0,
                              .on_output = [&](int, std::string_view chunk) {
                                if (out) out(std::string(chunk));
                              }});
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat("one-off command for ", Name(app, version), " on server ",
                                     options_.server_name, ": ", result.status().message()));
  }
  if (result->timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("one-off command `", argv[0], "` for ",
                                                    Name(app, version), " on server ",
                                                    options_.server_name, " did not finish within ",
                                                    HumanDuration(deadline), " and was killed"));
  }
  // A shell's convention for a signal, so callers can pass it through as an exit code.
  return result->term_signal != 0 ? 128 + result->term_signal : result->exit_code;
}

absl::StatusOr<std::vector<LogLine>> LocalRuntime::Logs(const std::string& app,
                                                        const std::string& process, int n) {
  RETURN_IF_ERROR(ValidateAppName(app));
  n = std::clamp(n <= 0 ? 100 : n, 1, kMaxLogLines);
  std::vector<std::pair<std::string, std::string>> sources;  // id, process
  {
    Lock lock(mu_);
    for (const auto& [id, inst] : instances_) {
      const InstanceSpec& spec = inst->rec.spec;
      if (spec.app == app && (process.empty() || spec.process == process)) {
        sources.emplace_back(id, spec.process);
      }
    }
  }
  std::vector<LogLine> lines;
  for (const auto& [id, type] : sources) {
    for (TimedLine& line : logs_.Tail(app, id, n)) {
      lines.push_back(
          {.time_ms = line.time_ms, .instance = id, .process = type, .text = std::move(line.text)});
    }
  }
  // Each instance's lines are in order already; merge them by time.
  std::stable_sort(lines.begin(), lines.end(),
                   [](const LogLine& a, const LogLine& b) { return a.time_ms < b.time_ms; });
  if (lines.size() > static_cast<size_t>(n)) lines.erase(lines.begin(), lines.end() - n);
  return lines;
}

}  // namespace dflow::agent
