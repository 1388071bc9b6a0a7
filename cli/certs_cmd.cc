// dflow certs add | ls | rm: an app's TLS certificate, served by every router.
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/parse.h"
#include "common/clock.h"
#include "common/files.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;

struct CertsOptions {
  std::string app;
  std::string cert_file;
  std::string key_file;
  bool json = false;
};

nlohmann::json CertJson(const v1::AppCert& c) {
  auto list = [](const auto& r) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : r) a.push_back(s);
    return a;
  };
  return {{"app", c.app()},
          {"subject", c.subject()},
          {"issuer", c.issuer()},
          {"names", list(c.names())},
          {"not_before", JsonTime(c.not_before_ms())},
          {"not_after", JsonTime(c.not_after_ms())},
          {"fingerprint", c.fingerprint()},
          {"added_at", JsonTime(c.added_at_ms())},
          {"covered_hosts", list(c.covered_hosts())},
          {"uncovered_hosts", list(c.uncovered_hosts())},
          {"https_routers", list(c.https_routers())}};
}

std::string Expiry(int64_t not_after_ms, int64_t now_ms) {
  std::string day = HumanTime(not_after_ms).substr(0, 10);
  if (not_after_ms <= now_ms) return absl::StrCat(day, " (EXPIRED)");
  int64_t days = (not_after_ms - now_ms) / (24 * 3600 * 1000);
  return absl::StrCat(day, " (", days, " days)");
}

}  // namespace

void RegisterCerts(CLI::App& app, Globals& g) {
  auto o = std::make_shared<CertsOptions>();
  auto* certs = app.add_subcommand(
      "certs", "TLS certificates of apps, served over HTTPS by every server's router");
  certs->require_subcommand(1);

  auto* add = certs->add_subcommand(
      "add",
      "Serve APP over HTTPS with a PEM certificate (chain) and its private key; refused when the "
      "key does not match, the certificate has expired or is not yet valid, or it covers none "
      "of APP's hostnames (SAN/CN, wildcards *.example.com cover one label). Replaces APP's "
      "previous certificate. On the Dokku servers APP runs on, an op also installs it in "
      "Dokku's proxy (dokku certs:add).");
  add->add_option("APP", o->app, "App name")->required();
  add->add_option("--cert", o->cert_file, "PEM certificate file, leaf first then intermediates")
      ->required();
  add->add_option("--key", o->key_file, "PEM private key file (unencrypted)")->required();
  add->add_flag("--json", o->json,
                "Print the certificate as a JSON object (see certs ls), with dokku_op: the op "
                "installing it on APP's Dokku servers, 0 when none");
  add->footer("Example: dflow certs add shop --cert shop.example.com.pem --key shop.key");
  add->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      auto cert = ReadFile(o->cert_file);
      if (!cert.ok()) return UsageError("cannot read --cert " + o->cert_file);
      auto key = ReadFile(o->key_file);
      if (!key.ok()) return UsageError("cannot read --key " + o->key_file);
      Client client(ResolveTarget(g.controller));
      v1::AddCertRequest req;
      req.set_app(o->app);
      req.set_cert_pem(*cert);
      req.set_key_pem(*key);
      auto r = client.Call(&v1::Apps::Stub::AddCert, req);
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json j = CertJson(*r);
        j["dokku_op"] = r->dokku_op();
        PrintJson(j);
        return absl::OkStatus();
      }
      std::cout << "certificate for " << absl::StrJoin(r->names(), ", ") << " (expires "
                << Expiry(r->not_after_ms(), SystemClock::Get()->NowMs()) << ") serves "
                << absl::StrJoin(r->covered_hosts(), ", ") << " over HTTPS\n";
      if (!r->uncovered_hosts().empty()) {
        std::cout << "not covered (HTTP only): " << absl::StrJoin(r->uncovered_hosts(), ", ")
                  << "\n";
      }
      if (r->https_routers().empty()) {
        std::cout << "no router has an HTTPS listener yet: start the agents with "
                     "`dflow-agent run --router-tls-listen HOST:PORT`\n";
      } else {
        std::cout << "HTTPS on: " << absl::StrJoin(r->https_routers(), ", ") << "\n";
      }
      if (r->dokku_op() != 0) {
        std::cout << "installing it on the app's Dokku servers (certs:add): op " << r->dokku_op()
                  << " (`dflow ops show " << r->dokku_op() << " --follow`)\n";
      }
      return absl::OkStatus();
    };
  });

  auto* ls = certs->add_subcommand("ls", "List certificates: app, names, expiry, hosts served");
  ls->add_option("APP", o->app, "Only this app's certificate");
  ls->add_flag("--json", o->json,
               "Print a JSON array of objects with app, subject, issuer, names, not_before, "
               "not_after, fingerprint, added_at, covered_hosts, uncovered_hosts and "
               "https_routers (\"SERVER HOST:PORT\")");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (!o->app.empty()) {
        if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      }
      Client client(ResolveTarget(g.controller));
      v1::ListCertsRequest req;
      req.set_app(o->app);
      auto r = client.Call(&v1::Apps::Stub::ListCerts, req);
      if (!r.ok()) return r.status();
      if (o->json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& c : r->certs()) out.push_back(CertJson(c));
        PrintJson(out);
        return absl::OkStatus();
      }
      if (r->certs().empty()) {
        std::cout << "no certificates (add one with `dflow certs add APP --cert FILE --key "
                     "FILE`)\n";
        return absl::OkStatus();
      }
      const int64_t now = SystemClock::Get()->NowMs();
      Table t({"APP", "NAMES", "EXPIRES", "HTTPS", "HTTP ONLY", "ISSUER"});
      for (const auto& c : r->certs()) {
        t.Add({c.app(), absl::StrJoin(c.names(), ","), Expiry(c.not_after_ms(), now),
               c.covered_hosts().empty() ? "-" : absl::StrJoin(c.covered_hosts(), ","),
               c.uncovered_hosts().empty() ? "-" : absl::StrJoin(c.uncovered_hosts(), ","),
               c.issuer()});
      }
      t.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* rm = certs->add_subcommand(
      "rm",
      "Remove APP's certificate (APP is then HTTP only); on APP's Dokku servers an op runs dokku "
      "certs:remove");
  rm->add_option("APP", o->app, "App name")->required();
  rm->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      if (auto s = CheckAppArg(o->app); !s.ok()) return s;
      Client client(ResolveTarget(g.controller));
      v1::RemoveCertRequest req;
      req.set_app(o->app);
      auto r = client.Call(&v1::Apps::Stub::RemoveCert, req);
      if (!r.ok()) return r.status();
      std::cout << "removed the certificate of " << o->app << "; it is served over HTTP only\n";
      if (r->dokku_op() != 0) {
        std::cout << "removing it from the app's Dokku servers (certs:remove): op " << r->dokku_op()
                  << " (`dflow ops show " << r->dokku_op() << " --follow`)\n";
      }
      return absl::OkStatus();
    };
  });
}

}  // namespace dflow::cli
