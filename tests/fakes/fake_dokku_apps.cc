// apps:* and the proxy rebuild other plugins trigger.
// Sources: plugins/apps/{subcommands,functions,report}.go, plugins/domains
// post-create, plugins/nginx-vhosts/functions (nginx_build_config) at v0.38.27
// and v0.35.20.
#include <algorithm>
#include <filesystem>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace {

// The transcript's `-----> Configuring` order (nginx-vhosts runs `sort -u` on the
// vhost list): observed as by what follows the first label, then the whole name.
std::vector<std::string> ConfigureOrder(std::vector<std::string> hosts) {
  auto key = [](const std::string& h) {
    auto dot = h.find('.');
    return std::make_pair(dot == std::string::npos ? h : h.substr(dot + 1), h);
  };
  std::sort(hosts.begin(), hosts.end(),
            [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  return hosts;
}

void Create(Ctx& c) {
  ParsedArgs a = ParseFlags("apps:create", {}, c.args);
  const std::string app = a.Arg(0);
  if (app.empty()) Fail("Please specify an app to run the command on");
  // apps/functions.go createApp: only the current name rule applies here.
  if (auto err = AppNameError(c.version, app, /*new_rule_only=*/true)) Fail(*err);
  if (c.AppExists(app)) Fail("Name is already taken");
  Info1("Creating " + app + "...");
  json& s = c.Apps()[app];
  s = json::object();
  s["created_at"] = c.now;
  s["env"] = "";
  s["vhosts"] = json::array();
  s["vhost_enabled"] = true;
  s["deployed"] = false;
  s["scale"] = json::array({"web=1"});  // the formation a new app starts with
  // domains post-create: the app vhost from the global one, or none (NO_VHOST=1
  // and a random host port, through ports' trigger).
  std::string global = c.GlobalVhost();
  if (!global.empty()) {
    Info1("Creating new app virtual host file...");
    s["vhosts"].push_back(app + "." + global);
    ProxyRebuild(c, app, true);
  } else {
    Info1("Global server virtual host not set, disabling app vhost...");
    s["vhost_enabled"] = false;
    EnvMap env;
    env["NO_VHOST"] = "1";
    s["env"] = MarshalEnv(env) + "\n";
    Info1("No port set, setting to random open high port");
    int port = c.random_port ? *c.random_port : 40000 + static_cast<int>(c.now % 20000);
    s["random_port"] = port;
    Info1("Random port " + std::to_string(port));
    ProxyRebuild(c, app, true);
    ProxyRebuild(c, app, true);
  }
}

void Exists(Ctx& c) {
  ParsedArgs a = ParseFlags("apps:exists", {}, c.args);
  c.VerifyApp(a.Arg(0));
}

void List(Ctx& c) {
  std::vector<FlagDef> defs;
  if (c.version.AtLeast(0, 38, 21))
    defs.push_back({"format", false, "stdout", "format: [ stdout | json ]"});
  ParsedArgs a = ParseFlags("apps:list", defs, c.args);
  std::vector<std::string> names;
  for (const auto& [name, app] : c.Apps().items()) names.push_back(name);
  if (a.Get("format", "stdout") == "json") {
    Out(json(names).dump());
    return;
  }
  Info2("My Apps");
  if (names.empty()) Warn("You haven't deployed any applications yet");
  for (const auto& n : names) Out(n);
}

void Report(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  GoReport g{.type = "app", .app = r.app};
  g.flags["--app-created-at"] = std::to_string(s.value("created_at", int64_t{0}));
  g.flags["--app-deploy-source"] = s.value("deploy_source", "");
  g.flags["--app-deploy-source-metadata"] = s.value("deploy_source_metadata", "");
  g.flags["--app-dir"] = "/home/dokku/" + r.app;
  g.flags["--app-locked"] = "false";
  if (c.version.AtLeast(0, 38, 0)) g.flags["--app-global-disable-autocreation"] = "";
  // 0.38.8 made the Go reports emit unprefixed keys beside the legacy ones.
  g.trim_prefix = g.emit_legacy = c.version.AtLeast(0, 38, 8);
  PrintGoReport(g, r.format, r.info_flag);
}

void Destroy(Ctx& c) {
  ParsedArgs a = ParseFlags(
      "apps:destroy", {{"force", true, "", "--force: force destroy without confirmation"}}, c.args);
  const std::string app = a.Arg(0);
  c.VerifyApp(app);
  if (!a.Has("force")) {
    // common.AskForDestructiveConfirmation reads one word with fmt.Scanln.
    Warn("WARNING: Potentially Destructive Action");
    Warn("This command will destroy app " + app + ".");
    Warn("To proceed, type \"" + app + "\"");
    OutRaw("> ");
    std::string input = c.ReadStdin();
    if (input.empty()) Fail("EOF");
    std::string word = input.substr(0, input.find_first_of(" \n"));
    if (word != app) throw RawFailure{"Confirmation did not match test. Aborted.\n", 1};
  }
  Info1("Destroying " + app + " (including all add-ons)");
  Info1("Cleaning up...");
  Info1("Retiring old containers and images");
  DestroyAppState(c, app);
}

}  // namespace

std::string ProxyRebuild(Ctx& c, const std::string& app, bool warn_no_listeners) {
  json& s = c.Apps()[app];
  std::vector<std::string> ports;
  for (const auto& p : s.value("ports", json::array())) {
    ports.push_back(p.value("scheme", "") + ":" + std::to_string(p.value("host_port", 0)) + ":" +
                    std::to_string(p.value("container_port", 0)));
  }
  for (const auto& p : ports) {
    if (p.rfind("https:", 0) == 0) {
      Warn("Ignoring detected https port mapping without an accompanying ssl certificate (" + p +
           ")");
    }
  }
  bool deployed = s.value("deployed", false);
  if (!deployed && warn_no_listeners) Warn("No web listeners specified for " + app);
  if (s.value("vhost_enabled", true)) {
    std::vector<std::string> hosts;
    for (const auto& h : s["vhosts"]) hosts.push_back(h.get<std::string>());
    for (const auto& h : ConfigureOrder(hosts)) {
      Info1("Configuring " + h + "...(using built-in template)");
    }
  }
  Info1("Creating http nginx.conf");
  Verbose("Reloading nginx");
  return "";
}

void DestroyAppState(Ctx& c, const std::string& app) {
  c.Apps().erase(app);
  std::error_code ec;
  std::filesystem::remove_all(c.state_dir + "/src/" + app, ec);   // run's copy of the source
  std::filesystem::remove_all(c.state_dir + "/home/" + app, ec);  // $DOKKU_ROOT/APP (certs)
  // Linked services forget the app (dokku-postgres/redis post-delete hooks).
  if (c.Global().contains("services")) {
    for (auto& [kind, services] : c.Global()["services"].items()) {
      for (auto& [name, svc] : services.items()) {
        if (!svc.contains("links")) continue;
        json links = json::array();
        for (const auto& l : svc["links"]) {
          if (l != app) links.push_back(l);
        }
        svc["links"] = links;
      }
    }
  }
}

void RegisterApps(std::map<std::string, Handler>& m, const Version& v) {
  m["apps:create"] = Create;
  m["apps:exists"] = Exists;
  m["apps:list"] = List;
  m["apps"] = List;
  m["apps:report"] = Report;
  m["apps:destroy"] = Destroy;
}

}  // namespace fake_dokku
