// DokkuRuntime: bringing Dokku to a release (see dokku_runtime.h for the order).
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/dokku_reports.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

using json = nlohmann::json;

// Docker's memory units: m when it divides, else k, else bytes. (A bare number
// would get "m" appended by Dokku.)
std::string MemoryArg(int64_t bytes) {
  if (bytes % (1 << 20) == 0) return absl::StrCat(bytes >> 20, "m");
  if (bytes % (1 << 10) == 0) return absl::StrCat(bytes >> 10, "k");
  return absl::StrCat(bytes, "b");
}

std::string CpuArg(double cpus) {
  std::string s = absl::StrFormat("%.3f", cpus);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string Tuples(const std::map<std::string, int>& formation) {
  std::vector<std::string> parts;
  for (const auto& [type, n] : formation) parts.push_back(absl::StrCat(type, "=", n));
  return absl::StrJoin(parts, " ");
}

}  // namespace

absl::Status DokkuRuntime::Deploy(const std::string& app, DokkuApp& a, const DokkuRelease& release,
                                  const std::map<std::string, int>& formation,
                                  std::chrono::milliseconds deadline, const OutputFn& out) {
  const bool had_deploy = a.deployed_release != 0;
  const std::map<std::string, std::string> previous_env = a.deployed_env;
  RETURN_IF_ERROR(ApplyResources(app, a, release, out));
  if (auto wait = a.checks.find("wait-to-retire"); wait != a.checks.end()) {
    RETURN_IF_ERROR(ApplyWaitToRetire(app, wait->second, out));
  }
  RETURN_IF_ERROR(SyncConfig(app, a, release.env, out));
  // Dokku checks a scale against the Procfile it runs now: a type this release
  // adds can only be scaled up once it is deployed; types it drops go to 0.
  std::map<std::string, int> before, after;
  auto deployed = a.releases.find(a.deployed_release);
  for (const auto& [type, n] : formation) {
    bool known = deployed == a.releases.end() || deployed->second.processes.count(type) > 0;
    before[type] = known ? n : 0;
    if (!known && n > 0) after[type] = n;
  }
  for (const auto& [type, n] : a.formation) {
    if (formation.count(type) == 0) before[type] = 0;
  }
  RETURN_IF_ERROR(Scale(app, before, /*skip_deploy=*/true, options_.command_timeout, out));
  std::string tree_key, archive;
  if (release.image.empty()) {
    ASSIGN_OR_RETURN(archive, PackTree(a, release, &tree_key));
  } else {
    tree_key = absl::StrCat("image:", release.image);
  }
  absl::Status s;
  if (!had_deploy || tree_key != a.deployed_tree) {
    s = release.image.empty()
            ? Dokku(app, {"git:from-archive", "--archive-type", "tar.gz", app, "--"}, out, deadline,
                    std::move(archive))
                  .status()
            : Dokku(app, {"git:from-image", app, release.image}, out, deadline).status();
    // Dokku already holds this very tree (a state lost here): build it again.
    if (!s.ok() && absl::StrContains(s.message(), "No changes detected")) {
      s = Dokku(app, {"ps:rebuild", app}, out, deadline).status();
    }
  } else {
    s = Dokku(app, {"ps:restart", app}, out, deadline).status();
  }
  if (s.ok() && !after.empty()) s = Scale(app, after, /*skip_deploy=*/false, deadline, out);
  if (s.ok()) s = Verify(app, formation);
  if (!s.ok()) {
    // Dokku kept the previous containers; give them back their config too.
    if (had_deploy) {
      if (absl::Status back = SyncConfig(app, a, previous_env, out); !back.ok()) {
        s = absl::Status(s.code(), absl::StrCat(s.message(),
                                                "; putting the previous config back "
                                                "failed too: ",
                                                back.message()));
      }
    }
    return absl::Status(s.code(),
                        absl::StrCat("deploying ", app, " v", release.version, ": ", s.message()));
  }
  a.deployed_release = release.version;
  a.deployed_tree = tree_key;
  a.deployed_env = release.env;
  a.formation = formation;
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> DokkuRuntime::DokkuConfig(
    const std::string& app) {
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"config:export", "--format", "json", app}));
  return ParseConfigJson(r.out);
}

// config:set prints every value it sets ("       KEY:  value", transcript #24):
// database passwords and theme secrets must not reach the operation's output,
// so only the keys and Dokku's warnings are passed on.
absl::Status DokkuRuntime::SetConfigQuietly(const std::string& app,
                                            const std::vector<std::string>& args,
                                            const OutputFn& out) {
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, args));
  if (!out) return absl::OkStatus();
  std::vector<std::string> keys;
  for (const auto& arg : args) {
    if (size_t eq = arg.find('='); eq != std::string::npos) keys.push_back(arg.substr(0, eq));
  }
  std::string text = absl::StrCat("-----> Setting config vars on ", options_.server_name, ": ",
                                  absl::StrJoin(keys, " "), " (values not shown)\n");
  for (const auto& w : r.warnings) absl::StrAppend(&text, " !     ", w, "\n");
  out(text);
  return absl::OkStatus();
}

absl::Status DokkuRuntime::SyncConfig(const std::string& app, DokkuApp& a,
                                      const std::map<std::string, std::string>& env,
                                      const OutputFn& out) {
  ASSIGN_OR_RETURN(auto current, DokkuConfig(app));
  std::vector<std::string> set = {"config:set", "--no-restart", "--encoded", app};
  for (const auto& [key, value] : env) {
    auto it = current.find(key);
    if (it == current.end() || it->second != value) {
      set.push_back(absl::StrCat(key, "=", absl::Base64Escape(value)));
    }
  }
  std::vector<std::string> unset = {"config:unset", "--no-restart", app};
  for (const auto& key : a.managed_keys) {
    if (env.count(key) == 0 && current.count(key) > 0) unset.push_back(key);
  }
  if (set.size() > 4) RETURN_IF_ERROR(SetConfigQuietly(app, set, out));
  if (unset.size() > 3) RETURN_IF_ERROR(Dokku(app, unset, out).status());
  a.managed_keys.clear();
  for (const auto& [key, value] : env) a.managed_keys.insert(key);
  if (set.size() == 4 && unset.size() == 3) return absl::OkStatus();
  // Read back: what Dokku will hand the app must be what was asked.
  ASSIGN_OR_RETURN(current, DokkuConfig(app));
  for (const auto& [key, value] : env) {
    auto it = current.find(key);
    if (it == current.end() || it->second != value) {
      return absl::DataLossError(absl::StrCat("Dokku on server ", options_.server_name,
                                              " stored config ", key, " of ", app,
                                              it == current.end() ? " nowhere" : " changed",
                                              " (config:export reads it back differently)"));
    }
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::ApplyResources(const std::string& app, DokkuApp& a,
                                          const DokkuRelease& release, const OutputFn& out) {
  // a.resources is "MEMORY_BYTES CPUS" as last applied: a limit is cleared
  // only when dflow had set it (one set by hand stays).
  int64_t had_memory = 0;
  double had_cpus = 0;
  if (!a.resources.empty()) {
    std::vector<std::string> parts = absl::StrSplit(a.resources, ' ');
    if (parts.size() == 2) {
      (void)absl::SimpleAtoi(parts[0], &had_memory);
      (void)absl::SimpleAtod(parts[1], &had_cpus);
    }
  }
  // What each resource should read in `resource:report` ("" cleared); absent:
  // not dflow's to manage.
  std::map<std::string, std::string> want;
  if (release.memory_bytes > 0 || had_memory > 0) {
    want["memory"] = release.memory_bytes > 0 ? MemoryArg(release.memory_bytes) : "";
  }
  if (release.cpus > 0 || had_cpus > 0) want["cpu"] = release.cpus > 0 ? CpuArg(release.cpus) : "";
  a.resources = absl::StrCat(release.memory_bytes, " ", release.cpus);
  if (want.empty()) return absl::OkStatus();
  // resource:report --format json: "_default_.limit.memory" (and the older
  // "resource-…" keys; plugins/resource/report.go, transcript #130); a cleared
  // value has no key.
  auto report = [&]() -> absl::StatusOr<DokkuReport> {
    ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"resource:report", app, "--format", "json"}));
    return ParseJsonReport(r.out);
  };
  auto value = [](const DokkuReport& r, const char* kind, const std::string& resource) {
    return ReportValue(r, "resource", absl::StrCat("_default_-", kind, "-", resource));
  };
  ASSIGN_OR_RETURN(DokkuReport now, report());
  bool changed = false;
  for (const char* kind : {"limit", "reserve"}) {
    std::vector<std::string> args = {absl::StrCat("resource:", kind)};
    for (const auto& [resource, v] : want) {
      if (value(now, kind, resource) != v) {
        args.insert(args.end(), {"--" + resource, v.empty() ? std::string("clear") : v});
      }
    }
    if (args.size() == 1) continue;
    args.push_back(app);
    RETURN_IF_ERROR(Dokku(app, args, out).status());
    changed = true;
  }
  if (!changed) return absl::OkStatus();
  ASSIGN_OR_RETURN(now, report());  // read back
  for (const char* kind : {"limit", "reserve"}) {
    for (const auto& [resource, v] : want) {
      if (std::string got = value(now, kind, resource); got != v) {
        return absl::DataLossError(
            absl::StrCat("after the change Dokku on server ", options_.server_name, " reports ",
                         resource, " ", kind, " ", got.empty() ? "(none)" : got, " for ", app,
                         " (asked: ", v.empty() ? "none" : v, "; resource:report)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DokkuRuntime::PackTree(const DokkuApp& a, const DokkuRelease& release,
                                                   std::string* tree_key) {
  // The health check goes into app.json (healthchecks.web), merged over the
  // app's own; the checks settings tune it.
  std::string app_json = release.app_json;
  if (!release.health_path.empty()) {
    json j =
        release.app_json.empty() ? json::object() : json::parse(release.app_json, nullptr, false);
    if (!j.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("app.json of v", release.version, " is not a JSON object"));
    }
    json check = {{"type", "startup"}, {"name", "dflow"}, {"path", release.health_path}};
    for (const char* key : {"wait", "timeout", "attempts"}) {
      int n = 0;
      if (auto it = a.checks.find(key); it != a.checks.end() && absl::SimpleAtoi(it->second, &n)) {
        check[key] = n;
      }
    }
    j["healthchecks"]["web"] = json::array({check});
    app_json = j.dump(2) + "\n";
  }
  if (app_json != release.app_json || !app_json.empty()) {
    RETURN_IF_ERROR(WriteFileAtomic(release.tree + "/app.json", app_json, 0644));
  }
  *tree_key = absl::StrCat(release.digest, ":", Sha256Hex(app_json));
  ProcessSpec tar{.argv = {"tar", "-czf", "-", "-C", release.tree, "."},
                  .deadline = std::chrono::minutes(5),
                  .output_cap_bytes = size_t{1} << 31};
  ASSIGN_OR_RETURN(ProcessResult packed, tar_runner_->Run(tar));
  if (packed.exit_code != 0 || packed.truncated) {
    return absl::InternalError(
        absl::StrCat("cannot pack the source of v", release.version, ": ", packed.stderr_data));
  }
  return std::move(packed.stdout_data);
}

absl::Status DokkuRuntime::Scale(const std::string& app,
                                 const std::map<std::string, int>& formation, bool skip_deploy,
                                 std::chrono::milliseconds deadline, const OutputFn& out) {
  if (formation.empty()) return absl::OkStatus();
  std::vector<std::string> args = {"ps:scale"};
  if (skip_deploy) args.push_back("--skip-deploy");
  args.push_back(app);
  for (const auto& [type, n] : formation) args.push_back(absl::StrCat(type, "=", n));
  return Dokku(app, args, out, deadline).status();
}

absl::StatusOr<DokkuPsReport> DokkuRuntime::PsReport(const std::string& app) {
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"ps:report", app, "--format", "json"}));
  ASSIGN_OR_RETURN(DokkuReport report, ParseJsonReport(r.out));
  return ParsePsReport(report);
}

absl::Status DokkuRuntime::Verify(const std::string& app,
                                  const std::map<std::string, int>& formation) {
  ASSIGN_OR_RETURN(DokkuPsReport ps, PsReport(app));
  std::map<std::string, int> running, other;
  for (const auto& c : ps.containers) (c.status == "running" ? running : other)[c.process]++;
  int wanted = 0;
  for (const auto& [type, n] : formation) wanted += n;
  if (wanted > 0 && !ps.deployed) {
    return absl::FailedPreconditionError(absl::StrCat("Dokku on server ", options_.server_name,
                                                      " reports ", app, " as not deployed"));
  }
  std::vector<std::string> diffs;
  for (const auto& [type, n] : formation) {
    if (running[type] != n) {
      diffs.push_back(absl::StrCat(type, " ", running[type], " of ", n, " running",
                                   other[type] > 0 ? absl::StrCat(", ", other[type], " not") : ""));
    }
  }
  // Types not asked for (dropped by this release) must have no container left.
  for (const auto& [type, n] : running) {
    if (formation.count(type) == 0) diffs.push_back(absl::StrCat(type, " ", n, " running of 0"));
  }
  if (diffs.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("after the change Dokku on server ", options_.server_name, " runs ", app, " at ",
                   absl::StrJoin(diffs, ", "), " (asked: ", Tuples(formation), ")"));
}

}  // namespace dflow::agent
