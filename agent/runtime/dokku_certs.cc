// DokkuRuntime: the app's TLS certificate on Dokku's proxy.
//
// Dokku's certs plugin (https://dokku.com/docs/configuration/ssl/;
// plugins/certs/subcommands/add in dokku/dokku): `certs:add APP CRT KEY` reads
// two files, or, with no file arguments, a tar archive on stdin holding one
// .crt and one .key. The tar form is used: `dokku` re-runs itself as the dokku
// user (`sudo -u dokku`, the top of the `dokku` script), which could not read
// files private to the agent, and this way the key never touches the agent's
// disk. The archive is made here in memory (ustar, mode 0600).
//
// fn-certs-set (plugins/certs/internal-functions) replaces a certificate that
// is there, so adding again is harmless; fn-certs-remove fails with "An
// app-specific SSL endpoint is not defined" when there is none, so removal
// asks `certs:report APP --ssl-enabled` first (plugins/certs/report.go in
// 0.38, cmd-certs-report-single in 0.35's internal-functions: "true"|"false").
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/runtime/dokku_runtime.h"
#include "common/status_macros.h"

namespace dflow::agent {
namespace {

constexpr size_t kBlock = 512;

// One ustar member: a 512-byte header, the data padded to 512.
void AppendMember(std::string& tar, const std::string& name, const std::string& data) {
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::snprintf(h, 100, "%s", name.c_str());
  std::snprintf(h + 100, 8, "%07o", 0600);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011zo", data.size());
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);  // "ustar\0"
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);  // the checksum counts its own field as spaces
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  tar.append(h, kBlock);
  tar += data;
  tar.append((kBlock - data.size() % kBlock) % kBlock, '\0');
}

}  // namespace

std::string CertTarForDokku(const std::string& cert_pem, const std::string& key_pem) {
  std::string tar;
  AppendMember(tar, "server.crt", cert_pem);
  AppendMember(tar, "server.key", key_pem);
  tar.append(2 * kBlock, '\0');
  return tar;
}

absl::StatusOr<bool> DokkuRuntime::SslEnabled(const std::string& app) {
  ASSIGN_OR_RETURN(DokkuOutput r, Dokku(app, {"certs:report", app, "--ssl-enabled"}));
  std::string v(absl::StripAsciiWhitespace(r.out));
  if (v != "true" && v != "false") {
    return absl::DataLossError(absl::StrCat("dokku certs:report ", app, " --ssl-enabled on server ",
                                            options_.server_name, " printed \"", v,
                                            "\" (expected true or false)"));
  }
  return v == "true";
}

absl::Status DokkuRuntime::AddCert(const std::string& app, const std::string& cert_pem,
                                   const std::string& key_pem, const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  RETURN_IF_ERROR(
      Dokku(app, {"certs:add", app}, out, {}, CertTarForDokku(cert_pem, key_pem)).status());
  ASSIGN_OR_RETURN(bool enabled, SslEnabled(app));  // read back
  if (!enabled) {
    return absl::DataLossError(absl::StrCat("after certs:add Dokku on server ",
                                            options_.server_name, " reports no certificate for ",
                                            app, "; see `dokku certs:report ", app, "` there"));
  }
  return absl::OkStatus();
}

absl::Status DokkuRuntime::RemoveCert(const std::string& app, const OutputFn& out) {
  std::lock_guard app_lock(AppLock(app));
  auto first = SslEnabled(app);
  if (!first.ok()) return AbsentOr(app, first.status(), out);
  bool enabled = *first;
  if (!enabled) return absl::OkStatus();
  RETURN_IF_ERROR(Dokku(app, {"certs:remove", app}, out).status());
  ASSIGN_OR_RETURN(enabled, SslEnabled(app));  // read back
  if (enabled) {
    return absl::DataLossError(absl::StrCat("after certs:remove Dokku on server ",
                                            options_.server_name, " still has a certificate for ",
                                            app, "; see `dokku certs:report ", app, "` there"));
  }
  return absl::OkStatus();
}

}  // namespace dflow::agent
