// AppsService: an app's TLS certificate, checked here (PEM, key, validity,
// hostnames) and served by every server's router.
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/x509.h"
#include "controller/api/apps_service.h"
#include "controller/api/dokku_service.h"
#include "controller/routing/routing.h"

namespace dflow::api {
namespace {

namespace v1 = controller::v1;

constexpr size_t kMaxPemBytes = 256 << 10;

std::string Day(int64_t ms) { return FormatRfc3339(ms).substr(0, 10); }

// Describes `cert` for the app with hostnames `hosts`.
absl::Status Fill(const std::string& app, const std::string& cert_pem, int64_t added_at_ms,
                  const std::vector<std::string>& hosts, v1::AppCert* out) {
  ASSIGN_OR_RETURN(tls::CertificateInfo info, tls::InspectCertificate(cert_pem));
  out->set_app(app);
  out->set_subject(info.subject_cn);
  out->set_issuer(info.issuer_cn);
  for (const auto& n : tls::CertificateNames(info)) out->add_names(n);
  out->set_not_before_ms(info.not_before_ms);
  out->set_not_after_ms(info.not_after_ms);
  out->set_fingerprint(info.fingerprint);
  out->set_added_at_ms(added_at_ms);
  for (const auto& h : hosts) {
    if (tls::CertificateCoversHost(info, h)) {
      out->add_covered_hosts(h);
    } else {
      out->add_uncovered_hosts(h);
    }
  }
  return absl::OkStatus();
}

// Every check `dflow certs add` makes, in the order a person fixes them.
absl::Status CheckCert(const std::string& app, const std::string& cert_pem,
                       const std::string& key_pem, const std::vector<std::string>& hosts,
                       int64_t now_ms, tls::CertificateInfo* info_out) {
  if (cert_pem.size() > kMaxPemBytes || key_pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat("the certificate and key files may be at most ",
                                                   kMaxPemBytes >> 10, " KiB each"));
  }
  ASSIGN_OR_RETURN(tls::CertificateInfo info, tls::InspectCertificate(cert_pem));
  const std::string names = absl::StrJoin(tls::CertificateNames(info), ", ");
  const std::string which = absl::StrCat("the certificate for ", names.empty() ? "?" : names);
  RETURN_IF_ERROR(tls::CheckKeyMatchesCertificate(key_pem, cert_pem));
  if (info.not_after_ms <= now_ms) {
    return absl::InvalidArgumentError(absl::StrCat(which, " expired on ", Day(info.not_after_ms),
                                                   "; renew it and add the new one"));
  }
  if (info.not_before_ms > now_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat(which, " is not valid before ", FormatRfc3339(info.not_before_ms),
                     "; add it from then on, or check this machine's clock"));
  }
  bool covers_any = false;
  for (const auto& h : hosts) covers_any = covers_any || tls::CertificateCoversHost(info, h);
  if (!covers_any) {
    return absl::InvalidArgumentError(absl::StrCat(
        which, " does not cover any hostname of app ", app, " (", absl::StrJoin(hosts, ", "),
        "); use a certificate for one of them, or first add its hostname with `dflow domains add ",
        app, " HOST`"));
  }
  *info_out = std::move(info);
  return absl::OkStatus();
}

// The stored certificate also goes to Dokku's proxy on the app's Dokku servers.
grpc::Status InstallOnDokku(ControllerContext* ctx, const std::string& app, v1::AppCert* response) {
  auto op = ApplyCertOnDokku(ctx, app);
  if (!op.ok()) {
    return ToGrpc(absl::Status(
        op.status().code(),
        absl::StrCat("the certificate of ", app,
                     " is stored and on the routers but not yet on its Dokku servers: ",
                     op.status().message(), "; run `dflow restart ", app, "` to retry")));
  }
  response->set_dokku_op(*op);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AppsService::AddCert(grpc::ServerContext*, const v1::AddCertRequest* request,
                                  v1::AppCert* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  auto hosts = routing::AppHostnames(ctx_->store, app->name);
  if (!hosts.ok()) return ToGrpc(hosts.status());
  const int64_t now = ctx_->store->clock()->NowMs();
  tls::CertificateInfo info;
  if (auto s = CheckCert(app->name, request->cert_pem(), request->key_pem(), *hosts, now, &info);
      !s.ok()) {
    return ToGrpc(absl::Status(
        s.code(), absl::StrCat("certificate for app ", app->name, " refused: ", s.message(),
                               " (nothing changed; the routers keep serving what they had)")));
  }
  if (auto s = Fill(app->name, request->cert_pem(), now, *hosts, response); !s.ok()) {
    return ToGrpc(s);
  }
  auto certs = ctx_->store->ListAppCerts();
  if (!certs.ok()) return ToGrpc(certs.status());
  std::optional<store::AppCert> previous;
  for (const auto& c : *certs) {
    if (c.app == app->name) previous = c;
  }
  store::AppCert rec{app->name, request->cert_pem(), request->key_pem(), info.not_after_ms, now};
  const std::string message =
      absl::StrCat("certificate for ", absl::StrJoin(response->names(), ", "), " (expires ",
                   Day(info.not_after_ms), ") serves ",
                   absl::StrJoin(response->covered_hosts(), ", "), " over HTTPS");
  if (auto s = ctx_->store->SetAppCert(rec, message); !s.ok()) return ToGrpc(s);
  if (ctx_->routes == nullptr) return InstallOnDokku(ctx_, app->name, response);
  // A router whose nginx cannot load it (its OpenSSL policy may refuse what
  // parses here, e.g. a key too small) kept its old config: so does the app.
  auto refused = ctx_->routes->PushNow(app->name);
  for (const auto& r : ctx_->routes->HttpsRouters()) response->add_https_routers(r);
  // Only a refusal that names this app's certificate files undoes it.
  for (auto it = refused.begin(); it != refused.end();) {
    it = routing::ErrorNamesCertOf(it->second, app->name) ? std::next(it) : refused.erase(it);
  }
  if (refused.empty()) return InstallOnDokku(ctx_, app->name, response);
  absl::Status undo =
      previous.has_value()
          ? ctx_->store->SetAppCert(*previous,
                                    absl::StrCat("the previous certificate of ", app->name,
                                                 " serves again: a router refused the new one"))
          : ctx_->store->RemoveAppCert(app->name);
  if (!undo.ok()) return ToGrpc(undo);
  ctx_->routes->PushNow();
  const auto& [server, why] = *refused.begin();
  return ToGrpc(absl::FailedPreconditionError(absl::StrCat(
      "certificate for app ", app->name, " refused by the router on server ", server, ": ", why,
      "; it was not kept and ",
      previous.has_value() ? "the previous certificate keeps serving" : "the app stays HTTP only",
      " (see `dflow events`)")));
}

grpc::Status AppsService::RemoveCert(grpc::ServerContext*, const v1::RemoveCertRequest* request,
                                     v1::RemoveCertResponse* response) {
  auto app = FindApp(request->app());
  if (!app.ok()) return ToGrpc(app.status());
  if (auto s = ctx_->store->RemoveAppCert(app->name); !s.ok()) return ToGrpc(s);
  if (ctx_->routes != nullptr) ctx_->routes->PushNow();
  auto op = ApplyCertOnDokku(ctx_, app->name);
  if (!op.ok()) {
    return ToGrpc(absl::Status(
        op.status().code(),
        absl::StrCat("the certificate of ", app->name,
                     " is removed from the routers but not yet from its Dokku servers: ",
                     op.status().message(), "; run `dflow restart ", app->name, "` to retry")));
  }
  response->set_dokku_op(*op);
  return grpc::Status::OK;
}

grpc::Status AppsService::ListCerts(grpc::ServerContext*, const v1::ListCertsRequest* request,
                                    v1::ListCertsResponse* response) {
  if (!request->app().empty()) {
    if (auto app = FindApp(request->app()); !app.ok()) return ToGrpc(app.status());
  }
  auto certs = ctx_->store->ListAppCerts();
  if (!certs.ok()) return ToGrpc(certs.status());
  for (const auto& c : *certs) {
    if (!request->app().empty() && c.app != request->app()) continue;
    auto hosts = routing::AppHostnames(ctx_->store, c.app);
    if (!hosts.ok()) return ToGrpc(hosts.status());
    auto* out = response->add_certs();
    if (auto s = Fill(c.app, c.cert_pem, c.added_at_ms, *hosts, out); !s.ok()) return ToGrpc(s);
    if (ctx_->routes != nullptr) {
      for (const auto& r : ctx_->routes->HttpsRouters()) out->add_https_routers(r);
    }
  }
  return grpc::Status::OK;
}

}  // namespace dflow::api
