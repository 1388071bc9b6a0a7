// certs:add, certs:remove, certs:report: Dokku's certs plugin
// (plugins/certs in dokku/dokku; https://dokku.com/docs/configuration/ssl/).
// The pair lives where Dokku keeps it, $DOKKU_ROOT/APP/tls/server.{crt,key},
// with STATE/home as DOKKU_ROOT; the report's values come from openssl, run
// with the arguments Dokku runs it with.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/fakes/fake_dokku.h"
#include "tests/fakes/fake_dokku_report.h"

extern char** environ;

namespace fake_dokku {
namespace fs = std::filesystem;
namespace {

fs::path TlsDir(const Ctx& c, const std::string& app) {
  return fs::path(c.state_dir) / "home" / app / "tls";
}

// isSSLEnabled (report.go) / is_ssl_enabled (functions): both files exist.
bool SslEnabled(const Ctx& c, const std::string& app) {
  return fs::exists(TlsDir(c, app) / "server.crt") && fs::exists(TlsDir(c, app) / "server.key");
}

// The program's stdout ("" when it cannot run), stderr to /dev/null.
std::string Capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    waitpid(pid, nullptr, 0);
  }
  close(fds[0]);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The report's values, as report.go computes them (0.35's bash gives the same).
std::vector<std::pair<std::string, std::string>> Values(const Ctx& c, const std::string& app) {
  const std::string crt = (TlsDir(c, app) / "server.crt").string();
  const bool on = SslEnabled(c, app);
  std::string expires, starts, issuer, subject, hostnames, verified;
  if (on) {
    std::vector<std::string> text =
        Lines(Capture({"openssl", "x509", "-in", crt, "-noout", "-text"}));
    std::vector<std::string> names;
    for (size_t i = 0; i < text.size(); ++i) {
      const std::string& l = text[i];
      if (expires.empty() && l.find("Not After :") != std::string::npos) {
        expires = l.substr(l.find(" : ") + 3);
      } else if (starts.empty() && l.find("Not Before:") != std::string::npos) {
        starts = l.substr(l.find(": ") + 2);
      } else if (issuer.empty() && l.find("Issuer:") != std::string::npos) {
        issuer = Trim(l.substr(l.find("Issuer:") + 7));
      } else if (l.find("509v3 Subject Alternative Name:") != std::string::npos &&
                 i + 1 < text.size()) {
        std::string san = text[i + 1];
        for (size_t p; (p = san.find("DNS:")) != std::string::npos;) san.erase(p, 4);
        size_t start = 0;
        while (start <= san.size()) {
          size_t end = san.find(',', start);
          if (end == std::string::npos) end = san.size();
          if (std::string n = Trim(san.substr(start, end - start)); !n.empty()) names.push_back(n);
          start = end + 1;
        }
      }
    }
    // subjectCommonName of the RFC2253 subject line.
    std::string rfc =
        Trim(Capture({"openssl", "x509", "-in", crt, "-noout", "-subject", "-nameopt", "RFC2253"}));
    if (size_t p = rfc.find("CN="); p != std::string::npos) {
      names.push_back(Trim(rfc.substr(p + 3, rfc.find_first_of(",/", p) - p - 3)));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& n : names) hostnames += (hostnames.empty() ? "" : " ") + n;
    // formatSSLSubject: "subject=" and a leading "/" go, "/" becomes "; ".
    subject =
        Trim(Capture({"openssl", "x509", "-in", crt, "-noout", "-subject", "-nameopt", "compat"}));
    if (subject.rfind("subject=", 0) == 0) subject = Trim(subject.substr(8));
    if (!subject.empty() && subject[0] == '/') subject.erase(0, 1);
    for (size_t p; (p = subject.find('/')) != std::string::npos;) subject.replace(p, 1, "; ");
    std::vector<std::string> v =
        Lines(Capture({"openssl", "verify", "-verbose", "-purpose", "sslserver", crt}));
    while (!v.empty() && v.back().empty()) v.pop_back();
    const std::string last = v.empty() ? "" : v.back();
    const size_t colon = last.find(':');
    verified = colon != std::string::npos && Trim(last.substr(colon + 1)) == "OK"
                   ? "verified by a certificate authority"
                   : "self signed";
  }
  // Dokku reports $DOKKU_ROOT/APP/tls.
  return {{"--ssl-dir", TlsDir(c, app).string()},
          {"--ssl-enabled", on ? "true" : "false"},
          {"--ssl-hostnames", hostnames},
          {"--ssl-expires-at", expires},
          {"--ssl-issuer", issuer},
          {"--ssl-starts-at", starts},
          {"--ssl-subject", subject},
          {"--ssl-verified", verified}};
}

void CopyFile(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

// subcommands/add: files when both are given (-r), else a tar on stdin with
// exactly one .crt and one .key (dot files skipped); then fn-certs-set.
void CertsAdd(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  c.VerifyApp(app);
  std::string crt = c.args.size() > 1 ? c.args[1] : "";
  std::string key = c.args.size() > 2 ? c.args[2] : "";
  fs::path work;
  if (!crt.empty() && !key.empty()) {
    if (access(crt.c_str(), R_OK) != 0)
      Fail("CRT file specified not found, please check file paths");
    if (access(key.c_str(), R_OK) != 0)
      Fail("KEY file specified not found, please check file paths");
  } else {
    std::string data = c.ReadStdin();
    if (data.empty()) Fail("Tar archive containing server.crt and server.key expected on stdin");
    work = fs::path(c.state_dir) / ("tmp-" + c.NewId(8));
    fs::create_directories(work / "x");
    std::ofstream(work / "in.tar", std::ios::binary) << data;
    std::vector<std::string> crts, keys;
    Capture({"tar", "-xf", (work / "in.tar").string(), "-C", (work / "x").string()});
    for (const auto& e : fs::recursive_directory_iterator(work / "x")) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || name[0] == '.') continue;
      if (e.path().extension() == ".crt") crts.push_back(e.path().string());
      if (e.path().extension() == ".key") keys.push_back(e.path().string());
    }
    auto fail = [&](const std::string& m) {
      fs::remove_all(work);
      Fail(m);
    };
    if (crts.empty()) fail("Tar archive is missing .crt file");
    if (crts.size() > 1) fail("Tar archive contains more than one .crt file");
    if (keys.empty()) fail("Tar archive is missing .key file");
    if (keys.size() > 1) fail("Tar archive contains more than one .key file");
    crt = crts[0];
    key = keys[0];
  }
  fs::create_directories(TlsDir(c, app));
  CopyFile(crt, TlsDir(c, app) / "server.crt");
  CopyFile(key, TlsDir(c, app) / "server.key");
  if (!work.empty()) fs::remove_all(work);
  c.Apps()[app]["ssl"] = true;  // so state.json is written (post-certs-update)
}

// fn-certs-remove.
void CertsRemove(Ctx& c) {
  const std::string app = c.args.empty() ? "" : c.args[0];
  c.VerifyApp(app);
  if (!fs::is_directory(TlsDir(c, app))) Fail("An app-specific SSL endpoint is not defined");
  Info1("Removing SSL endpoint from " + app);
  fs::remove_all(TlsDir(c, app));
  c.Apps()[app].erase("ssl");
}

void CertsReport(Ctx& c) {
  ReportArgs r = ParseReportArgs(c.args);
  c.VerifyApp(r.app);
  auto flags = Values(c, r.app);
  if (!c.version.AtLeast(0, 38, 0)) {  // cmd-certs-report-single, 0.35's internal-functions
    if (r.format_given) {
      Fail(
          "Invalid flag passed, valid flags: --ssl-dir --ssl-enabled --ssl-hostnames "
          "--ssl-expires-at --ssl-issuer --ssl-starts-at --ssl-subject --ssl-verified");
    }
    return PrintBashReport("ssl", r.app, flags, r.info_flag);
  }
  // report.go: ReportType "ssl", TrimPrefix, UppercaseFirstCharacter, no legacy keys.
  GoReport g{.type = "ssl", .app = r.app, .flags = {flags.begin(), flags.end()}};
  g.emit_legacy = false;
  PrintGoReport(g, r.format, r.info_flag);
}

}  // namespace

void RegisterCerts(std::map<std::string, Handler>& m, const Version&) {
  m["certs:add"] = CertsAdd;
  m["certs:remove"] = CertsRemove;
  m["certs:report"] = CertsReport;
}

}  // namespace fake_dokku
