// The postgres, redis and mysql service plugins (github.com/dokku/dokku-postgres,
// dokku-redis and dokku-mysql: common-functions service_create/service_link/
// service_unlink/service_info/service_list/service_port_expose, functions
// service_url, subcommands/*). Present unless FAKE_DOKKU_PLUGINS leaves them
// out. dokku-mysql (config: PLUGIN_SCHEME=mysql, PLUGIN_DATASTORE_PORTS=(3306),
// PLUGIN_DEFAULT_ALIAS=DATABASE; tests/service_link.bats "exports DATABASE_URL
// to app"): mysql://mysql:PASSWORD@dokku-mysql-NAME:3306/NAME.
#include <cstdlib>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"

namespace fake_dokku {
namespace {

struct Plugin {
  std::string prefix;   // postgres
  std::string service;  // Postgres
  std::string alias;    // DATABASE
  int port;
  std::string user;     // the DSN's user: postgres, mysql; none for redis
  std::string version;  // the default image (--version)
};

bool ValidServiceName(const std::string& n) {
  if (n.empty()) return false;
  for (char ch : n) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) return false;
  }
  return true;
}

std::string DnsName(const Plugin& p, const std::string& name) {
  std::string h = "dokku." + p.prefix + "." + name;
  for (char& ch : h) {
    if (ch == '.' || ch == '_') ch = '-';
  }
  return h;
}

std::string Url(const Plugin& p, const std::string& name, const json& svc) {
  std::string password = svc.value("password", "");
  if (p.prefix == "redis") {
    return "redis://:" + password + "@" + DnsName(p, name) + ":" + std::to_string(p.port);
  }
  return p.prefix + "://" + p.user + ":" + password + "@" + DnsName(p, name) + ":" +
         std::to_string(p.port) + "/" + name;
}

json& Services(Ctx& c, const Plugin& p) {
  json& all = c.Global()["services"];
  if (!all.contains(p.prefix)) all[p.prefix] = json::object();
  return all[p.prefix];
}

json& VerifyService(Ctx& c, const Plugin& p, const std::string& name) {
  if (name.empty()) Fail("Please specify a valid name for the service");
  json& all = Services(c, p);
  if (!all.contains(name)) Fail(p.service + " service " + name + " does not exist");
  return all[name];
}

std::string Arg(const Ctx& c, size_t i) { return i < c.args.size() ? c.args[i] : ""; }

void Info(Ctx& c, const Plugin& p);

void Create(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0);
  if (!ValidServiceName(name)) {
    Fail("Please specify a valid name for the service. Valid characters are: [A-Za-z0-9_]+");
  }
  json& all = Services(c, p);
  if (all.contains(name)) Fail(p.service + " service " + name + " already exists");
  all[name] = {{"password", c.NewId(32)}, {"links", json::array()}, {"id", c.NewId(64)}};
  Verbose("Waiting for container to be ready");
  if (p.prefix == "postgres") {
    Verbose("Creating container database");
    Verbose("Securing connection to database");
  }
  Info2(p.service + " container created: " + name);
  // service_create_container (dokku-postgres/dokku-redis/dokku-mysql
  // `functions`) ends with service_info: the report, its Dsn with the password.
  c.args.resize(1);
  Info(c, p);
}

void SetAppUrl(Ctx& c, const std::string& app, const std::string& key, const std::string& url,
               bool set) {
  json& s = c.Apps()[app];
  EnvMap env = ParseEnv(s.value("env", ""));
  if (set) {
    Info1("Setting config vars");
    Out(Columnize({{key + ":", url}}, "       "));
    env[key] = url;
  } else {
    Info1("Unsetting " + key);
    env.erase(key);
  }
  s["env"] = MarshalEnv(env) + "\n";
  if (s.value("deployed", false)) {
    Info1("Restarting app " + app);
    Redeploy(c, app);
  }
}

void Link(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0), app = Arg(c, 1);
  json& svc = VerifyService(c, p, name);
  json& s = c.VerifyApp(app);
  std::string url = Url(p, name, svc);
  EnvMap env = ParseEnv(s.value("env", ""));
  for (const auto& [k, v] : env) {
    if (v == url) Fail("Already linked as " + k);
  }
  std::string key = p.alias + "_URL";
  if (env.count(key)) key = "DOKKU_" + p.prefix + "_" + name + "_URL";  // service_alternative_alias
  svc["links"].push_back(app);
  SetAppUrl(c, app, key, url, true);
}

void Unlink(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0), app = Arg(c, 1);
  json& svc = VerifyService(c, p, name);
  json& s = c.VerifyApp(app);
  std::string url = Url(p, name, svc);
  json links = json::array();
  for (const auto& l : svc["links"]) {
    if (l != app) links.push_back(l);
  }
  svc["links"] = links;
  std::string key;
  for (const auto& [k, v] : ParseEnv(s.value("env", ""))) {
    if (v == url) key = k;
  }
  if (key.empty()) Fail("Not linked to app " + app);
  SetAppUrl(c, app, key, url, false);
}

void Destroy(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0);
  json& svc = VerifyService(c, p, name);
  if (!svc["links"].empty()) Fail("Cannot delete linked service");
  std::string force = Arg(c, 1);
  if (force != "-f" && force != "--force" && force != "force") {
    Warn("WARNING: Potentially Destructive Action");
    Warn("This command will destroy " + name + " " + p.service + " service.");
    Warn("To proceed, type \"" + name + "\"");
    OutRaw("\n> ");
    std::string input = c.ReadStdin();
    if (input.substr(0, input.find('\n')) != name) {
      Fail("Confirmation did not match " + name + ". Aborted.");
    }
  }
  Info2("Deleting " + name);
  Verbose("Removing container");
  Verbose("Removing data");
  Services(c, p).erase(name);
  Info2(p.service + " container deleted: " + name);
}

void Info(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0);
  json& svc = VerifyService(c, p, name);
  std::string root = "/var/lib/dokku/services/" + p.prefix + "/" + name;
  std::string links;
  for (const auto& l : svc["links"]) links += (links.empty() ? "" : " ") + l.get<std::string>();
  std::string exposed = "-";
  if (svc.contains("exposed"))
    exposed = std::to_string(p.port) + "->" + std::to_string(svc["exposed"].get<int>()) + " ";
  std::vector<std::pair<std::string, std::string>> flags = {
      {"--config-dir", root + "/" + (p.prefix == "postgres" ? "data" : "config")},
      {"--config-options", ""},
      {"--data-dir", root + "/data"},
      {"--dsn", Url(p, name, svc)},
      {"--exposed-ports", exposed},
      {"--id", svc.value("id", "")},
      {"--internal-ip", "172.17.0.2"},
      {"--initial-network", ""},
      {"--links", links},
      {"--post-create-network", ""},
      {"--post-start-network", ""},
      {"--service-root", root},
      {"--status", "running"},
      {"--version", p.version}};
  const std::string flag = Arg(c, 1);
  if (flag.empty()) {
    Info2(name + " " + p.prefix + " service information");
    for (const auto& [k, v] : flags) {
      std::string label = k.substr(2) + ":";
      for (char& ch : label) ch = ch == '-' ? ' ' : ch;
      label[0] = static_cast<char>(toupper(label[0]));
      auto pad = [](std::string s, size_t n) {
        return s.size() < n ? s + std::string(n - s.size(), ' ') : s;
      };
      Verbose(pad(label, 20) + " " + pad(v, 25));
    }
    return;
  }
  std::string valid;
  for (const auto& [k, v] : flags) {
    valid += " " + k;
    if (k == flag) return Out(v);
  }
  Fail("Invalid flag passed, valid flags:" + valid);
}

void List(Ctx& c, const Plugin& p) {
  json& all = Services(c, p);
  if (all.empty()) return Warn("There are no " + p.service + " services");
  Info2(p.service + " services");
  for (const auto& [name, svc] : all.items()) Out(name);
}

void Expose(Ctx& c, const Plugin& p) {
  const std::string name = Arg(c, 0);
  json& svc = VerifyService(c, p, name);
  if (svc.contains("exposed")) {
    Fail("Service " + name + " already exposed on port(s) " +
         std::to_string(svc["exposed"].get<int>()));
  }
  int port = c.args.size() > 1
                 ? std::atoi(c.args[1].c_str())
                 : (c.random_port ? *c.random_port : 30000 + static_cast<int>(c.now % 20000));
  svc["exposed"] = port;
  Info1("Service " + name + " exposed on port(s) [container->host]: " + std::to_string(p.port) +
        "->" + std::to_string(port) + " ");
}

void Register(std::map<std::string, Handler>& m, const Plugin& p) {
  m[p.prefix + ":create"] = [p](Ctx& c) { Create(c, p); };
  m[p.prefix + ":link"] = [p](Ctx& c) { Link(c, p); };
  m[p.prefix + ":unlink"] = [p](Ctx& c) { Unlink(c, p); };
  m[p.prefix + ":destroy"] = [p](Ctx& c) { Destroy(c, p); };
  m[p.prefix + ":info"] = [p](Ctx& c) { Info(c, p); };
  m[p.prefix + ":list"] = [p](Ctx& c) { List(c, p); };
  m[p.prefix + ":expose"] = [p](Ctx& c) { Expose(c, p); };
  m[p.prefix + ":exists"] = [p](Ctx& c) {
    VerifyService(c, p, Arg(c, 0));
    Info1("Service " + Arg(c, 0) + " exists");
  };
}

}  // namespace

void RegisterServices(std::map<std::string, Handler>& m, const Version& v) {
  const char* plugins = std::getenv("FAKE_DOKKU_PLUGINS");
  std::string list = plugins != nullptr ? plugins : "postgres,redis,mysql";
  const Plugin table[] = {
      {"postgres", "Postgres", "DATABASE", 5432, "postgres", "postgres:18.1"},
      {"redis", "Redis", "REDIS", 6379, "", "redis:8.4.0"},
      {"mysql", "MySQL", "DATABASE", 3306, "mysql", "mysql:9.5.0"},
  };
  for (const Plugin& p : table) {
    if (list.find(p.prefix) != std::string::npos) Register(m, p);
  }
}

}  // namespace fake_dokku
