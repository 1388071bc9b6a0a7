#include "controller/routing/routing.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/hostname.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "common/x509.h"

namespace dflow::routing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// A canonical text of the table without its version: pushes happen when it changes.
std::string Key(const agents::RoutesSpec& spec) {
  std::string k;
  for (const auto& a : spec.apps) {
    absl::StrAppend(&k, a.app, "|", absl::StrJoin(a.hosts, ","), "|");
    for (const auto& b : a.backends) absl::StrAppend(&k, b.host, ":", b.port, "/", b.instance, ",");
    absl::StrAppend(&k, "|", a.cert_pem.size(), ":", std::hash<std::string>{}(a.cert_pem), "\n");
  }
  return k;
}

// Identifies a certificate a router refused (in memory only).
std::string CertKey(const agents::AppRouteSpec& a) {
  return absl::StrCat(a.app, ":", std::hash<std::string>{}(a.cert_pem));
}

// `spec` for a router that refused the certificates in `dropped`: each of
// those apps keeps the certificate that router last accepted for it, or none.
agents::RoutesSpec Without(const agents::RoutesSpec& spec, const std::set<std::string>& dropped,
                           const std::map<std::string, agents::AppRouteSpec>& accepted) {
  agents::RoutesSpec out = spec;
  for (auto& a : out.apps) {
    if (a.cert_pem.empty() || !dropped.count(CertKey(a))) continue;
    auto old = accepted.find(a.app);
    bool usable = old != accepted.end() && !dropped.count(CertKey(old->second));
    a.cert_pem = usable ? old->second.cert_pem : "";
    a.key_pem = usable ? old->second.key_pem : "";
  }
  return out;
}

}  // namespace

bool ErrorNamesCertOf(const std::string& message, const std::string& app) {
  const std::string prefix = absl::StrCat("/certs/", app, "-");
  for (size_t at = message.find(prefix); at != std::string::npos;
       at = message.find(prefix, at + 1)) {
    size_t hex = at + prefix.size();
    bool ok = hex + 17 <= message.size() && message[hex + 16] == '.';
    for (size_t i = hex; ok && i < hex + 16; ++i) ok = absl::ascii_isxdigit(message[i]);
    if (ok) return true;
  }
  return false;
}

absl::Status SaveBaseDomain(store::Store* store, const std::string& domain) {
  std::string d = LowerHostname(domain);
  RETURN_IF_ERROR(ValidateHostname("base domain", d, /*allow_single_label=*/true));
  return store->SetSetting(kBaseDomainSetting, d);
}

absl::Status SaveBaseDomainIn(const std::string& data_dir, const std::string& domain) {
  ASSIGN_OR_RETURN(auto store, store::Store::Open(data_dir + "/store.db", SystemClock::Get()));
  return SaveBaseDomain(store.get(), domain);
}

absl::StatusOr<std::vector<std::string>> AppHostnames(store::Store* store, const std::string& app) {
  ASSIGN_OR_RETURN(std::string base, store->GetSetting(kBaseDomainSetting, kDefaultBaseDomain));
  ASSIGN_OR_RETURN(auto domains, store->ListDomains());
  std::vector<std::string> hosts = {absl::StrCat(app, ".", base)};
  for (const auto& [host, owner] : domains) {
    if (owner == app) hosts.push_back(host);
  }
  return hosts;
}

RoutePusher::RoutePusher(store::Store* store, agents::Fleet* fleet, agents::AgentApi* agents,
                         RoutingOptions options)
    : store_(store), fleet_(fleet), agents_(agents), options_(options) {}

RoutePusher::~RoutePusher() { Stop(); }

void RoutePusher::Start() {
  loop_ = std::thread([this] { Loop(); });
}

void RoutePusher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (loop_.joinable()) loop_.join();
}

void RoutePusher::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Push(/*force=*/false);
    lock.lock();
    cv_.wait_for(lock, options_.poll, [this] { return stopping_; });
  }
}

std::map<std::string, std::string> RoutePusher::PushNow(const std::string& retest_app) {
  return Push(/*force=*/true, retest_app);
}

absl::StatusOr<agents::RoutesSpec> RoutePusher::Build() {
  ASSIGN_OR_RETURN(std::string base, store_->GetSetting(kBaseDomainSetting, kDefaultBaseDomain));
  ASSIGN_OR_RETURN(auto apps, store_->ListApps());
  ASSIGN_OR_RETURN(auto domains, store_->ListDomains());
  ASSIGN_OR_RETURN(auto servers, store_->ListServers());
  ASSIGN_OR_RETURN(auto instances, store_->ListAllInstances());
  ASSIGN_OR_RETURN(auto cert_list, store_->ListAppCerts());
  std::map<std::string, store::AppCert> certs;
  for (auto& c : cert_list) certs[c.app] = std::move(c);
  std::map<std::string, std::string> hosts;  // server -> host part of its address
  for (const auto& s : servers) {
    std::string host;
    int port = 0;
    if (SplitHostPort(s.address, &host, &port)) hosts[s.name] = host;
  }
  agents::RoutesSpec spec;
  for (const auto& app : apps) {
    agents::AppRouteSpec route;
    route.app = app.name;
    route.hosts.push_back(absl::StrCat(app.name, ".", base));
    for (const auto& [host, owner] : domains) {
      if (owner == app.name) route.hosts.push_back(host);
    }
    for (const auto& i : instances) {
      if (i.app != app.name || i.process != "web" || i.state != store::kInstanceRunning ||
          i.port <= 0 || !hosts.count(i.server) || !fleet_->Reachable(i.server)) {
        continue;
      }
      route.backends.push_back({hosts[i.server], i.port, i.id, i.server});
    }
    if (auto c = certs.find(app.name); c != certs.end()) {
      route.cert_pem = c->second.cert_pem;
      route.key_pem = c->second.key_pem;
    }
    spec.apps.push_back(std::move(route));
  }
  return spec;
}

std::map<std::string, std::string> RoutePusher::Push(bool force, const std::string& retest_app) {
  std::lock_guard push(push_mu_);
  std::map<std::string, std::string> refused;
  auto spec = Build();
  if (!spec.ok()) {
    spdlog::error("cannot build the routing table: {}", spec.status().ToString());
    return refused;
  }
  const std::string key = Key(*spec);
  const int64_t now = NowMs();
  if (!force && key == last_key_ && now - last_push_ms_ < options_.resend.count()) return refused;
  spec->version = version_ = std::max(version_ + 1, store_->clock()->NowMs());
  auto servers = store_->ListServers();
  if (!servers.ok()) return refused;
  // Certificates no longer in the table are forgotten; a router is sent the
  // table without the ones it refused before.
  std::set<std::string> current;
  for (const auto& a : spec->apps) {
    if (!a.cert_pem.empty()) current.insert(CertKey(a));
  }
  const std::string retest = retest_app.empty() ? "" : retest_app + ":";  // CertKey's prefix
  for (auto& [server, dropped] : dropped_certs_) {
    std::erase_if(dropped, [&](const std::string& k) {
      return !current.count(k) || (!retest.empty() && k.rfind(retest, 0) == 0);
    });
  }
  struct Call {
    std::string server;
    std::shared_ptr<agents::RoutesSpec> sent;
    std::future<absl::StatusOr<agents::RoutesResult>> result;
  };
  std::vector<Call> calls;
  for (const auto& s : *servers) {
    if (!fleet_->Reachable(s.name) || s.runtime != "local") continue;
    auto sent = std::make_shared<agents::RoutesSpec>(
        Without(*spec, dropped_certs_[s.name], accepted_certs_[s.name]));
    calls.push_back({s.name, sent, std::async(std::launch::async, [this, name = s.name, sent] {
                       return agents_->SetRoutes(name, *sent);
                     })});
  }
  for (auto& call : calls) {
    const std::string& server = call.server;
    auto r = call.result.get();
    std::string msg = r.ok() ? "" : std::string(r.status().message());
    const bool no_router = !r.ok() && absl::IsFailedPrecondition(r.status()) &&
                           msg.find("runs no router") != std::string::npos;
    const bool refusal = !r.ok() && !no_router && !absl::IsUnavailable(r.status());
    std::string dropped_note;
    if (refusal) {
      refused[server] = msg;
      // nginx could not load an app's certificate (its OpenSSL policy may
      // refuse what the controller accepted): that app is served over HTTP
      // only on this router, and every other change still goes through.
      std::vector<std::string> apps;
      for (const auto& a : call.sent->apps) {
        if (!a.cert_pem.empty() && ErrorNamesCertOf(msg, a.app)) {
          apps.push_back(a.app);
          dropped_certs_[server].insert(CertKey(a));
        }
      }
      if (!apps.empty()) {
        auto retry_spec = std::make_shared<agents::RoutesSpec>(
            Without(*spec, dropped_certs_[server], accepted_certs_[server]));
        auto retry = agents_->SetRoutes(server, *retry_spec);
        if (retry.ok()) {
          r = retry;
          call.sent = retry_spec;
          dropped_note = absl::StrCat("; it keeps serving ", absl::StrJoin(apps, ", "),
                                      " with the certificate it had (HTTP only if none) until "
                                      "the certificate is replaced");
        }
      }
    }
    if (r.ok()) {
      for (const auto& a : call.sent->apps) {
        if (a.cert_pem.empty()) {
          accepted_certs_[server].erase(a.app);
        } else {
          accepted_certs_[server][a.app] = a;
        }
      }
    }
    std::lock_guard lock(mu_);
    if (r.ok()) {
      routers_[server] = *r;
      if (dropped_note.empty()) {
        if (errors_.count(server)) {
          spdlog::info("router on {} serves the routing table again", server);
          errors_.erase(server);
        }
        continue;
      }
    }
    if (no_router) {
      routers_.erase(server);
      continue;
    }
    if (errors_[server] != msg) {
      errors_[server] = msg;
      spdlog::warn("routing table v{} not applied on {}: {}{}", spec->version, server, msg,
                   dropped_note);
      if (refusal) {
        (void)store_->AppendEvent("router.refused", server, "",
                                  absl::StrCat("routing table not applied: ", msg, dropped_note));
      }
    }
  }
  last_key_ = key;
  last_push_ms_ = now;
  return refused;
}

std::vector<std::string> RoutePusher::HttpsRouters() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [server, r] : routers_) {
    if (!r.tls_listen.empty()) out.push_back(absl::StrCat(server, " ", r.tls_listen));
  }
  return out;
}

std::string RoutePusher::AppUrl(const std::string& app) {
  std::string base =
      store_->GetSetting(kBaseDomainSetting, kDefaultBaseDomain).value_or(kDefaultBaseDomain);
  std::string url = absl::StrCat("http://", app, ".", base);
  std::lock_guard lock(mu_);
  for (const auto& [server, r] : routers_) {
    std::string host;
    int port = 0;
    if (SplitHostPort(r.listen, &host, &port) && port != 80) absl::StrAppend(&url, ":", port);
    break;
  }
  return url;
}

std::vector<std::string> RoutePusher::AppUrls(const std::string& app) {
  auto hosts = AppHostnames(store_, app);
  if (!hosts.ok()) return {AppUrl(app)};
  std::optional<tls::CertificateInfo> cert;
  if (auto certs = store_->ListAppCerts(); certs.ok()) {
    for (const auto& c : *certs) {
      if (c.app != app) continue;
      if (auto info = tls::InspectCertificate(c.cert_pem); info.ok()) cert = *info;
    }
  }
  int http_port = 80, https_port = 0;
  {
    std::lock_guard lock(mu_);
    bool first = true;
    for (const auto& [server, r] : routers_) {
      std::string host;
      int port = 0;
      if (first && SplitHostPort(r.listen, &host, &port)) http_port = port;
      first = false;
      if (https_port == 0 && SplitHostPort(r.tls_listen, &host, &port)) https_port = port;
    }
  }
  std::vector<std::string> out;
  for (const auto& h : *hosts) {
    const bool https = https_port != 0 && cert.has_value() && tls::CertificateCoversHost(*cert, h);
    const int port = https ? https_port : http_port;
    out.push_back(absl::StrCat(https ? "https://" : "http://", h,
                               port == (https ? 443 : 80) ? "" : absl::StrCat(":", port)));
  }
  return out;
}

}  // namespace dflow::routing
