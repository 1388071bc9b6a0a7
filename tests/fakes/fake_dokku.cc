// fake_dokku: the Dokku test double's entry point (see README.md beside it).
#include "tests/fakes/fake_dokku.h"

#include "tests/fakes/fake_dokku_env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

namespace fake_dokku {

bool Version::AtLeast(int a, int b, int c) const {
  if (major != a) return major > a;
  if (minor != b) return minor > b;
  return patch >= c;
}

std::string Version::String() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> ParseVersion(const std::string& text) {
  Version v;
  char dot1 = 0, dot2 = 0;
  std::istringstream in(text);
  if (!(in >> v.major >> dot1 >> v.minor >> dot2 >> v.patch) || dot1 != '.' || dot2 != '.') {
    return std::nullopt;
  }
  return v;
}

void Fail(const std::string& message, int code) { throw Failure{message, code}; }

void OutRaw(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}
void Out(const std::string& text) { OutRaw(text + "\n"); }
void Info1(const std::string& text) { Out("-----> " + text); }
void Info2(const std::string& text) { Out("=====> " + text); }
void Verbose(const std::string& text) { Out("       " + text); }
void Warn(const std::string& text) {
  std::string line = " !     " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::string ParsedArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

namespace {

// pflag's FlagUsages: "      --name type", padded, three spaces, the usage,
// a non-zero string default as (default "x").
std::string FlagTable(const std::vector<FlagDef>& defs) {
  std::vector<FlagDef> sorted = defs;
  std::sort(sorted.begin(), sorted.end(),
            [](const FlagDef& a, const FlagDef& b) { return a.name < b.name; });
  std::vector<std::pair<std::string, std::string>> lines;
  size_t maxlen = 0;
  for (const auto& d : sorted) {
    std::string head = "      --" + d.name + (d.is_bool ? "" : " string");
    if (!d.is_bool && d.default_value.size() > 0 &&
        std::all_of(d.default_value.begin(), d.default_value.end(), ::isdigit)) {
      head = "      --" + d.name + " int";
    }
    maxlen = std::max(maxlen, head.size() + 1);
    std::string usage = d.usage;
    if (!d.default_value.empty() && d.default_value != "false" && d.default_value != "0") {
      bool numeric = std::all_of(d.default_value.begin(), d.default_value.end(), ::isdigit);
      usage +=
          numeric ? " (default " + d.default_value + ")" : " (default \"" + d.default_value + "\")";
    }
    lines.emplace_back(head, usage);
  }
  std::string out;
  for (const auto& [head, usage] : lines) {
    out += head + " " + std::string(maxlen - head.size(), ' ') + " " + usage + "\n";
  }
  return out;
}

}  // namespace

ParsedArgs ParseFlags(const std::string& command, const std::vector<FlagDef>& defs,
                      const std::vector<std::string>& args) {
  auto usage_fail = [&](const std::string& error) {
    throw RawFailure{"Usage of " + command + ":\n" + FlagTable(defs) + error + "\n", 2};
  };
  auto find = [&](const std::string& name) -> const FlagDef* {
    for (const auto& d : defs) {
      if (d.name == name) return &d;
    }
    return nullptr;
  };
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      out.positional.insert(out.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a[1] != '-') usage_fail("unknown shorthand flag: '" + a.substr(1, 1) + "' in " + a);
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagDef* d = find(name);
    if (d == nullptr) usage_fail("unknown flag: --" + name);
    if (d->is_bool) {
      out.values[name] = has_value ? value : "true";
    } else if (has_value) {
      out.values[name] = value;
    } else if (i + 1 < args.size()) {
      out.values[name] = args[++i];
    } else {
      usage_fail("flag needs an argument: --" + name);
    }
  }
  return out;
}

std::optional<std::string> AppNameError(const Version& v, const std::string& app,
                                        bool new_rule_only) {
  auto rule = [](const std::string& s, const std::string& allowed, const std::string& banned) {
    if (s.empty() || !(islower(static_cast<unsigned char>(s[0])) || isdigit(s[0]))) return false;
    for (char c : s.substr(1)) {
      bool ok = allowed.empty() ? banned.find(c) == std::string::npos && !isupper(c)
                                : (islower(static_cast<unsigned char>(c)) || isdigit(c) ||
                                   allowed.find(c) != std::string::npos);
      if (!ok) return false;
    }
    return true;
  };
  if (app.empty()) return "Please specify an app to run the command on";
  // plugins/common/common.go IsValidAppName / IsValidAppNameOld, per version.
  if (v.AtLeast(0, 36, 0)) {
    if (rule(app, ".-", "") || (!new_rule_only && rule(app, "._-", ""))) return std::nullopt;
    return "App name must begin with lowercase alphanumeric character, and may only contain "
           "lowercase alphanumerics, dots, and hyphens";
  }
  if (rule(app, "", "/:_") || (!new_rule_only && rule(app, "", "/:"))) return std::nullopt;
  return "App name must begin with lowercase alphanumeric character, and cannot include "
         "uppercase characters, colons, or underscores";
}

json& Ctx::VerifyApp(const std::string& app) {
  if (auto err = AppNameError(version, app)) Fail(*err);
  if (!AppExists(app)) Fail("App " + app + " does not exist", 20);
  return Apps()[app];
}

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fallback;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Ctx::GlobalVhost() const {
  std::string v = ReadFileOr(state_dir + "/VHOST", "");
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::string Ctx::ReadStdin() {
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = read(0, buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
  return data;
}

std::string Ctx::NewId(size_t len) {
  uint64_t counter = state.value("counter", uint64_t{0}) + 1;
  state["counter"] = counter;
  std::string out;
  uint64_t x = counter * 0x9E3779B97F4A7C15ull;
  while (out.size() < len) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(x));
    out += hex;
  }
  return out.substr(0, len);
}

std::string GoJson(const json& j) {
  if (j.is_object()) {
    std::string out = "{";
    for (auto it = j.begin(); it != j.end(); ++it) {
      out += (it == j.begin() ? "" : ",") + GoJson(it.key()) + ":" + GoJson(it.value());
    }
    return out + "}";
  }
  if (j.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i ? "," : "") + GoJson(j[i]);
    return out + "]";
  }
  if (!j.is_string()) return j.dump();
  const std::string& s = j.get_ref<const std::string&>();
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    char hex[8];
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
      std::snprintf(hex, sizeof(hex), "\\u%04x", ch);
      out += hex;
    } else if (ch == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

namespace {

int Run(Ctx& c) {
  std::map<std::string, Handler> commands;
  commands["version"] = [](Ctx& c) { Out("dokku version " + c.version.String()); };
  commands["--version"] = commands["version"];
  RegisterApps(commands, c.version);
  RegisterConfig(commands, c.version);
  RegisterPs(commands, c.version);
  RegisterDeploy(commands, c.version);
  RegisterLogsRun(commands, c.version);
  RegisterDomainsPorts(commands, c.version);
  RegisterStorage(commands, c.version);
  RegisterResourceChecks(commands, c.version);
  RegisterServices(commands, c.version);
  RegisterCerts(commands, c.version);
  auto it = commands.find(c.command);
  if (it == commands.end()) {
    // The `dokku` dispatcher (dokku, the script at the repository root).
    Fail("`" + c.command +
         "` is not a dokku command.\nSee `dokku help` for a list of available "
         "commands.");
  }
  it->second(c);
  return 0;
}

void AppendLog(const std::string& dir, int argc, char** argv, int code) {
  json entry;
  entry["argv"] = json::array();
  for (int i = 0; i < argc; ++i) entry["argv"].push_back(argv[i]);
  entry["exit_code"] = code;
  std::ofstream(dir + "/argv.log", std::ios::app) << entry.dump() << "\n";
}

void PrintFailure(const std::string& message) {
  std::istringstream in(message);
  std::string line;
  while (std::getline(in, line)) Warn(line);
}

}  // namespace
}  // namespace fake_dokku

int main(int argc, char** argv) {
  using namespace fake_dokku;
  const char* dir = std::getenv("FAKE_DOKKU_STATE");
  if (dir == nullptr || *dir == '\0') {
    std::fprintf(stderr, "fake_dokku: set FAKE_DOKKU_STATE to the state directory\n");
    return 1;
  }
  Ctx c;
  c.state_dir = dir;
  const char* version = std::getenv("FAKE_DOKKU_VERSION");
  auto parsed = ParseVersion(version != nullptr ? version : "0.38.27");
  if (!parsed) {
    std::fprintf(stderr, "fake_dokku: FAKE_DOKKU_VERSION \"%s\" is not X.Y.Z\n", version);
    return 1;
  }
  c.version = *parsed;
  const char* now = std::getenv("FAKE_DOKKU_NOW");
  c.now = now != nullptr ? std::atoll(now) : static_cast<int64_t>(std::time(nullptr));
  if (const char* port = std::getenv("FAKE_DOKKU_RANDOM_PORT")) c.random_port = std::atoi(port);
  int lock = open((c.state_dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) {
    std::fprintf(stderr, "fake_dokku: cannot lock %s/lock\n", dir);
    return 1;
  }
  const std::string state_path = c.state_dir + "/state.json";
  c.state = json::parse(ReadFileOr(state_path, "{}"), nullptr, false);
  if (!c.state.is_object()) c.state = json::object();
  if (!c.state.contains("apps")) c.state["apps"] = json::object();
  if (!c.state.contains("global")) c.state["global"] = json::object();
  const std::string before = c.state.dump();
  if (argc > 1) c.command = argv[1];
  for (int i = 2; i < argc; ++i) c.args.push_back(argv[i]);

  int code = 0;
  try {
    code = argc > 1 ? Run(c)
                    : (Out("Usage: dokku [--quiet|--trace|--force] COMMAND <app> "
                           "[command-specific-options]"),
                       0);
  } catch (const Failure& f) {
    PrintFailure(f.message);
    code = f.code;
  } catch (const EnvParseError& e) {
    PrintFailure(e.message);
    code = 1;
  } catch (const RawFailure& f) {
    std::fwrite(f.text.data(), 1, f.text.size(), stderr);
    code = f.code;
  }
  if (c.state.dump() != before) {  // written back only when the command changed it
    std::string tmp = state_path + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << c.state.dump(1) << "\n";
    std::rename(tmp.c_str(), state_path.c_str());
  }
  AppendLog(c.state_dir, argc, argv, code);
  return code;
}
