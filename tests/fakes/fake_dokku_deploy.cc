// Deploys and what they leave: git:from-archive, git:from-image, ps rebuild and
// redeploy, logs, run, builds:*.
// Sources (v0.38.27): plugins/git/{internal-functions,git-from-archive,
// git-from-directory,git-from-image}, plugins/common/functions
// (release_and_deploy), plugins/scheduler-docker-local/{scheduler-deploy,
// bin/scheduler-deploy-process*, core-post-deploy, scheduler-logs},
// plugins/logs/src/commands/commands.go, plugins/builds. No image is built and
// no container runs: a deploy records the source's Procfile and app.json and
// replaces the app's container records. Build output is abridged.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

extern char** environ;

namespace fake_dokku {
namespace fs = std::filesystem;
namespace {

int Spawn(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// FNV-1a over the sorted relative paths and contents: "is this the same tree".
std::string TreeDigest(const fs::path& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root).string());
  }
  std::sort(files.begin(), files.end());
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const auto& f : files) {
    mix(f);
    mix(ReadFileOr((root / f).string(), ""));
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

json ProcfileTypes(const std::string& text) {
  json out = json::object();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    auto colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
    std::string cmd = line.substr(colon + 1);
    cmd.erase(0, cmd.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = cmd;
  }
  return out;
}

std::string Timestamp(Ctx& c, int64_t seq) {
  std::time_t t = static_cast<std::time_t>(c.now);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  char nanos[16];
  std::snprintf(nanos, sizeof(nanos), ".%09lldZ", static_cast<long long>(seq % 1000000000));
  return std::string(buf) + nanos;
}

// A line written by container `cid`: `docker logs` shows a container's own
// lines only, so a replaced container's lines go with it.
void AddLog(Ctx& c, json& s, const std::string& dyno, const std::string& cid,
            const std::string& text) {
  int64_t seq = c.state.value("log_seq", int64_t{0}) + 1;
  c.state["log_seq"] = seq;
  s["logs"].push_back({{"t", Timestamp(c, seq)}, {"dyno", dyno}, {"cid", cid}, {"text", text}});
  if (s["logs"].size() > 2000) s["logs"].erase(0);
}

// A test hook, not Dokku: STATE/hooks/<app>.fail-checks makes the next deploys
// of that app fail their checks with the file's text as the reason.
std::optional<std::string> ChecksFailure(Ctx& c, const std::string& app) {
  std::string path = c.state_dir + "/hooks/" + app + ".fail-checks";
  if (!fs::exists(path)) return std::nullopt;
  std::string reason = ReadFileOr(path, "");
  while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  return reason.empty() ? std::string("container exited before its checks passed") : reason;
}

int Quantity(const json& s, const std::string& type) {
  for (const auto& v : s.value("scale", json::array())) {
    std::string t = v.get<std::string>();
    auto eq = t.find('=');
    if (t.substr(0, eq) == type) return std::atoi(t.substr(eq + 1).c_str());
  }
  return 0;
}

// Replaces the containers of `only` (or of every type), after their checks.
void DeployContainers(Ctx& c, const std::string& app, const std::string& only) {
  json& s = c.Apps()[app];
  const json& procfile = s["source"]["procfile"];
  auto failure = ChecksFailure(c, app);
  json fresh = json::array();
  for (const auto& ct : s.value("containers", json::array())) {
    if (!only.empty() && ct.value("proc", "") != only) fresh.push_back(ct);
  }
  for (const auto& v : s.value("scale", json::array())) {
    std::string t = v.get<std::string>();
    std::string type = t.substr(0, t.find('='));
    if (!only.empty() && type != only) continue;
    if (!procfile.contains(type)) {
      Warn("Skipping " + type + " as it is missing from the current Procfile");
      continue;
    }
    int count = Quantity(s, type);
    if (count <= 0) continue;
    Info1("Deploying " + type + " (count=" + std::to_string(count) + ")");
    for (int i = 1; i <= count; ++i) {
      std::string dyno = type + "." + std::to_string(i);
      if (failure && type == "web") {
        Verbose("Attempting pre-flight checks (" + dyno + ")");
        Fail("Failure in name='default': " + *failure +
             "\nCould not start due to 1 failed checks (" + dyno + ")");
      }
      Verbose("Attempting pre-flight checks (" + dyno + ")");
      Verbose("Scheduling old container shutdown in 60 seconds (" + dyno + ")");
      const std::string cid = c.NewId(64);
      fresh.push_back({{"proc", type}, {"index", i}, {"cid", cid}, {"status", "running"}});
      AddLog(c, s, dyno, cid, "starting " + type + ": " + procfile[type].get<std::string>());
    }
  }
  std::sort(fresh.begin(), fresh.end(), [](const json& a, const json& b) {
    return std::make_pair(a.value("proc", ""), a.value("index", 0)) <
           std::make_pair(b.value("proc", ""), b.value("index", 0));
  });
  s["containers"] = fresh;
  s["deployed"] = true;
  Info1("Running post-deploy");
  ProxyRebuild(c, app, false);
  Info1("Renaming containers");
  Info1("Shutting down old containers in 60 seconds");
}

void ReleaseAndDeploy(Ctx& c, const std::string& app) {
  json& s = c.Apps()[app];
  Info1("Releasing " + app + "...");
  Info1("Checking for predeploy task");
  if (s["source"]["procfile"].contains("release")) {
    Info1("Executing release task from Procfile in ephemeral container: " +
          s["source"]["procfile"]["release"].get<std::string>());
  }
  Info1("Deploying " + app + " via the docker-local scheduler...");
  DeployContainers(c, app, "");
  Info2("Application deployed:");
  if (s.value("vhost_enabled", true)) {
    for (const auto& h : s["vhosts"]) Verbose("http://" + h.get<std::string>());
  } else if (s.contains("random_port")) {
    Verbose("http://127.0.0.1:" + std::to_string(s["random_port"].get<int>()));
  }
}

void RecordBuild(Ctx& c, json& s, const std::string& kind, const std::string& status) {
  json b = {{"id", c.NewId(12)},
            {"kind", kind},
            {"status", status},
            {"started_at", c.now},
            {"finished_at", c.now},
            {"exit_code", status == "succeeded" ? "0" : "1"},
            {"source", s.value("deploy_source", "")}};
  s["builds"].push_back(b);
}

// git-from-directory and receive-app: refuses an unchanged tree, then builds,
// releases and deploys; a failure keeps what ran before.
void DeployTree(Ctx& c, const std::string& app, const fs::path& tree, const std::string& kind,
                const std::string& source_type, const std::string& source_meta) {
  json& s = c.Apps()[app];
  std::string digest = TreeDigest(tree);
  if (s.contains("source") && s["source"].value("digest", "") == digest) {
    Warn("No changes detected, skipping git commit");
    Warn("Call 'ps:rebuild' on app to rebuild the app from existing source");
    throw RawFailure{"", 1};
  }
  Info1("Updating git repository with specified build context");
  json previous = s.contains("source") ? s["source"] : json();
  json containers = s.value("containers", json::array());
  bool was_deployed = s.value("deployed", false);
  json source = {{"digest", digest},
                 {"procfile", ProcfileTypes(ReadFileOr((tree / "Procfile").string(), ""))},
                 {"dockerfile", fs::exists(tree / "Dockerfile")}};
  if (fs::exists(tree / "app.json")) {
    source["app_json"] = json::parse(ReadFileOr((tree / "app.json").string(), ""), nullptr, false);
  }
  if (source["procfile"].empty())
    source["procfile"]["web"] = source["dockerfile"] ? "(image CMD)" : "";
  s["source"] = source;
  s["deploy_source"] = source_type;
  s["deploy_source_metadata"] = source_meta;
  if (!s.contains("logs")) s["logs"] = json::array();
  Info1("Cleaning up...");
  Info1(std::string("Building ") + app + " from " +
        (source["dockerfile"] ? "Dockerfile" : "herokuish"));
  try {
    ReleaseAndDeploy(c, app);
  } catch (const Failure&) {
    json& again = c.Apps()[app];
    again["source"] = previous;
    again["containers"] = containers;
    again["deployed"] = was_deployed;
    if (previous.is_null()) again.erase("source");
    if (c.version.AtLeast(0, 38, 0)) RecordBuild(c, again, kind, "failed");
    throw;
  }
  if (c.version.AtLeast(0, 38, 0)) RecordBuild(c, c.Apps()[app], kind, "succeeded");
}

void FromArchive(Ctx& c) {
  std::string type = "tar";
  std::vector<std::string> rest;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i] == "--archive-type" && i + 1 < c.args.size()) {
      type = c.args[++i];
    } else {
      rest.push_back(c.args[i]);
    }
  }
  const std::string app = rest.empty() ? "" : rest[0];
  c.VerifyApp(app);
  const std::string url = rest.size() > 1 ? rest[1] : "";
  if (url.empty()) Fail("Please specify an archive url or -- to fetch the archive from stdin");
  if (url != "--") Fail("fake dokku: only -- (the archive on stdin) is supported");
  Info1("Fetching " + type + " file from stdin");
  std::string data = c.ReadStdin();
  Out(std::to_string(data.size()));
  Info1("Generating build context");
  fs::path work = fs::path(c.state_dir) / ("tmp-" + c.NewId(8));
  fs::create_directories(work / "x");
  std::ofstream(work / ("src." + type), std::ios::binary) << data;
  std::string flags = type == "tar.gz" ? "-xzf" : type == "tar" ? "-xf" : "";
  if (flags.empty()) Fail("fake dokku: archive type " + type + " is not supported");
  Verbose(type == "tar.gz" ? "Extracting gzipped tarball" : "Extracting tarball");
  int rc = Spawn({"tar", flags, (work / ("src." + type)).string(), "-C", (work / "x").string()});
  if (rc != 0) {
    fs::remove_all(work);
    Fail("Failed to extract the " + type + " archive");
  }
  fs::path tree = work / "x";
  std::vector<fs::path> top;
  for (const auto& e : fs::directory_iterator(tree)) top.push_back(e.path());
  if (top.size() == 1 && fs::is_directory(top[0])) {
    Verbose("Stripping top-level archive folder components");
    tree = top[0];
  } else {
    Verbose("Moving unarchived files and folders into place");
  }
  try {
    DeployTree(c, app, tree, "git:from-archive", type, url);
  } catch (...) {
    fs::remove_all(work);
    throw;
  }
  // Kept for `run`, which stands in for a container of the app's image.
  fs::path kept = fs::path(c.state_dir) / "src" / app;
  fs::remove_all(kept);
  fs::create_directories(kept.parent_path());
  fs::rename(tree, kept);
  fs::remove_all(work);
}

void FromImage(Ctx& c) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < c.args.size(); ++i) {
    if (c.args[i] == "--build-dir" && i + 1 < c.args.size()) {
      ++i;
    } else if (c.args[i] != "--force") {
      rest.push_back(c.args[i]);
    }
  }
  const std::string app = rest.empty() ? "" : rest[0];
  c.VerifyApp(app);
  if (rest.size() < 2 || rest[1].empty()) Fail("Please specify a docker image");
  Info1("Generating build context");
  fs::path work = fs::path(c.state_dir) / ("tmp-" + c.NewId(8));
  fs::create_directories(work);
  std::ofstream(work / "Dockerfile") << "FROM " << rest[1] << "\n";
  Info1("Image exists on host, skipping pull");
  try {
    DeployTree(c, app, work, "git:from-image", "docker-image", rest[1]);
  } catch (...) {
    fs::remove_all(work);
    throw;
  }
  fs::remove_all(work);
}

}  // namespace

void Redeploy(Ctx& c, const std::string& app) { ReleaseAndDeploy(c, app); }

void RebuildApp(Ctx& c, const std::string& app) {
  Info1(std::string("Building ") + app + " from " +
        (c.Apps()[app]["source"].value("dockerfile", false) ? "Dockerfile" : "herokuish"));
  ReleaseAndDeploy(c, app);
}

void DeployProcessType(Ctx& c, const std::string& app, const std::string& type) {
  DeployContainers(c, app, type);
}

void RegisterDeploy(std::map<std::string, Handler>& m, const Version& v) {
  m["git:from-archive"] = FromArchive;
  m["git:from-image"] = FromImage;
}

}  // namespace fake_dokku
