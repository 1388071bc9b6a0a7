// domains:* (plugins/domains/{functions,internal-functions,subcommands}) and
// ports:* (plugins/ports/{functions,subcommands,report}.go), v0.38.27 and v0.35.20.
#include <algorithm>
#include <set>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace {

// is_valid_hostname: lowercased, ^[a-z0-9.*-]*[a-z0-9*-]$, or "_".
bool ValidHostname(std::string h) {
  std::transform(h.begin(), h.end(), h.begin(), ::tolower);
  if (h == "_") return true;
  if (h.empty()) return false;
  auto ok = [](char ch, bool last) {
    return isalnum(static_cast<unsigned char>(ch)) || ch == '*' || ch == '-' ||
           (!last && ch == '.');
  };
  for (size_t i = 0; i < h.size(); ++i) {
    if (!ok(h[i], i + 1 == h.size())) return false;
  }
  return true;
}

std::vector<std::string> Vhosts(const json& s) {
  std::vector<std::string> out;
  for (const auto& h : s.value("vhosts", json::array())) out.push_back(h.get<std::string>());
  return out;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

void DomainsAdd(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  std::vector<std::string> domains(c.args.begin() + 1, c.args.end());
  if (domains.empty()) {
    Fail("Please specify a domain name. Usage: dokku " + app + "  <domain> [<domain> ...]");
  }
  for (const auto& d : domains) {
    if (!ValidHostname(d)) Fail(d + " is invalid. exiting...");
  }
  auto hosts = Vhosts(s);
  for (const auto& d : domains) {
    if (std::find(hosts.begin(), hosts.end(), d) != hosts.end()) {
      Info1("Skipping: " + d + " already added to " + app);
    } else {
      s["vhosts"].push_back(d);
      hosts.push_back(d);
      Info1("Added " + d + " to " + app);
    }
  }
  s["vhost_enabled"] = true;
  ProxyRebuild(c, app, true);
}

void DomainsRemove(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  if (c.args.size() < 2) {
    Fail("Please specify a domain name. Usage: dokku " + app + "  <domain> [<domain> ...]");
  }
  for (size_t i = 1; i < c.args.size(); ++i) {
    json kept = json::array();
    for (const auto& h : s["vhosts"]) {
      if (h != c.args[i]) kept.push_back(h);
    }
    s["vhosts"] = kept;
    Info1("Removed " + c.args[i] + " from " + app);
  }
  ProxyRebuild(c, app, true);
}

void DomainsReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  std::string global = c.GlobalVhost();
  std::vector<std::pair<std::string, std::string>> flags;
  if (r.app != "--global") {
    json& s = c.VerifyApp(r.app);
    flags.emplace_back("--domains-app-enabled", s.value("vhost_enabled", true) ? "true" : "false");
    flags.emplace_back("--domains-app-vhosts", Join(Vhosts(s), " "));
  }
  flags.emplace_back("--domains-global-enabled", global.empty() ? "false" : "true");
  flags.emplace_back("--domains-global-vhosts", global);
  if (!c.version.AtLeast(0, 38, 0)) {  // bash report in 0.35 (plugins/domains/internal-functions)
    if (r.format_given)
      Fail(
          "Invalid flag passed, valid flags: --domains-app-enabled --domains-app-vhosts "
          "--domains-global-enabled --domains-global-vhosts");
    return PrintBashReport("domains", r.app, flags, r.info_flag);
  }
  GoReport g{.type = "domains", .app = r.app, .flags = {flags.begin(), flags.end()}};
  g.emit_legacy = false;  // domains and checks keep unprefixed keys only
  PrintGoReport(g, r.format, r.info_flag);
}

// parsePortMapString: "scheme:host:container", or a bare host port.
json ParsePortMaps(const std::vector<std::string>& specs) {
  json maps = json::array();
  auto atoi_err = [](const std::string& v, const std::string& part) {
    long long n = 0;
    if (GoAtoi(part, &n)) return std::string();
    bool digits = !part.empty() && std::all_of(part.begin() + (part[0] == '-' || part[0] == '+'),
                                               part.end(), ::isdigit);
    return "Invalid port map " + v + " [err=strconv.Atoi: parsing \"" + part +
           "\": " + (digits && part.size() > 1 ? "value out of range" : "invalid syntax") + "]";
  };
  for (const auto& v : specs) {
    std::vector<std::string> parts;
    size_t pos = 0;
    while (parts.size() < 2) {
      size_t colon = v.find(':', pos);
      if (colon == std::string::npos) break;
      parts.push_back(v.substr(pos, colon - pos));
      pos = colon + 1;
    }
    parts.push_back(v.substr(pos));
    if (parts.size() == 1) {
      if (auto e = atoi_err(v, v); !e.empty()) Fail(e);
      maps.push_back(
          {{"scheme", "__internal__"}, {"host_port", std::stoi(v)}, {"container_port", 0}});
      continue;
    }
    if (parts.size() != 3)
      Fail("Invalid port map " + v + " [len=" + std::to_string(parts.size()) + "]");
    for (int i : {1, 2}) {
      if (auto e = atoi_err(v, parts[i]); !e.empty()) Fail(e);
    }
    int host = std::stoi(parts[1]), container = std::stoi(parts[2]);
    if (host < 0 || host >= 65536) Fail("Invalid port map " + v + " [hostPort=" + parts[1] + "]");
    if (container < 0 || container >= 65536) {
      Fail("Invalid port map " + v + " [containerPort=" + parts[2] + "]");
    }
    maps.push_back({{"scheme", parts[0]}, {"host_port", host}, {"container_port", container}});
  }
  return maps;
}

std::string MapString(const json& maps) {
  std::vector<std::string> out;
  for (const auto& m : maps) {
    out.push_back(m.value("scheme", "") + ":" + std::to_string(m.value("host_port", 0)) + ":" +
                  std::to_string(m.value("container_port", 0)));
  }
  return Join(out, " ");
}

// What the ports plugin detects without a set map: a random port for apps
// without a vhost, else http:80:5000.
json DetectedMaps(const json& s) {
  if (!s.value("ports", json::array()).empty()) return s["ports"];
  int host = s.contains("random_port") ? s["random_port"].get<int>() : 80;
  json detected = json::array();
  detected.push_back({{"scheme", "http"}, {"host_port", host}, {"container_port", 5000}});
  return detected;
}

void PortsSet(Ctx& c) {
  ParsedArgs a = ParseFlags("ports:set", {}, c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  std::vector<std::string> specs(a.positional.begin() + 1, a.positional.end());
  if (specs.empty()) Fail("No port mapping specified");
  json maps = ParsePortMaps(specs);
  // reusesSchemeHostPort, then setPortMaps: bare host ports (__internal__)
  // are not kept, the rest stored sorted by their "scheme:host:container"
  // text (sort.Strings; plugins/ports/{subcommands,functions}.go @ v0.35.20
  // and @ v0.38.27).
  std::set<std::string> seen;
  std::vector<std::pair<std::string, json>> kept;
  for (const auto& m : maps) {
    const std::string key = m.value("scheme", "") + ":" + std::to_string(m.value("host_port", 0));
    if (!seen.insert(key).second) {
      Fail("Error validating port mappings: The same scheme:host-port is being reused: " + key);
    }
    if (m.value("scheme", "") != "__internal__") kept.emplace_back(MapString(json::array({m})), m);
  }
  std::sort(kept.begin(), kept.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  json stored = json::array();
  for (const auto& [text, m] : kept) stored.push_back(m);
  s["ports"] = stored;
  ProxyRebuild(c, app, true);
}

void PortsList(Ctx& c) {
  ParsedArgs a = ParseFlags("ports:list", {}, c.args);
  const std::string app = a.Arg(0);
  json& s = c.VerifyApp(app);
  json maps = s.value("ports", json::array());
  if (maps.empty()) Fail("No port mappings configured for app");
  Info1("Port mappings for " + app);
  std::vector<std::vector<std::string>> rows = {{"-----> scheme", "host port", "container port"}};
  for (const auto& m : maps) {
    rows.push_back({m.value("scheme", ""), std::to_string(m.value("host_port", 0)),
                    std::to_string(m.value("container_port", 0))});
  }
  Out(Columnize(rows, "    "));
}

void PortsReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  json maps = s.value("ports", json::array());
  GoReport g{.type = "ports", .app = r.app};
  g.flags["--ports-map"] = MapString(maps);
  g.flags["--ports-map-detected"] = MapString(DetectedMaps(s));
  if (c.version.AtLeast(0, 38, 26)) {
    g.flags["--ports-map-json"] = maps.empty() ? "null" : maps.dump();
    g.flags["--ports-map-detected-json"] = DetectedMaps(s).dump();
  }
  g.trim_prefix = g.emit_legacy = c.version.AtLeast(0, 38, 8);
  PrintGoReport(g, r.format, r.info_flag);
}

}  // namespace

void RegisterDomainsPorts(std::map<std::string, Handler>& m, const Version& v) {
  m["domains:add"] = DomainsAdd;
  m["domains:remove"] = DomainsRemove;
  m["domains:report"] = DomainsReport;
  m["ports:set"] = PortsSet;
  m["ports:list"] = PortsList;
  m["ports:report"] = PortsReport;
}

}  // namespace fake_dokku
