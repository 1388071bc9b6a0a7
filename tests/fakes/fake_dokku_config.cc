// config:* (plugins/config/{config,functions,subcommands,environment}.go, v0.38.27;
// the same Go code in v0.35.20). The ENV file goes through fake_dokku_env.h.
#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"

namespace fake_dokku {
namespace {

const FlagDef kGlobal{"global", true, "", "--global: use the global environment"};
const FlagDef kMerged{"merged", true, "", "--merged: merge app environment and global environment"};
const FlagDef kNoRestart{"no-restart", true, "", "--no-restart: no restart"};

bool ValidKey(const std::string& k) {
  if (k.empty() || !(isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_')) return false;
  for (char ch : k) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '_')) return false;
  }
  return true;
}

// Where the ENV text lives: an app's state or the global one.
std::string& EnvText(Ctx& c, const std::string& app) {
  json& holder = app.empty() ? c.Global() : c.Apps()[app];
  if (!holder.contains("env")) holder["env"] = "";
  return holder["env"].get_ref<std::string&>();
}

EnvMap Load(Ctx& c, const std::string& app) {
  try {
    return ParseEnv(EnvText(c, app));
  } catch (const EnvParseError& e) {
    Fail(e.message);
  }
}

void Store(Ctx& c, const std::string& app, const EnvMap& env) {
  EnvText(c, app) = MarshalEnv(env) + "\n";  // godotenv.Write adds the newline
}

// The app named by the first positional (verified), or "" for --global.
std::string Target(Ctx& c, const ParsedArgs& a) {
  if (a.Has("global")) return "";
  c.VerifyApp(a.Arg(0));
  return a.Arg(0);
}

std::vector<std::string> Rest(const ParsedArgs& a) {
  std::vector<std::string> r = a.positional;
  if (!a.Has("global") && !r.empty()) r.erase(r.begin());
  return r;
}

// base64.StdEncoding.DecodeString: the first byte that breaks it is reported.
std::string Base64Decode(const std::string& in, const std::string& key) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto bad = [&](size_t at) {
    Fail("illegal base64 data at input byte " + std::to_string(at) + " for key '" + key + "'");
  };
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    auto pos = kAlphabet.find(in[i]);
    if (pos == std::string::npos) bad(i);
    buf = (buf << 6) | static_cast<uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  size_t quantum_start = i - i % 4;
  size_t padding = in.size() - i;
  if ((i % 4 == 0 && padding != 0) || (i % 4 != 0 && i % 4 + padding != 4) || i % 4 == 1) {
    bad(quantum_start);
  }
  for (size_t j = i; j < in.size(); ++j) {
    if (in[j] != '=') bad(j);
  }
  return out;
}

// SetMany's restart: a deployed app is redeployed with the new config.
void Restart(Ctx& c, const std::string& app) {
  if (app.empty() || !c.Apps()[app].value("deployed", false)) return;
  Info1("Restarting app " + app);
  try {
    Redeploy(c, app);
  } catch (const Failure& f) {  // triggerRestart only warns: config:set still exits 0
    Warn(f.message);
    Warn("Failure while restarting app: exit status " + std::to_string(f.code));
  }
}

void Set(Ctx& c) {
  ParsedArgs a = ParseFlags(
      "config:set",
      {kGlobal, {"encoded", true, "", "--encoded: interpret VALUEs as base64"}, kNoRestart},
      c.args);
  std::string app = Target(c, a);
  std::vector<std::string> pairs = Rest(a);
  if (pairs.empty()) Fail("At least one env pair must be given");
  EnvMap updated;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos) Fail("Invalid env pair: " + p);
    std::string key = p.substr(0, eq), value = p.substr(eq + 1);
    if (a.Has("encoded")) value = Base64Decode(value, key);
    updated[key] = value;
  }
  EnvMap env = Load(c, app);
  for (const auto& [k, v] : updated) {
    if (!ValidKey(k)) Fail("Invalid key name: '" + k + "'");
  }
  for (const auto& [k, v] : updated) env[k] = v;
  Info1("Setting config vars");
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : updated) rows.push_back({k + ":", v});
  Out(Columnize(rows, "       "));
  Store(c, app, env);
  if (!a.Has("no-restart")) Restart(c, app);
}

void Unset(Ctx& c) {
  ParsedArgs a = ParseFlags("config:unset", {kGlobal, kNoRestart}, c.args);
  std::string app = Target(c, a);
  std::vector<std::string> keys = Rest(a);
  if (keys.empty()) Fail("At least one key must be given");
  EnvMap env = Load(c, app);
  for (const auto& k : keys) {
    if (!ValidKey(k)) Fail("Invalid key name: '" + k + "'");
  }
  bool changed = false;
  for (const auto& k : keys) {
    if (env.erase(k) > 0) {
      Info1("Unsetting " + k);
      changed = true;
    } else {
      Info1("Skipping " + k + ", it is not set in the environment");
    }
  }
  if (changed) Store(c, app, env);
  if (!a.Has("no-restart")) Restart(c, app);
}

void Get(Ctx& c) {
  ParsedArgs a = ParseFlags(
      "config:get", {kGlobal, {"quoted", true, "", "--quoted: get the value quoted"}}, c.args);
  std::string app = Target(c, a);
  std::vector<std::string> keys = Rest(a);
  if (keys.empty()) Fail("Expected: key");
  if (keys.size() != 1) {
    std::string extra;
    for (size_t i = 1; i < keys.size(); ++i) extra += (i > 1 ? " " : "") + keys[i];
    Fail("Unexpected argument(s): [" + extra + "]");
  }
  EnvMap env;
  try {
    env = ParseEnv(EnvText(c, app));
  } catch (const EnvParseError&) {
    throw RawFailure{"", 1};  // config.Get swallows the error: exit 1, nothing printed
  }
  auto it = env.find(keys[0]);
  if (!ValidKey(keys[0]) || it == env.end()) throw RawFailure{"", 1};
  Out(a.Has("quoted") ? "'" + SingleQuoteEscape(it->second) + "'" : it->second);
}

std::string Pretty(const EnvMap& env, const std::string& prefix) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : env) rows.push_back({k + ":", v});
  return Columnize(rows, prefix);
}

std::string Quoted(const EnvMap& env, const std::string& prefix, const std::string& sep) {
  std::string out;
  for (const auto& [k, v] : env) {
    out += (out.empty() ? "" : sep) + prefix + k + "='" + SingleQuoteEscape(v) + "'";
  }
  return out;
}

void Show(Ctx& c) {
  ParsedArgs a =
      ParseFlags("config:show",
                 {kGlobal,
                  {"merged", true, "",
                   "--merged: display the app's environment merged with the global environment"}},
                 c.args);
  std::string app = Target(c, a);
  EnvMap env = Load(c, app);
  Info2((app.empty() ? std::string("global") : app) + " env vars");
  Out(Pretty(env, ""));
}

void Keys(Ctx& c) {
  ParsedArgs a = ParseFlags("config:keys", {kGlobal, kMerged}, c.args);
  std::string app = Target(c, a);
  for (const auto& [k, v] : Load(c, app)) Out(k);
}

void Export(Ctx& c) {
  ParsedArgs a = ParseFlags(
      "config:export",
      {kGlobal,
       kMerged,
       {"format", false, "exports",
        "--format: [ docker-args | docker-args-keys | exports | envfile | json | json-list | "
        "pack-keys | pretty | shell ] which format to export as)"}},
      c.args);
  std::string app = Target(c, a);
  EnvMap env = Load(c, app);
  std::string format = a.Get("format", "exports");
  if (format == "exports") {
    OutRaw(Quoted(env, "export ", "\n") + "\n");
  } else if (format == "envfile") {
    OutRaw(MarshalEnv(env) + "\n");
  } else if (format == "docker-args") {
    OutRaw(Quoted(env, "--env=", " ") + "\n");
  } else if (format == "docker-args-keys" || format == "pack-keys") {
    std::string out;
    for (const auto& [k, v] : env) {
      out +=
          (out.empty() ? "" : " ") + std::string(format == "pack-keys" ? "--env " : "--env=") + k;
    }
    OutRaw(out + "\n");
  } else if (format == "shell") {
    OutRaw(Quoted(env, "", " ") + " ");
  } else if (format == "pretty") {
    OutRaw(Pretty(env, "") + "\n");
  } else if (format == "json") {
    OutRaw(GoJson(json(env)) + "\n");
  } else if (format == "json-list") {
    json list = json::array();
    for (const auto& [k, v] : env) list.push_back({{"name", k}, {"value", v}});
    OutRaw((env.empty() ? std::string("null") : GoJson(list)) + "\n");
  } else {
    Fail("Unknown export format: " + format);
  }
}

}  // namespace

void RegisterConfig(std::map<std::string, Handler>& m, const Version& v) {
  m["config:set"] = Set;
  m["config:unset"] = Unset;
  m["config:get"] = Get;
  m["config:show"] = Show;
  m["config"] = Show;
  m["config:keys"] = Keys;
  m["config:export"] = Export;
}

}  // namespace fake_dokku
