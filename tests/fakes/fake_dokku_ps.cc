// ps:* (plugins/ps/{ps,functions,subcommands,report}.go at v0.38.27 and v0.35.20).
// Containers are records in the app's state ({proc, index, cid, status}); no
// process runs.
#include <algorithm>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace {

struct Formation {
  std::string type;
  int quantity = 0;
};

// parseProcessTuples: "type=N", first mention of a type wins.
std::vector<Formation> ParseTuples(const std::vector<std::string>& tuples) {
  std::vector<Formation> out;
  for (const auto& t : tuples) {
    auto eq = t.find('=');
    if (eq == std::string::npos) Fail("Missing count for process type " + t);
    std::string type = t.substr(0, eq), count = t.substr(eq + 1);
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t"));
      s.erase(s.find_last_not_of(" \t") + 1);
      return s;
    };
    long long n = 0;
    if (!GoAtoi(trim(count), &n)) Fail("Invalid count for process type " + type);
    type = trim(type);
    bool seen = false;
    for (const auto& f : out) seen = seen || f.type == type;
    if (!seen) out.push_back({type, static_cast<int>(n)});
  }
  return out;
}

std::vector<std::string> ScaleList(const json& s, const char* key) {
  std::vector<std::string> out;
  for (const auto& v : s.value(key, json::array())) out.push_back(v.get<std::string>());
  return out;
}

// getFormations: the scale property, then scale.old, sorted by type.
std::vector<Formation> Formations(const json& s) {
  std::vector<Formation> out = ParseTuples(ScaleList(s, "scale"));
  for (const auto& f : ParseTuples(ScaleList(s, "scale_old"))) {
    bool seen = false;
    for (const auto& e : out) seen = seen || e.type == f.type;
    if (!seen) out.push_back(f);
  }
  std::sort(out.begin(), out.end(),
            [](const Formation& a, const Formation& b) { return a.type < b.type; });
  return out;
}

void ScaleReport(Ctx& c, const json& s, const std::string& app, const std::string& format) {
  auto formations = Formations(s);
  if (format == "json") {
    json list = json::array();
    for (const auto& f : formations)
      list.push_back({{"process_type", f.type}, {"quantity", f.quantity}});
    Out(list.dump());
    return;
  }
  Info1("Scaling for " + app);
  auto row = [](const std::string& a, const std::string& b) {
    std::string key = a + ":";
    Out((key.size() < 5 ? key + std::string(5 - key.size(), ' ') : key) + " " + b);
  };
  row("proctype", "qty");
  row("--------", "---");
  for (const auto& f : formations) row(f.type, std::to_string(f.quantity));
}

void Scale(Ctx& c) {
  std::vector<FlagDef> defs = {{"skip-deploy", true, "", "--skip-deploy: skip deploy of the app"}};
  if (c.version.AtLeast(0, 38, 21))
    defs.push_back({"format", false, "stdout", "format: [ stdout | json ]"});
  ParsedArgs a = ParseFlags("ps:scale", defs, c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  std::vector<std::string> tuples(a.positional.begin() + 1, a.positional.end());
  if (tuples.empty()) return ScaleReport(c, s, app, a.Get("format", "stdout"));
  std::string joined;
  for (const auto& t : tuples) joined += (joined.empty() ? "" : " ") + t;
  Info1("Scaling " + app + " processes: " + joined);
  auto existing = Formations(s);
  auto updates = ParseTuples(tuples);
  // updateScale: the updates, then the other existing types, then Procfile
  // types never scaled (0); types the Procfile lacks may only go to 0.
  std::vector<std::string> procfile_types;
  bool has_procfile = s.contains("source") && s["source"].contains("procfile");
  if (has_procfile) {
    for (const auto& [type, cmd] : s["source"]["procfile"].items()) procfile_types.push_back(type);
  }
  auto in_procfile = [&](const std::string& t) {
    return std::find(procfile_types.begin(), procfile_types.end(), t) != procfile_types.end();
  };
  std::vector<Formation> merged;
  for (const auto& f : updates) {
    if (has_procfile && !in_procfile(f.type) && f.quantity != 0) {
      Fail(f.type + " is not a valid process name to scale up");
    }
    merged.push_back(f);
  }
  auto has = [&](const std::string& t) {
    return std::any_of(merged.begin(), merged.end(),
                       [&](const Formation& f) { return f.type == t; });
  };
  for (const auto& f : ParseTuples(ScaleList(s, "scale"))) {
    if (!has(f.type)) merged.push_back(f);
  }
  for (const auto& t : procfile_types) {
    if (!has(t)) merged.push_back({t, 0});
  }
  json values = json::array(), old = json::array();
  for (const auto& f : merged) {
    std::string v = f.type + "=" + std::to_string(f.quantity);
    (has_procfile && !in_procfile(f.type) && f.quantity == 0 ? old : values).push_back(v);
  }
  s["scale"] = values;
  s["scale_old"] = old;
  if (a.Has("skip-deploy") || !s.value("deployed", false)) return;
  for (const auto& f : updates) {
    bool changed = true;
    for (const auto& e : existing) {
      if (e.type == f.type && e.quantity == f.quantity) changed = false;
    }
    if (changed) DeployProcessType(c, app, f.type);
  }
}

std::string RunningState(const json& s) {
  int running = 0, total = 0;
  for (const auto& ct : s.value("containers", json::array())) {
    ++total;
    if (ct.value("status", "") == "running") ++running;
  }
  if (total == 0 || running == 0) return "false";
  return running == total ? "true" : "mixed";
}

// The ps properties `ps:set` accepts (DefaultProperties plus GlobalProperties
// in plugins/ps/ps.go): v0.35.20 has no stop timeout (its scheduler reads the
// DOKKU_DOCKER_STOP_TIMEOUT config var); v0.36.0 adds stop-timeout-seconds
// (docs/appendices/0.36.0-migration-guide.md); v0.38.27 has the full list.
std::vector<std::string> PsProperties(const Version& v, bool global) {
  if (global) {
    if (v.AtLeast(0, 38, 8))
      return {"procfile-path", "restart-policy", "skip-deploy", "stop-timeout-seconds"};
    if (v.AtLeast(0, 36, 0)) return {"procfile-path", "stop-timeout-seconds"};
    return {"procfile-path"};
  }
  if (v.AtLeast(0, 38, 8)) {
    return {"dockerfile-start-cmd", "procfile-path", "restart-policy",      "restore",
            "skip-deploy",          "start-cmd",     "stop-timeout-seconds"};
  }
  if (v.AtLeast(0, 36, 0)) return {"procfile-path", "restart-policy", "stop-timeout-seconds"};
  return {"procfile-path", "restart-policy"};
}

// An app's ps property ("" when unset); `app` "--global" reads the global one.
std::string PsProperty(Ctx& c, const std::string& app, const std::string& key) {
  const json& props = app == "--global" ? c.Global().value("ps", json::object())
                                        : c.Apps()[app].value("ps", json::object());
  return props.value(key, std::string());
}

// ps:set [--global] APP KEY [VALUE] (plugins/ps/src/subcommands/subcommands.go
// "set", ps.CommandSet, common.CommandPropertySet in plugins/common/properties.go):
// an empty value unsets; output is LogInfo2Quiet.
void Set(Ctx& c) {
  ParsedArgs a =
      ParseFlags("ps:set", {{"global", true, "", "--global: set a global property"}}, c.args);
  const bool global = a.Has("global");
  const std::string app = global ? "--global" : a.Arg(0);
  const std::string property = a.Arg(global ? 0 : 1), value = a.Arg(global ? 1 : 2);
  if (property == "restart-policy" && !value.empty()) {  // isValidRestartPolicy (functions.go)
    static const std::vector<std::string> kPolicies = {"no", "always", "unless-stopped",
                                                       "on-failure"};
    if (std::find(kPolicies.begin(), kPolicies.end(), value) == kPolicies.end() &&
        value.rfind("on-failure:", 0) != 0) {
      Fail("Invalid restart-policy specified");
    }
  }
  if (!global) c.VerifyApp(app);
  auto globals = PsProperties(c.version, true);
  auto has = [](const std::vector<std::string>& l, const std::string& k) {
    return std::find(l.begin(), l.end(), k) != l.end();
  };
  if (global && !has(globals, property)) Fail("Property cannot be specified globally");
  if (property.empty()) Fail("No property specified");
  std::vector<std::string> valid = PsProperties(c.version, false);
  for (const auto& g : globals) {
    if (!has(valid, g)) valid.push_back(g);
  }
  std::sort(valid.begin(), valid.end());
  if (!has(valid, property)) {
    std::string list;
    for (const auto& k : valid) list += (list.empty() ? "" : ", ") + k;
    Fail("Invalid property specified, valid properties include: " + list);
  }
  json& props = global ? c.Global()["ps"] : c.Apps()[app]["ps"];
  if (!value.empty()) {
    Info2("Setting " + property + " to " + value);
    props[property] = value;
  } else {
    Info2("Unsetting " + property);
    if (props.is_object()) props.erase(property);
  }
}

void Report(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  GoReport g{.type = "ps", .app = r.app};
  auto own = [&](const std::string& key) { return PsProperty(c, r.app, key); };
  auto global = [&](const std::string& key) { return PsProperty(c, "--global", key); };
  auto computed = [&](const std::string& key, const std::string& fallback) {
    std::string v = own(key);
    if (v.empty()) v = global(key);
    return v.empty() ? fallback : v;
  };
  g.flags["--deployed"] = s.value("deployed", false) ? "true" : "false";
  g.flags["--processes"] = std::to_string(s.value("containers", json::array()).size());
  g.flags["--ps-can-scale"] = "true";
  g.flags["--ps-procfile-path"] = own("procfile-path");
  g.flags["--restore"] = "true";
  g.flags["--running"] = RunningState(s);
  if (c.version.AtLeast(0, 38, 8)) {  // v0.38.27 plugins/ps/report.go
    g.flags["--ps-computed-dockerfile-start-cmd"] = own("dockerfile-start-cmd");
    g.flags["--ps-computed-procfile-path"] = computed("procfile-path", "Procfile");
    g.flags["--ps-computed-restart-policy"] = computed("restart-policy", "on-failure:10");
    g.flags["--ps-computed-skip-deploy"] = computed("skip-deploy", "false");
    g.flags["--ps-computed-start-cmd"] = own("start-cmd");
    // reportComputedStopTimeoutSeconds: the app's, else the global, else 30.
    g.flags["--ps-computed-stop-timeout-seconds"] = computed("stop-timeout-seconds", "30");
    for (const char* k : {"dockerfile-start-cmd", "restart-policy", "skip-deploy", "start-cmd",
                          "stop-timeout-seconds"}) {
      g.flags[std::string("--ps-") + k] = own(k);
    }
    for (const char* k :
         {"procfile-path", "restart-policy", "skip-deploy", "stop-timeout-seconds"}) {
      g.flags[std::string("--ps-global-") + k] = global(k);
    }
  } else {  // v0.35.20 plugins/ps/report.go
    g.flags["--ps-computed-procfile-path"] = computed("procfile-path", "Procfile");
    g.flags["--ps-global-procfile-path"] =
        global("procfile-path").empty() ? std::string("Procfile") : global("procfile-path");
    g.flags["--ps-restart-policy"] = computed("restart-policy", "on-failure:10");
    if (c.version.AtLeast(0, 36, 0)) {  // v0.36.0–v0.38.7: unprefixed flags
      // Up to v0.38.5 the app's and the global value read "30" when unset
      // (PropertyGetDefault in plugins/ps/report.go @ v0.36.0 and @ v0.38.5),
      // so the computed one is the app's; PropertyGet from v0.38.6.
      const std::string unset = c.version.AtLeast(0, 38, 6) ? "" : "30";
      auto or_unset = [&](std::string v) { return v.empty() ? unset : v; };
      const std::string app_value = or_unset(own("stop-timeout-seconds"));
      g.flags["--computed-stop-timeout-seconds"] =
          app_value.empty() ? computed("stop-timeout-seconds", "30") : app_value;
      g.flags["--global-stop-timeout-seconds"] = or_unset(global("stop-timeout-seconds"));
      g.flags["--stop-timeout-seconds"] = app_value;
    }
  }
  // addStatusFlags: one per container file, "<state> (CID: <11 chars>)".
  if (r.info_flag.empty() || r.info_flag.rfind("--status-", 0) == 0) {
    for (const auto& ct : s.value("containers", json::array())) {
      std::string dyno = ct.value("proc", "") + "." + std::to_string(ct.value("index", 0));
      g.flags["--status-" + dyno] =
          ct.value("status", "missing") + " (CID: " + ct.value("cid", "").substr(0, 11) + ")";
    }
  }
  g.trim_prefix = g.emit_legacy = c.version.AtLeast(0, 38, 8);
  PrintGoReport(g, r.format, r.info_flag);
}

void SetStatus(Ctx& c, const std::string& verb, const std::string& status) {
  ParsedArgs a = ParseFlags(
      "ps:" + verb,
      {{"all", true, "", "--all: " + verb + " all apps"},
       {"parallel", false, "1",
        "--parallel: number of apps to " + verb + " in parallel, -1 to match cpu count"}},
      c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  if (!s.value("deployed", false)) {
    Warn("App " + app + " has not been deployed");
    return;
  }
  if (status == "exited") {
    Info1("Stopping " + app);
  } else if (RunningState(s) == "true") {
    Warn("App " + app + " already running");
    return;
  }
  if (status == "running") return Redeploy(c, app);
  for (auto& ct : s["containers"]) ct["status"] = status;
}

void Restart(Ctx& c) {
  ParsedArgs a =
      ParseFlags("ps:restart",
                 {{"all", true, "", "--all: restart all apps"},
                  {"parallel", false, "1",
                   "--parallel: number of apps to restart in parallel, -1 to match cpu count"}},
                 c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  if (!s.value("deployed", false)) {
    Warn("App " + app + " has not been deployed");
    return;
  }
  const std::string type = a.Arg(1);
  if (!type.empty()) return DeployProcessType(c, app, type);
  Redeploy(c, app);
}

void Rebuild(Ctx& c) {
  ParsedArgs a =
      ParseFlags("ps:rebuild",
                 {{"all", true, "", "--all: rebuild all apps"},
                  {"parallel", false, "1",
                   "--parallel: number of apps to rebuild in parallel, -1 to match cpu count"}},
                 c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  if (!s.contains("source")) Fail("Unable to rebuild " + app + ": no source has been deployed");
  RebuildApp(c, app);
}

}  // namespace

void RegisterPs(std::map<std::string, Handler>& m, const Version& v) {
  m["ps:scale"] = Scale;
  m["ps:report"] = Report;
  m["ps:set"] = Set;
  m["ps:restart"] = Restart;
  m["ps:rebuild"] = Rebuild;
  m["ps:stop"] = [](Ctx& c) { SetStatus(c, "stop", "exited"); };
  m["ps:start"] = [](Ctx& c) { SetStatus(c, "start", "running"); };
}

}  // namespace fake_dokku
