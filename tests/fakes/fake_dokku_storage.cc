// storage:* — Go since 0.38 (plugins/storage/{subcommands,commands_entries,
// storage,entry,report}.go at v0.38.27), bash in 0.35 (plugins/storage/
// {internal-functions,functions,storage-list,subcommands/*} at v0.35.20).
#include <algorithm>
#include <cstdio>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_env.h"
#include "tests/fakes/fake_dokku_report.h"

namespace fake_dokku {
namespace {

const char kStorageDir[] = "/var/lib/dokku/data/storage";

// SHA-1, for the legacy entry names Dokku derives from a host path
// (entry.go LegacyMountToEntry: "legacy-" + hex(sha1(host))[:10]).
std::string Sha1Hex(const std::string& msg) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string m = msg;
  uint64_t bits = static_cast<uint64_t>(msg.size()) * 8;
  m += static_cast<char>(0x80);
  while (m.size() % 64 != 56) m += '\0';
  for (int i = 7; i >= 0; --i) m += static_cast<char>((bits >> (i * 8)) & 0xFF);
  auto rol = [](uint32_t x, int n) { return (x << n) | (x >> (32 - n)); };
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      w[i] = 0;
      for (int j = 0; j < 4; ++j)
        w[i] = (w[i] << 8) | static_cast<unsigned char>(m[off + 4 * i + j]);
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d), k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d, k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d, k = 0xCA62C1D6;
      }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
  }
  char out[41];
  for (int i = 0; i < 5; ++i) std::snprintf(out + 8 * i, 9, "%08x", h[i]);
  return out;
}

bool ValidDirectoryName(const std::string& n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char ch) {
    return isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
  });
}

// ResolveChownID (plugins/storage/subcommands.go @ v0.38.27; the same table
// in cmd-storage-ensure-directory, plugins/storage/internal-functions @
// v0.35.20): a preset → its uid, "false" → none; a numeric uid too since
// v0.38.22 ("feat(storage): allow custom chown value").
std::string ChownId(const Version& v, const std::string& flag) {
  static const std::map<std::string, std::string> kChown = {
      {"herokuish", "32767"}, {"heroku", "1000"}, {"packeto", "2000"},
      {"paketo", "2000"},     {"root", "0"},      {"false", "false"}};
  if (auto it = kChown.find(flag); it != kChown.end()) return it->second;
  long long id = 0;
  if (v.AtLeast(0, 38, 22) && !flag.empty() && std::all_of(flag.begin(), flag.end(), ::isdigit) &&
      flag.size() <= 5 && GoAtoi(flag, &id) && id <= 65535) {
    return std::to_string(id);
  }
  Fail("Unsupported chown permissions");
  return "";
}

// The host directory's owner: the dokku user when a command creates it
// (MkdirAll, no chown), the uid a chown gives it. Kept in the state so tests
// can see who could write to it.
void RecordOwner(Ctx& c, const std::string& name, const std::string& chown_id) {
  json& owners = c.Global()["storage_owners"];
  if (!owners.contains(name)) owners[name] = "dokku";
  if (!chown_id.empty() && chown_id != "false") owners[name] = chown_id;
}

void EnsureDirectory(Ctx& c) {
  const bool v38 = c.version.AtLeast(0, 38, 0);
  ParsedArgs a = ParseFlags("storage:ensure-directory",
                            {{"chown", false, "herokuish",
                              "--chown: chown option (herokuish, heroku, paketo, root, false)"}},
                            c.args);
  // After the flags parse, before any validation (v0.38.10+).
  if (c.version.AtLeast(0, 38, 10)) {
    Warn("Deprecated: please use 'storage:create' instead of 'storage:ensure-directory'");
  }
  const std::string name = a.Arg(0);
  if (name.empty()) Fail("Please specify a directory to create");
  if (!ValidDirectoryName(name)) {
    Fail("Directory can only contain the following set of characters: [A-Za-z0-9_-]");
  }
  const std::string id = ChownId(c.version, a.Get("chown", "herokuish"));
  Info1(std::string("Ensuring ") + kStorageDir + "/" + name + " exists");
  if (id != "false") Verbose("Setting directory ownership to " + id + ":" + id);
  // Before 0.38 the sudo helper that chowns takes 32767, 1000 or 2000 only,
  // and says so on stdout (plugins/storage/bin/chown-storage-dir @ v0.35.20,
  // unchanged to v0.37.x): root (0) passes the name table and fails there.
  if (!v38 && id != "false" && id != "32767" && id != "1000" && id != "2000") {
    Out(" !     Unsupported chown permissions. Supported values: 32767, 1000, 2000");
    throw RawFailure{"", 1};
  }
  Verbose("Directory ready for mounting");
  RecordOwner(c, name, id);
  if (v38)
    c.Global()["storage_entries"][name] = {{"host_path", std::string(kStorageDir) + "/" + name}};
}

void Create(Ctx& c) {
  ParsedArgs a = ParseFlags(
      "storage:create",
      {{"scheduler", false, "docker-local", "--scheduler: target scheduler (docker-local, k3s)"},
       {"chown", false, "", "--chown: chown option (docker-local only)"},
       {"mode", false, "",
        "--mode: octal permissions for the host directory, such as 0755 (docker-local only)"}},
      c.args);
  const std::string name = a.Arg(0);
  if (name.empty()) Fail("storage entry name is required");
  if (!ValidDirectoryName(name) || name.rfind("legacy-", 0) == 0) {
    Fail("storage entry name \"" + name + "\" is invalid");
  }
  // --chown defaults to none: only a given one chowns (ensureDockerLocalPath,
  // plugins/storage/commands_entries.go @ v0.38.0 and @ v0.38.27).
  const std::string chown = a.Get("chown", "");
  const std::string id = chown.empty() ? "" : ChownId(c.version, chown);
  json& entries = c.Global()["storage_entries"];
  if (entries.contains(name)) Info1("Storage entry " + name + " already exists, leaving in place");
  if (!c.Global()["storage_owners"].contains(name)) {
    Verbose(std::string("Created ") + kStorageDir + "/" + name);
  }
  if (!id.empty() && id != "false") Verbose("Setting directory ownership to " + id + ":" + id);
  RecordOwner(c, name, id);
  entries[name] = {{"host_path", std::string(kStorageDir) + "/" + name}};
  if (!chown.empty()) entries[name]["chown"] = chown;
  Info1("Storage entry " + name + " created");
}

// A mount string's parts: host, container (options are kept with the container).
std::pair<std::string, std::string> SplitMount(const std::string& spec) {
  auto colon = spec.find(':');
  if (colon == std::string::npos) return {spec, ""};
  std::string container = spec.substr(colon + 1);
  return {spec.substr(0, colon), container.substr(0, container.find(':'))};
}

// VerifyPaths (storage.go) / verify_paths (0.35 functions).
void VerifyPaths(const std::string& spec) {
  auto [host, container] = SplitMount(spec);
  bool colon_slash = spec.find(":/") != std::string::npos;
  if (!spec.empty() && spec[0] == '/') {
    if (!colon_slash) Fail("Storage path must be two valid paths divided by colon.");
    return;
  }
  bool ok = host.size() >= 2 && isalnum(static_cast<unsigned char>(host[0])) && colon_slash &&
            std::all_of(host.begin(), host.end(), [](char ch) {
              return isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
            });
  if (!ok) {
    Fail(
        "Volume name must be two characters or more. Volume name must not contain invalid "
        "characters. Storage path must be two valid paths divided by colon.");
  }
}

void Mount(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  const std::string spec = c.args.size() > 1 ? c.args[1] : "";
  if (c.version.AtLeast(0, 38, 0) && spec.find(':') == std::string::npos) {
    Fail("storage entry \"" + spec +
         "\" does not exist; create it first with `dokku storage:create`");
  }
  VerifyPaths(spec);
  auto [host, container] = SplitMount(spec);
  for (const auto& m : s.value("storage", json::array())) {
    if (m.value("host_path", "") == host && m.value("container_path", "") == container) {
      Fail("Mount path already exists.");
    }
  }
  std::string entry = "legacy-" + Sha1Hex(host[0] == '/' ? host : "vol:" + host).substr(0, 10);
  s["storage"].push_back(
      {{"entry_name", entry}, {"host_path", host}, {"container_path", container}});
}

void Unmount(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  json& s = c.VerifyApp(app);
  const std::string spec = c.args.size() > 1 ? c.args[1] : "";
  VerifyPaths(spec);
  auto [host, container] = SplitMount(spec);
  json kept = json::array();
  bool found = false;
  for (const auto& m : s.value("storage", json::array())) {
    bool match = m.value("host_path", "") == host && m.value("container_path", "") == container;
    found = found || match;
    if (!match) kept.push_back(m);
  }
  if (!found) Fail("Mount path does not exist.");
  s["storage"] = kept;
}

void List(Ctx& c) {
  const bool v38 = c.version.AtLeast(0, 38, 0);
  ParsedArgs a = ParseFlags(
      "storage:list", {{"format", false, "text", "--format: output format (text, json)"}}, c.args);
  const std::string app = a.Arg(0);
  std::string format = a.Get("format", "text");
  if (format != "text" && format != "json") Fail("Invalid --format value specified");
  json& s = c.VerifyApp(app);
  json mounts = s.value("storage", json::array());
  if (format == "json") {
    std::string out = v38 ? "[" : "[\n";
    for (size_t i = 0; i < mounts.size(); ++i) {
      const auto& m = mounts[i];
      if (v38) {  // struct field order, not sorted (StorageListEntry)
        out += (i ? "," : "") + std::string("{\"entry_name\":") + GoJson(m["entry_name"]) +
               ",\"host_path\":" + GoJson(m["host_path"]) +
               ",\"container_path\":" + GoJson(m["container_path"]) + "}";
      } else {  // jq -M: indented, with volume_options
        out += std::string(i ? ",\n" : "") + "  {\n    \"host_path\": " + GoJson(m["host_path"]) +
               ",\n    \"container_path\": " + GoJson(m["container_path"]) +
               ",\n    \"volume_options\": \"\"\n  }";
      }
    }
    Out(v38 ? out + "]" : out + (mounts.empty() ? "]" : "\n]"));
    return;
  }
  // 0.35 prints the header and indents only with an explicit `--format text`.
  bool decorated = v38 || a.Has("format");
  if (decorated) Info1(app + " volume bind-mounts:");
  for (const auto& m : mounts) {
    std::string line = m.value("host_path", "") + ":" + m.value("container_path", "");
    if (decorated) {
      Verbose(line);
    } else {
      Out(line);
    }
  }
}

void Report(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  json& s = c.VerifyApp(r.app);
  json mounts = s.value("storage", json::array());
  std::string vs;
  for (const auto& m : mounts) {
    vs += (vs.empty() ? "" : " ") + std::string("-v ") + m.value("host_path", "") + ":" +
          m.value("container_path", "");
  }
  if (!c.version.AtLeast(0, 38, 0)) {
    if (r.format_given) {
      Fail(
          "Invalid flag passed, valid flags: --storage-build-mounts --storage-deploy-mounts "
          "--storage-run-mounts");
    }
    std::string phase_vs = vs.empty() ? "" : vs + " ";  // `tr '\n' ' '` leaves a trailing space
    return PrintBashReport("storage", r.app,
                           {{"--storage-build-mounts", ""},
                            {"--storage-deploy-mounts", phase_vs},
                            {"--storage-run-mounts", phase_vs}},
                           r.info_flag);
  }
  GoReport g{.type = "storage", .app = r.app};
  for (size_t i = 0; i < mounts.size(); ++i) {
    std::string p = "--storage-attachment." + std::to_string(i + 1) + ".";
    g.flags[p + "container-path"] = mounts[i].value("container_path", "");
    g.flags[p + "entry-name"] = mounts[i].value("entry_name", "");
    g.flags[p + "host-path"] = mounts[i].value("host_path", "");
    g.flags[p + "phases"] = "deploy,run";
    g.flags[p + "process-type"] = "_default_";
    g.flags[p + "readonly"] = "false";
    g.flags[p + "subpath"] = "";
    g.flags[p + "volume-chown"] = "";
    g.flags[p + "volume-options"] = "";
  }
  g.flags["--storage-build-mounts"] = "";
  g.flags["--storage-deploy-mounts"] = vs;
  g.flags["--storage-run-mounts"] = vs;
  g.trim_prefix = g.emit_legacy = c.version.AtLeast(0, 38, 8);
  PrintGoReport(g, r.format, r.info_flag);
}

}  // namespace

void RegisterStorage(std::map<std::string, Handler>& m, const Version& v) {
  m["storage:ensure-directory"] = EnsureDirectory;
  if (v.AtLeast(0, 38, 0)) m["storage:create"] = Create;
  m["storage:mount"] = Mount;
  m["storage:unmount"] = Unmount;
  m["storage:list"] = List;
  m["storage:report"] = Report;
}

}  // namespace fake_dokku
