#include "agent/router/route_table.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hostname.h"
#include "common/names.h"
#include "common/x509.h"

namespace dflow::agent {
namespace {

// Backend hosts go into the config verbatim: allow only address/hostname characters.
bool SafeBackendHost(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

std::string BackendAddress(const RouteBackend& b) {
  bool v6 = b.host.find(':') != std::string::npos && b.host.front() != '[';
  return v6 ? absl::StrCat("[", b.host, "]:", b.port) : absl::StrCat(b.host, ":", b.port);
}

std::string ProxyLocation(const AppRoute& app) {
  if (app.backends.empty()) {
    return absl::StrCat("    location / {\n      default_type text/plain;\n      return 503 \"app ",
                        app.app, " has no healthy instances\\n\";\n    }\n");
  }
  return absl::StrCat("    location / {\n      proxy_pass http://app_", app.app, ";\n    }\n");
}

// The app's hostnames its certificate covers (served over HTTPS).
std::vector<std::string> TlsHosts(const AppRoute& app) {
  std::vector<std::string> out;
  auto info = tls::InspectCertificate(app.cert_pem);
  if (!info.ok()) return out;
  for (const auto& h : app.hosts) {
    if (tls::CertificateCoversHost(*info, h)) out.push_back(h);
  }
  return out;
}

}  // namespace

absl::Status ValidateRouteTable(const RouteTable& table) {
  std::set<std::string> apps, hosts;
  for (const auto& app : table.apps) {
    if (auto s = ValidateAppName(app.app); !s.ok()) return s;
    if (!apps.insert(app.app).second) {
      return absl::InvalidArgumentError(absl::StrCat("app ", app.app, " is listed twice"));
    }
    for (const auto& host : app.hosts) {
      if (auto s = ValidateHostname(absl::StrCat("domain of app ", app.app), host,
                                    /*allow_single_label=*/false);
          !s.ok()) {
        return s;
      }
      if (!hosts.insert(host).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("domain ", host, " is routed to two apps (one is ", app.app, ")"));
      }
    }
    for (const auto& b : app.backends) {
      if (!SafeBackendHost(b.host) || b.port <= 0 || b.port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat("instance ", b.instance, " of app ", app.app,
                                                       " has an invalid address ", b.host, ":",
                                                       b.port));
      }
    }
    if (app.cert_pem.empty() != app.key_pem.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("app ", app.app, " has a certificate without its key (or a key alone)"));
    }
    if (!app.cert_pem.empty()) {
      if (auto info = tls::InspectCertificate(app.cert_pem); !info.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("certificate of app ", app.app, ": ", info.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

std::string RenderNginxConfig(const RouteTable& table, const RenderOptions& o) {
  const std::string& p = o.prefix;
  std::string c = absl::StrCat(
      "# Written by dflow-agent (routing table version ", table.version,
      "); every change is checked with nginx -t before a reload.\n", "worker_processes ",
      o.worker_processes, ";\n", "pid ", p, "/nginx.pid;\n", "error_log ", p,
      "/logs/error.log warn;\n", "events {\n  worker_connections 4096;\n}\n", "http {\n",
      "  access_log off;\n", "  client_body_temp_path ", p, "/tmp/client_body;\n",
      "  proxy_temp_path ", p, "/tmp/proxy;\n", "  fastcgi_temp_path ", p, "/tmp/fastcgi;\n",
      "  uwsgi_temp_path ", p, "/tmp/uwsgi;\n", "  scgi_temp_path ", p, "/tmp/scgi;\n",
      "  server_names_hash_bucket_size 128;\n", "  server_tokens off;\n",
      "  proxy_http_version 1.1;\n", "  proxy_set_header Connection \"\";\n",
      "  proxy_set_header Host $host;\n",
      "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n",
      "  proxy_set_header X-Forwarded-Proto $scheme;\n",
      // An instance that refuses or resets is skipped for the next one: a
      // request is failed only when no instance of the app could take it.
      "  proxy_next_upstream error timeout http_502 http_503 non_idempotent;\n",
      "  proxy_next_upstream_tries 0;\n", "  proxy_connect_timeout 2s;\n",
      "  proxy_read_timeout 300s;\n", "  client_max_body_size 64m;\n");
  absl::StrAppend(&c, "  server {\n    listen ", o.listen,
                  " default_server;\n    server_name _;\n    default_type text/plain;\n"
                  "    location = /.dflow/config {\n      return 200 \"",
                  o.marker,
                  "\\n\";\n    }\n    location / {\n      return 404 \"no app is routed for host "
                  "$host on this server\\n\";\n    }\n  }\n");
  // A TLS client asking for a name no certificate covers is refused at the
  // handshake instead of getting another app's certificate (and that app).
  if (!o.tls_listen.empty()) {
    absl::StrAppend(&c, "  server {\n    listen ", o.tls_listen,
                    " ssl default_server;\n    ssl_reject_handshake on;\n  }\n");
  }
  for (const auto& app : table.apps) {
    if (!app.backends.empty()) {
      absl::StrAppend(&c, "  upstream app_", app.app, " {\n");
      for (const auto& b : app.backends) {
        absl::StrAppend(&c, "    server ", BackendAddress(b), " max_fails=1 fail_timeout=2s;  # ",
                        b.instance, " on ", b.server, "\n");
      }
      absl::StrAppend(&c, "    keepalive 32;\n  }\n");
    }
    if (app.hosts.empty()) continue;
    const std::string names = absl::StrJoin(app.hosts, " ");
    absl::StrAppend(&c, "  server {\n    listen ", o.listen, ";\n    server_name ", names, ";\n",
                    ProxyLocation(app), "  }\n");
    const std::vector<std::string> tls_hosts =
        o.tls_listen.empty() || app.cert_pem.empty() ? std::vector<std::string>{} : TlsHosts(app);
    if (!tls_hosts.empty() && o.cert_path) {
      absl::StrAppend(&c, "  server {\n    listen ", o.tls_listen, " ssl;\n    server_name ",
                      absl::StrJoin(tls_hosts, " "), ";\n    ssl_certificate ",
                      o.cert_path(app, false), ";\n    ssl_certificate_key ",
                      o.cert_path(app, true), ";\n", ProxyLocation(app), "  }\n");
    }
  }
  absl::StrAppend(&c, "}\n");
  return c;
}

}  // namespace dflow::agent
