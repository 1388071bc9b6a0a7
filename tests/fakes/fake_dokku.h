// The Dokku test double: what its parts share (see README.md beside it).
//
// One invocation is one Dokku command. It takes an exclusive lock on the state
// directory ($FAKE_DOKKU_STATE), loads state.json, runs the command, writes the
// state back when the command changed it, and exits with Dokku's exit code.
// Output is written as it is produced: stdout for `----->`/`=====>`/verbose
// lines and values, stderr for ` !     ` lines, as Dokku does.
#ifndef DFLOW_TESTS_FAKES_FAKE_DOKKU_H_
#define DFLOW_TESTS_FAKES_FAKE_DOKKU_H_

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fake_dokku {

using json = nlohmann::json;

struct Version {
  int major = 0, minor = 38, patch = 27;
  bool AtLeast(int a, int b, int c) const;
  std::string String() const;
};
std::optional<Version> ParseVersion(const std::string& text);

// Thrown to end the command: every line of `message` goes to stderr as
// ` !     line` and the process exits with `code` (Dokku's dokku_log_fail /
// common.LogFailWithError, plugins/common/functions and common.go).
struct Failure {
  std::string message;
  int code = 1;
};
// Thrown for raw stderr text and an exit code (Go flag errors: exit 2, no ` !`).
struct RawFailure {
  std::string text;
  int code = 2;
};
[[noreturn]] void Fail(const std::string& message, int code = 1);

// Dokku's log formatters (plugins/common/functions, common/log.go).
void Out(const std::string& text);      // text + "\n" to stdout
void OutRaw(const std::string& text);   // text as it is
void Info1(const std::string& text);    // "-----> text"
void Info2(const std::string& text);    // "=====> text"
void Verbose(const std::string& text);  // "       text"
void Warn(const std::string& text);     // " !     text" on stderr

// A minimal spf13/pflag: long flags (--name, --name=value, --name value),
// booleans, interspersed positionals, `--` ends flags.
struct FlagDef {
  std::string name;
  bool is_bool = false;
  std::string default_value;
  std::string usage;
};
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // only the flags given
  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::string Arg(size_t i) const { return i < positional.size() ? positional[i] : ""; }
};
// Throws RawFailure with pflag's usage text on an unknown flag.
ParsedArgs ParseFlags(const std::string& command, const std::vector<FlagDef>& defs,
                      const std::vector<std::string>& args);

struct Ctx {
  Version version;
  std::string state_dir;
  json state;                      // {"apps": {...}, "global": {...}, "counter": N}
  std::string command;             // e.g. "config:set"
  std::vector<std::string> args;   // after the command
  int64_t now = 0;                 // seconds since the epoch
  std::optional<int> random_port;  // FAKE_DOKKU_RANDOM_PORT

  json& Apps() { return state["apps"]; }
  json& Global() { return state["global"]; }
  bool AppExists(const std::string& app) { return Apps().contains(app); }
  // Dokku's VerifyAppName (plugins/common/common.go): name rules, then exit 20.
  json& VerifyApp(const std::string& app);
  // The global vhost (Dokku reads /home/dokku/VHOST): STATE/VHOST, "" when absent.
  std::string GlobalVhost() const;
  std::string ReadStdin();
  // A fresh hex id of `len` characters (container ids, build ids, entry names).
  std::string NewId(size_t len);
};

// Name rules, per version: the new rule, then the old one; both failing is an
// error (common.VerifyAppName). apps:create applies the new rule only.
std::optional<std::string> AppNameError(const Version& v, const std::string& app,
                                        bool new_rule_only = false);

using Handler = std::function<void(Ctx&)>;
// Each plugin file registers its commands (subject to the host version).
void RegisterApps(std::map<std::string, Handler>& m, const Version& v);
void RegisterConfig(std::map<std::string, Handler>& m, const Version& v);
void RegisterPs(std::map<std::string, Handler>& m, const Version& v);
void RegisterDeploy(std::map<std::string, Handler>& m, const Version& v);
void RegisterLogsRun(std::map<std::string, Handler>& m, const Version& v);
void RegisterDomainsPorts(std::map<std::string, Handler>& m, const Version& v);
void RegisterStorage(std::map<std::string, Handler>& m, const Version& v);
void RegisterResourceChecks(std::map<std::string, Handler>& m, const Version& v);
void RegisterServices(std::map<std::string, Handler>& m, const Version& v);
void RegisterCerts(std::map<std::string, Handler>& m, const Version& v);

// Go's encoding/json output for objects, arrays and strings (sorted keys,
// <>& and U+2028/2029 escaped, \n \r \t, other controls as \u00XX).
std::string GoJson(const json& j);

// Shared pieces between plugins.
// Redeploys a deployed app with its current image (release-and-deploy).
void Redeploy(Ctx& c, const std::string& app);
// Builds the app's current source again, then deploys it (ps:rebuild).
void RebuildApp(Ctx& c, const std::string& app);
// Replaces the containers of one process type (ps:scale of a deployed app).
void DeployProcessType(Ctx& c, const std::string& app, const std::string& type);
std::string ProxyRebuild(Ctx& c, const std::string& app, bool warn_no_listeners);
void DestroyAppState(Ctx& c, const std::string& app);
std::string ReadFileOr(const std::string& path, const std::string& fallback);

}  // namespace fake_dokku

#endif  // DFLOW_TESTS_FAKES_FAKE_DOKKU_H_
