// resource:* (plugins/resource/{functions,subcommands,report}.go, v0.38.27 and
// v0.35.20) and checks:* (plugins/checks/{subcommands/*,internal-functions}).
#include <algorithm>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace {

// reportResourceType's order; setResourceType walks a Go map (random order
// on a real host), printed here in this order.
const std::vector<std::string> kResources = {
    "cpu", "memory", "memory-swap", "network", "network-ingress", "network-egress", "nvidia-gpu"};

std::vector<FlagDef> ResourceFlags(const std::string& type) {
  const bool limit = type == "limit";
  const std::string verb = limit ? "limit processes by" : "reserve for processes";
  std::vector<FlagDef> defs = {
      {"process-type", false, "", "process-type: A process type to manage"}};
  for (const auto& r : kResources) {
    std::string usage;
    if (r == "cpu") usage = "cpu: The amount of cpu to " + verb;
    if (r == "memory") usage = "memory: The amount of memory to " + verb;
    if (r == "memory-swap") usage = "memory-swap: The amount of swap memory to " + verb;
    if (r == "network") usage = "network: The amount of network bandwidth to " + verb;
    if (r == "network-ingress")
      usage = "network-ingress: The amount of ingress network bandwidth to " + verb;
    if (r == "network-egress")
      usage = "network-egress: The amount of egress network bandwidth to " + verb;
    if (r == "nvidia-gpu") {
      usage = limit ? "nvidia-gpu: The number of Nvidia GPUs to limit a process to"
                    : "nvidia-gpu: The number of Nvidia GPUs to resource for a process";
    }
    defs.push_back({r, false, "", usage});
  }
  return defs;
}

void SetResources(Ctx& c, const std::string& type) {
  ParsedArgs a = ParseFlags("resource:" + type, ResourceFlags(type), c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  std::string proc = a.Get("process-type", "");
  if (proc.empty()) proc = "_default_";
  const std::string noun = type == "limit" ? "limits" : "reservation";
  json& props = s["resource"][proc][type];
  bool any = std::any_of(kResources.begin(), kResources.end(),
                         [&](const std::string& r) { return !a.Get(r).empty(); });
  if (!any) {
    Info2("resource " + noun + " " + app + " information" +
          (proc == "_default_" ? " [defaults]" : " (" + proc + ")"));
    for (const auto& r : kResources) Verbose(r + ": " + props.value(r, std::string()));
    return;
  }
  Info2("Setting resource " + noun + " for " + app +
        (proc == "_default_" ? "" : " (" + proc + ")"));
  for (const auto& r : kResources) {
    std::string v = a.Get(r);
    if (v.empty()) continue;
    if (v == "clear") {
      Verbose(r + ": cleared");
      if (props.is_object()) props.erase(r);
    } else {
      Verbose(r + ": " + v);
      props[r] = v;
    }
  }
}

void ResourceReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  GoReport g{.type = "resource", .app = r.app, .uppercase_first = false};
  const json resources = s.value("resource", json::object());
  for (const auto& [proc, types] : resources.items()) {
    for (const auto& [type, values] : types.items()) {
      for (const auto& [key, value] : values.items()) {
        g.flags["--resource-" + proc + "." + type + "." + key] = value.get<std::string>();
      }
    }
  }
  g.trim_prefix = g.emit_legacy = c.version.AtLeast(0, 38, 8);
  PrintGoReport(g, r.format, r.info_flag);
}

std::string ListOrNone(const json& s, const char* key) {
  std::string v = s.value("checks", json::object()).value(key, std::string());
  return v.empty() ? "none" : v;
}

void ChecksSet(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  const std::string key = c.args.size() > 1 ? c.args[1] : "";
  if (key.empty()) Fail("No key specified");
  if (key != "wait-to-retire") Fail("Invalid key specified, valid keys include: wait-to-retire");
  if (c.args.size() > 2 && !c.args[2].empty()) {
    Info2("Setting " + key + " to " + c.args[2]);
    s["checks"][key] = c.args[2];
  } else {
    // No value unsets, exit 0 even when it was not set (transcript 0.38.27
    // entry 135, "=====> Unsetting wait-to-retire"; docs:
    // deployment/zero-downtime-deploys "checks:set"). The same bash
    // subcommand in 0.35 (v0.35.20 plugins/checks/subcommands/set: `[[ -n
    // "$VALUE" ]]` else "Unsetting"), so no version switch here.
    Info2("Unsetting " + key);
    if (s.contains("checks")) s["checks"].erase(key);
  }
}

// checks:disable/enable/skip APP [TYPES]: lists kept comma-separated.
void ChecksToggle(Ctx& c, const std::string& verb) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  const std::string types = c.args.size() > 1 ? c.args[1] : "";
  const std::string what = verb == "disable" ? "Disabling zero downtime"
                           : verb == "skip"  ? "Skipping zero downtime"
                                             : "Enabling zero downtime";
  if (types.empty()) {
    Info1(what + " for app (" + app + ")");
  } else {
    Info1(what + " for app's (" + app + ") proctypes (" + types + ")");
  }
  json& checks = s["checks"];
  std::string value = types.empty() ? "_all_" : types;
  if (verb == "enable") {
    checks.erase("disabled");
    checks.erase("skipped");
  } else {
    checks[verb == "disable" ? "disabled" : "skipped"] = value;
  }
}

void ChecksReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  std::string own = s.value("checks", json::object()).value("wait-to-retire", std::string());
  std::string global = c.Global().value("checks_wait_to_retire", std::string());
  std::string computed = !own.empty() ? own : !global.empty() ? global : "60";
  if (!c.version.AtLeast(0, 38, 0)) {  // bash report, report order (v0.35.20 internal-functions)
    return PrintBashReport("checks", r.app,
                           {{"--checks-disabled-list", ListOrNone(s, "disabled")},
                            {"--checks-skipped-list", ListOrNone(s, "skipped")},
                            {"--checks-computed-wait-to-retire", computed},
                            {"--checks-global-wait-to-retire", global.empty() ? "60" : global},
                            {"--checks-wait-to-retire", own}},
                           r.format_given ? "--format" : r.info_flag);
  }
  GoReport g{.type = "checks", .app = r.app, .emit_legacy = false};
  g.flags["--checks-computed-wait-to-retire"] = computed;
  g.flags["--checks-disabled-list"] = ListOrNone(s, "disabled");
  g.flags["--checks-global-wait-to-retire"] = global;
  g.flags["--checks-skipped-list"] = ListOrNone(s, "skipped");
  g.flags["--checks-wait-to-retire"] = own;
  PrintGoReport(g, r.format, r.info_flag);
}

}  // namespace

void RegisterResourceChecks(std::map<std::string, Handler>& m, const Version& v) {
  m["resource:limit"] = [](Ctx& c) { SetResources(c, "limit"); };
  m["resource:reserve"] = [](Ctx& c) { SetResources(c, "reserve"); };
  m["resource:report"] = ResourceReport;
  m["checks:set"] = ChecksSet;
  m["checks:disable"] = [](Ctx& c) { ChecksToggle(c, "disable"); };
  m["checks:enable"] = [](Ctx& c) { ChecksToggle(c, "enable"); };
  m["checks:skip"] = [](Ctx& c) { ChecksToggle(c, "skip"); };
  m["checks:report"] = ChecksReport;
}

}  // namespace fake_dokku
