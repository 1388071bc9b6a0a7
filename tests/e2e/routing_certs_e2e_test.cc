// End to end: app certificates (`dflow certs`) served over HTTPS by both
// routers (real nginx), fetched with curl and the self-signed certificate
// pinned as the only CA; bad certificates refused while the old ones serve.
#include <signal.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/x509.h"
#include "tests/e2e/routing_fixture.h"

namespace dflow::testing {
namespace {

using std::chrono::seconds;

constexpr int64_t kDay = 24LL * 3600 * 1000;

class RoutingCertsE2E : public RoutingE2E {
 protected:
  // A self-signed certificate for `hosts` written to DIR/NAME.crt and NAME.key.
  std::pair<std::string, std::string> Cert(const std::string& name, std::vector<std::string> hosts,
                                           int64_t from_ms, int64_t until_ms, int rsa_bits = 0) {
    auto c = tls::MakeSelfSignedCertificate({std::move(hosts), from_ms, until_ms, rsa_bits});
    EXPECT_TRUE(c.ok()) << c.status();
    std::string crt = tmp_.path() + "/" + name + ".crt", key = tmp_.path() + "/" + name + ".key";
    EXPECT_TRUE(WriteFileAtomic(crt, c->cert_pem, 0600).ok());
    EXPECT_TRUE(WriteFileAtomic(key, c->key_pem, 0600).ok());
    return {crt, key};
  }

  // curl https://HOST:PORT/ trusting only `ca` (the server's certificate).
  CliResult Https(const std::string& server, const std::string& host, const std::string& ca) {
    return RunProgram({"curl", "-sS", "-m", "5", "--cacert", ca, "--resolve",
                       host + ":" + std::to_string(TlsRouter(server)) + ":127.0.0.1",
                       "https://" + host + ":" + std::to_string(TlsRouter(server)) + "/"});
  }

  bool ServesHttps(const std::string& host, const std::string& ca) {
    for (const char* server : {"local-1", "local-2"}) {
      auto r = Https(server, host, ca);
      if (r.exit_code != 0 || !Contains(r.out, "hello from")) return false;
    }
    return true;
  }

  int64_t Now() { return SystemClock::Get()->NowMs(); }
};

TEST_F(RoutingCertsE2E, ACertificateIsServedAndBadOnesAreRefusedWhileTheOldOneServes) {
  DeployHello("hello", 2);
  auto [crt, key] = Cert("hello", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay);
  std::string added = CliOk({"certs", "add", "hello", "--cert", crt, "--key", key});
  EXPECT_TRUE(Contains(added, "certificate for hello.localhost (expires ")) << added;
  EXPECT_TRUE(Contains(added, "serves hello.localhost over HTTPS")) << added;
  EXPECT_TRUE(
      Contains(added, "HTTPS on: local-1 127.0.0.1:" + std::to_string(TlsRouter("local-1")) +
                          ", local-2 127.0.0.1:" + std::to_string(TlsRouter("local-2"))))
      << added;
  // Both routers serve it; curl checks the chain against the pinned certificate.
  ASSERT_TRUE(WaitFor([&] { return ServesHttps("hello.localhost", crt); }, seconds(10)))
      << Https("local-1", "hello.localhost", crt).err;

  // A key of another certificate.
  auto [other_crt, other_key] = Cert("other", {"hello.localhost"}, Now() - kDay, Now() + kDay);
  auto mismatch = Cli({"certs", "add", "hello", "--cert", crt, "--key", other_key});
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_TRUE(Contains(mismatch.err,
                       "certificate for app hello refused: the private key does not match the "
                       "certificate for \"hello.localhost\""))
      << mismatch.err;
  EXPECT_TRUE(Contains(mismatch.err, "nothing changed")) << mismatch.err;
  // A certificate for another hostname.
  auto [shop_crt, shop_key] = Cert("shop", {"shop.example.com"}, Now() - kDay, Now() + kDay);
  auto foreign = Cli({"certs", "add", "hello", "--cert", shop_crt, "--key", shop_key});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_TRUE(Contains(foreign.err,
                       "the certificate for shop.example.com does not cover any hostname of app "
                       "hello (hello.localhost)"))
      << foreign.err;
  // An expired one.
  auto [old_crt, old_key] = Cert("old", {"hello.localhost"}, Now() - 60 * kDay, Now() - kDay);
  auto expired = Cli({"certs", "add", "hello", "--cert", old_crt, "--key", old_key});
  EXPECT_EQ(expired.exit_code, 1);
  EXPECT_TRUE(Contains(expired.err, "the certificate for hello.localhost expired on " +
                                        FormatRfc3339(Now() - kDay).substr(0, 10)))
      << expired.err;
  // The first certificate still serves, on both routers.
  EXPECT_TRUE(ServesHttps("hello.localhost", crt));

  auto ls = Json({"certs", "ls", "--json"});
  ASSERT_TRUE(ls.is_array() && ls.size() == 1u) << ls.dump();
  EXPECT_EQ(ls[0]["app"], "hello");
  EXPECT_EQ(ls[0]["names"], nlohmann::json::array({"hello.localhost"}));
  EXPECT_EQ(ls[0]["covered_hosts"], nlohmann::json::array({"hello.localhost"}));
  EXPECT_EQ(ls[0]["fingerprint"].get<std::string>().size(), 64u);
  EXPECT_EQ(ls[0]["https_routers"].size(), 2u) << ls.dump();
  // A custom domain the certificate does not cover is served over HTTP only.
  CliOk({"domains", "add", "hello", "www.example.com"});
  auto one = Json({"certs", "ls", "hello", "--json"});
  ASSERT_TRUE(one.is_array() && one.size() == 1u) << one.dump();
  EXPECT_EQ(one[0]["uncovered_hosts"], nlohmann::json::array({"www.example.com"}));
  EXPECT_TRUE(Contains(CliOk({"certs", "ls"}), "www.example.com"));
  // A TLS client asking for a name no certificate covers is refused at the handshake.
  EXPECT_NE(Https("local-1", "www.example.com", crt).exit_code, 0);
  EXPECT_TRUE(
      WaitFor([&] { return Get(Router("local-2"), "www.example.com").code == 200; }, seconds(10)));

  // A certificate expiring within 30 days shows in `dflow status`, with app and date.
  const int64_t soon = Now() + 10 * kDay;
  auto [soon_crt, soon_key] = Cert("soon", {"hello.localhost"}, Now() - kDay, soon);
  CliOk({"certs", "add", "hello", "--cert", soon_crt, "--key", soon_key});
  std::string status = CliOk({"status"});
  EXPECT_TRUE(Contains(status, "certificates expiring within 30 days")) << status;
  EXPECT_TRUE(
      Contains(status, "hello  hello.localhost  expires " + FormatRfc3339(soon).substr(0, 10)))
      << status;
  EXPECT_TRUE(WaitFor([&] { return ServesHttps("hello.localhost", soon_crt); }, seconds(10)));

  // Removed: HTTPS is refused, HTTP keeps answering.
  CliOk({"certs", "rm", "hello"});
  EXPECT_TRUE(WaitFor([&] { return Https("local-1", "hello.localhost", soon_crt).exit_code != 0; },
                      seconds(10)));
  EXPECT_EQ(Get(Router("local-1"), "hello.localhost").code, 200);
  auto again = Cli({"certs", "rm", "hello"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "app hello has no certificate")) << again.err;
  EXPECT_FALSE(Contains(CliOk({"status"}), "certificates expiring"));
}

// A realistic config nginx -t refuses: a certificate that parses and matches
// its key (the controller accepts it) but whose RSA key is below the router's
// OpenSSL security level (Debian: 2048 bits), so nginx cannot load it.
TEST_F(RoutingCertsE2E, AReloadNginxWouldRefuseIsNotLoadedAndTheOldConfigServes) {
  DeployHello("hello", 1);
  auto [crt, key] = Cert("good", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay);
  CliOk({"certs", "add", "hello", "--cert", crt, "--key", key});
  ASSERT_TRUE(WaitFor([&] { return ServesHttps("hello.localhost", crt); }, seconds(10)));
  const std::string fingerprint = Json({"certs", "ls", "--json"})[0].value("fingerprint", "");
  const std::string conf_path = fleet_->agent_dir("local-1") + "/router/nginx.conf";
  const std::string conf = ReadFile(conf_path).value_or("");

  auto [weak_crt, weak_key] =
      Cert("weak", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay, /*rsa_bits=*/1024);
  auto weak = Cli({"certs", "add", "hello", "--cert", weak_crt, "--key", weak_key});
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_TRUE(Contains(weak.err, "certificate for app hello refused by the router on server "))
      << weak.err;
  EXPECT_TRUE(Contains(weak.err, "nginx -t refused the new routing config")) << weak.err;
  EXPECT_TRUE(Contains(weak.err, "ee key too small")) << weak.err;
  EXPECT_TRUE(Contains(weak.err, "the previous certificate keeps serving")) << weak.err;

  // Never loaded: the served config is the old one, and it still answers.
  EXPECT_EQ(ReadFile(conf_path).value_or(""), conf);
  EXPECT_TRUE(ServesHttps("hello.localhost", crt));
  EXPECT_EQ(Get(Router("local-1"), "hello.localhost").code, 200);
  EXPECT_EQ(Json({"certs", "ls", "--json"})[0].value("fingerprint", ""), fingerprint);
  // The event says why, naming the server.
  auto events = Json({"events", "-n", "1000", "--json"})["data"];
  bool said = false;
  for (const auto& e : events) {
    said = said || (e.value("kind", "") == "router.refused" &&
                    Contains(e.value("message", ""), "ee key too small"));
  }
  EXPECT_TRUE(said) << events.dump();
  // Routing changes after it are applied as usual.
  CliOk({"domains", "add", "hello", "www.example.com"});
  EXPECT_TRUE(
      WaitFor([&] { return Get(Router("local-1"), "www.example.com").code == 200; }, seconds(10)));
}

TEST_F(RoutingCertsE2E, DestroyRemovesTheAppsDomainsCertificateAndRoutes) {
  DeployHello("hello", 1);
  CliOk({"apps", "create", "other"});
  CliOk({"domains", "add", "hello", "shop.example.com"});
  auto [crt, key] = Cert("hello", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay);
  CliOk({"certs", "add", "hello", "--cert", crt, "--key", key});
  ASSERT_TRUE(WaitFor([&] { return ServesHttps("hello.localhost", crt); }, seconds(10)));
  ASSERT_EQ(Get(Router("local-1"), "shop.example.com").code, 200);

  CliOk({"apps", "destroy", "hello", "--force"});
  // Out of every router (once the reload is through): its hosts are no app's
  // any more, HTTPS is refused.
  for (const char* server : {"local-1", "local-2"}) {
    EXPECT_TRUE(WaitFor(
        [&] {
          return Get(Router(server), "shop.example.com").code == 404 &&
                 Get(Router(server), "hello.localhost").code == 404 &&
                 Https(server, "hello.localhost", crt).exit_code != 0;
        },
        seconds(10)))
        << server << " " << Get(Router(server), "hello.localhost").code;
  }
  EXPECT_TRUE(Json({"certs", "ls", "--json"}).empty());
  // The domain is free for another app, and a new hello starts bare.
  CliOk({"domains", "add", "other", "shop.example.com"});
  CliOk({"apps", "create", "hello"});
  EXPECT_EQ(Json({"domains", "ls", "hello", "--json"})["domains"], nlohmann::json::array());
  EXPECT_TRUE(Json({"certs", "ls", "hello", "--json"}).empty());
}

// A certificate stored while no router could check it (every server down)
// that the routers then refuse: each keeps routing everything else, serving
// the app over HTTP only, and says so in an event.
TEST_F(RoutingCertsE2E, ARouterThatRefusesAStoredCertificateStillAppliesTheRest) {
  DeployHello("hello", 1);
  for (const char* server : {"local-1", "local-2"}) fleet_->agent(server).Signal(SIGKILL);
  for (const char* server : {"local-1", "local-2"}) {
    ASSERT_TRUE(fleet_->WaitStatus(server, "unreachable", seconds(10)));
  }
  auto [weak_crt, weak_key] =
      Cert("weak", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay, /*rsa_bits=*/1024);
  CliOk({"certs", "add", "hello", "--cert", weak_crt, "--key", weak_key});
  CliOk({"domains", "add", "hello", "www.example.com"});
  for (const char* server : {"local-1", "local-2"}) fleet_->StartAgent(server);
  for (const char* server : {"local-1", "local-2"}) {
    // The new domain is routed although the table carries a certificate nginx refuses.
    EXPECT_TRUE(
        WaitFor([&] { return Get(Router(server), "www.example.com").code == 200; }, seconds(20)))
        << server;
    EXPECT_NE(Https(server, "hello.localhost", weak_crt).exit_code, 0);
  }
  // One event per router; the controller records each after the router has
  // answered, so the second may come just after its router serves the domain.
  nlohmann::json events;
  auto refused = [&] {
    events = Json({"events", "-n", "1000", "--json"})["data"];
    int n = 0;
    for (const auto& e : events) {
      const std::string m = e.value("message", "");
      n += e.value("kind", "") == "router.refused" && Contains(m, "ee key too small") &&
           Contains(m, "it keeps serving hello with the certificate it had (HTTP only if none)");
    }
    return n;
  };
  EXPECT_TRUE(WaitFor([&] { return refused() >= 2; }, seconds(10))) << events.dump();
  EXPECT_EQ(refused(), 2) << events.dump();
}

TEST_F(RoutingCertsE2E, AppsShowGivesHttpsForTheHostsTheCertificateCovers) {
  DeployHello("hello", 1);
  CliOk({"domains", "add", "hello", "www.example.com"});
  const std::string http = std::to_string(Router("local-1"));
  const std::string https = std::to_string(TlsRouter("local-1"));
  auto urls = [&] { return Json({"apps", "show", "hello", "--json"})["urls"]; };
  EXPECT_EQ(urls(), nlohmann::json::array(
                        {"http://hello.localhost:" + http, "http://www.example.com:" + http}));
  auto [crt, key] = Cert("hello", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay);
  CliOk({"certs", "add", "hello", "--cert", crt, "--key", key});
  EXPECT_EQ(urls(), nlohmann::json::array(
                        {"https://hello.localhost:" + https, "http://www.example.com:" + http}));
  std::string shown = CliOk({"apps", "show", "hello"});
  EXPECT_TRUE(
      Contains(shown, "https://hello.localhost:" + https + "  http://www.example.com:" + http))
      << shown;
  CliOk({"certs", "rm", "hello"});
  EXPECT_EQ(urls()[0], "http://hello.localhost:" + http);
}

// `certs add` refuses an expired certificate, so one that has expired since is
// put into the store the way time would leave it: the controller stopped, the
// row replaced with sqlite3 (a real certificate that expired yesterday).
TEST_F(RoutingCertsE2E, StatusSaysWhenAStoredCertificateHasExpired) {
  DeployHello("hello", 1);
  auto [crt, key] = Cert("hello", {"hello.localhost"}, Now() - kDay, Now() + 90 * kDay);
  CliOk({"certs", "add", "hello", "--cert", crt, "--key", key});
  const int64_t until = Now() - kDay;
  auto [old_crt, old_key] = Cert("old", {"hello.localhost"}, Now() - 30 * kDay, until);
  fleet_->StopController(SIGTERM);
  auto update = RunProgram({"sqlite3", fleet_->controller_dir() + "/store.db",
                            "UPDATE app_certs SET cert_pem = CAST(readfile('" + old_crt +
                                "') AS TEXT), key_pem = CAST(readfile('" + old_key +
                                "') AS TEXT), not_after_ms = " + std::to_string(until) +
                                " WHERE app = 'hello'"});
  ASSERT_EQ(update.exit_code, 0) << update.err;
  fleet_->StartController();
  std::string status = CliOk({"status"});
  EXPECT_TRUE(Contains(status,
                       "certificates expiring within 30 days\n  hello  hello.localhost  "
                       "EXPIRED on " +
                           FormatRfc3339(until).substr(0, 10) +
                           "; replace it: dflow certs add hello --cert FILE --key FILE\n"))
      << status;
  EXPECT_TRUE(Contains(CliOk({"certs", "ls", "hello"}), " (EXPIRED)"));
}

}  // namespace
}  // namespace dflow::testing
