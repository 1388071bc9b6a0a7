// The router against real nginx on loopback, with Python http.server backends.
#include "agent/router/router.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "agent/runtime/runtime_test_support.h"
#include "common/files.h"
#include "common/loopback.h"
#include "common/process.h"
#include "common/x509.h"

namespace dflow::agent {
namespace {

using testing::TempDir;
using testing::WaitFor;

struct Http {
  int code = 0;
  std::string body;
};

// GET through curl with a Host header (scheme http or https, -k for https).
Http Get(const std::string& scheme, int port, const std::string& host) {
  PosixProcessRunner runner;
  ProcessSpec spec;
  std::string url = scheme + "://" + host + ":" + std::to_string(port) + "/";
  spec.argv = {"curl",
               "-sS",
               "-k",
               "-m",
               "3",
               "--resolve",
               host + ":" + std::to_string(port) + ":127.0.0.1",
               "-o",
               "-",
               "-w",
               "\n%{http_code}",
               url};
  auto r = runner.Run(spec);
  Http h;
  if (!r.ok()) return h;
  auto nl = r->stdout_data.rfind('\n');
  if (nl == std::string::npos) {
    h.body = r->stderr_data;
    return h;
  }
  h.code = std::atoi(r->stdout_data.substr(nl + 1).c_str());
  h.body = r->stdout_data.substr(0, nl);
  if (h.code == 0) h.body = r->stderr_data;
  return h;
}

// A python3 http.server serving a directory whose index.html is `text`.
class Backend {
 public:
  Backend(const std::string& dir, const std::string& text) : port_(FreeLoopbackPort()) {
    EXPECT_TRUE(EnsureDir(dir, 0700).ok());
    EXPECT_TRUE(WriteFileAtomic(dir + "/index.html", text, 0644).ok());
    auto pid = SpawnDetached({.argv = {"python3", "-m", "http.server", std::to_string(port_),
                                       "--bind", "127.0.0.1", "--directory", dir},
                              .log_path = dir + "/../" + text + ".log"});
    EXPECT_TRUE(pid.ok());
    pid_ = pid.value_or(0);
    EXPECT_TRUE(WaitFor([&] { return Get("http", port_, "127.0.0.1").code == 200; }));
  }
  ~Backend() {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
  int port() const { return port_; }

 private:
  int port_;
  int pid_ = 0;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreeLoopbackPort();
    do {
      tls_port_ = FreeLoopbackPort();
    } while (tls_port_ == port_);  // neither is held until nginx binds them
    auto r = Router::Start({.dir = tmp_.path() + "/router",
                            .listen = "127.0.0.1:" + std::to_string(port_),
                            .tls_listen = "127.0.0.1:" + std::to_string(tls_port_)});
    ASSERT_TRUE(r.ok()) << r.status();
    router_ = std::move(*r);
  }

  AppRoute Hello(std::vector<int> ports) {
    AppRoute app{.app = "hello", .hosts = {"hello.localhost", "www.example.com"}};
    for (int p : ports) app.backends.push_back({"127.0.0.1", p, "i" + std::to_string(p), "s1"});
    return app;
  }

  TempDir tmp_;
  int port_ = 0, tls_port_ = 0;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, UnknownHostIs404AndEmptyAppIs503) {
  Http h = Get("http", port_, "nobody.localhost");
  EXPECT_EQ(h.code, 404);
  EXPECT_NE(h.body.find("no app is routed for host nobody.localhost"), std::string::npos);
  ASSERT_TRUE(router_->Apply({.version = 1, .apps = {Hello({})}}).ok());
  h = Get("http", port_, "hello.localhost");
  EXPECT_EQ(h.code, 503);
  EXPECT_NE(h.body.find("app hello has no healthy instances"), std::string::npos);
}

TEST_F(RouterTest, BalancesAcrossBackendsByHost) {
  Backend a(tmp_.path() + "/a", "a"), b(tmp_.path() + "/b", "b");
  ASSERT_TRUE(router_->Apply({.version = 2, .apps = {Hello({a.port(), b.port()})}}).ok());
  EXPECT_EQ(router_->state().version, 2);
  std::set<std::string> seen;
  ASSERT_TRUE(WaitFor([&] {
    for (const char* host : {"hello.localhost", "www.example.com"}) {
      Http h = Get("http", port_, host);
      if (h.code == 200) seen.insert(h.body);
    }
    return seen.size() == 2;
  }));
  EXPECT_EQ(seen, (std::set<std::string>{"a", "b"}));

  // One backend gone: every request still answers from the other.
  ASSERT_TRUE(router_->Apply({.version = 3, .apps = {Hello({b.port()})}}).ok());
  ASSERT_TRUE(WaitFor([&] { return Get("http", port_, "hello.localhost").body == "b"; }));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Get("http", port_, "hello.localhost").body, "b");
}

TEST_F(RouterTest, RefusedTablesAndConfigsKeepTheOldRoutes) {
  Backend a(tmp_.path() + "/a", "a");
  ASSERT_TRUE(router_->Apply({.version = 1, .apps = {Hello({a.port()})}}).ok());
  ASSERT_TRUE(WaitFor([&] { return Get("http", port_, "hello.localhost").body == "a"; }));

  AppRoute bad = Hello({a.port()});
  bad.hosts.push_back("bad_name.example.com");
  absl::Status s = router_->Apply({.version = 2, .apps = {bad}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"bad_name.example.com\" is not a valid DNS name"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("the previous routes keep serving"), std::string::npos) << s;

  // Text that is no certificate is refused before nginx sees it.
  AppRoute garbage = Hello({a.port()});
  garbage.cert_pem = "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
  garbage.key_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  s = router_->Apply({.version = 3, .apps = {garbage}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("certificate of app hello: cannot parse the certificate PEM"),
            std::string::npos)
      << s;

  // A certificate nginx cannot load (an RSA key below OpenSSL's security
  // level): `nginx -t` refuses it, nothing is reloaded.
  auto weak = tls::MakeSelfSignedCertificate(
      {{"hello.localhost"}, 0, int64_t{4'000'000'000} * 1000, /*rsa_bits=*/1024});
  ASSERT_TRUE(weak.ok()) << weak.status();
  AppRoute refused = Hello({a.port()});
  refused.cert_pem = weak->cert_pem;
  refused.key_pem = weak->key_pem;
  s = router_->Apply({.version = 3, .apps = {refused}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("ee key too small"), std::string::npos) << s;
  EXPECT_NE(s.message().find("nginx -t refused the new routing config"), std::string::npos) << s;
  EXPECT_EQ(router_->state().version, 1);
  EXPECT_NE(router_->state().last_error.find("nginx -t refused"), std::string::npos);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Get("http", port_, "hello.localhost").body, "a");

  // A good table clears the error.
  ASSERT_TRUE(router_->Apply({.version = 4, .apps = {Hello({a.port()})}}).ok());
  EXPECT_EQ(router_->state().last_error, "");
}

TEST_F(RouterTest, ServesCertificatesOverTls) {
  Backend a(tmp_.path() + "/a", "a");
  // A server certificate made by the openssl tool, as a user would.
  const std::string k = tmp_.path() + "/key.pem", c = tmp_.path() + "/cert.pem";
  PosixProcessRunner runner;
  auto made = runner.Run({.argv = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", k, "-out",
                                   c, "-days", "30", "-subj", "/CN=hello.localhost", "-addext",
                                   "subjectAltName=DNS:hello.localhost,DNS:www.example.com"}});
  ASSERT_TRUE(made.ok() && made->exit_code == 0) << (made.ok() ? made->stderr_data : "");
  auto key = ReadFile(k);
  auto cert = ReadFile(c);
  ASSERT_TRUE(key.ok() && cert.ok());
  AppRoute app = Hello({a.port()});
  app.cert_pem = *cert;
  app.key_pem = *key;
  ASSERT_TRUE(router_->Apply({.version = 1, .apps = {app}}).ok());
  Http h;
  ASSERT_TRUE(WaitFor([&] {
    h = Get("https", tls_port_, "hello.localhost");
    return h.body == "a";
  })) << h.code
      << " " << h.body << " " << ReadFile(tmp_.path() + "/router/nginx.conf").value_or("");
  EXPECT_EQ(Get("http", port_, "hello.localhost").body, "a");
}

TEST_F(RouterTest, ServesTlsOnlyForTheHostsTheCertificateCovers) {
  Backend a(tmp_.path() + "/a", "a");
  auto cert = tls::MakeSelfSignedCertificate(
      {{"*.localhost"}, 0, int64_t{4'000'000'000} * 1000});  // not www.example.com
  ASSERT_TRUE(cert.ok()) << cert.status();
  AppRoute app = Hello({a.port()});
  app.cert_pem = cert->cert_pem;
  app.key_pem = cert->key_pem;
  ASSERT_TRUE(router_->Apply({.version = 1, .apps = {app}}).ok());
  EXPECT_TRUE(WaitFor([&] { return Get("https", tls_port_, "hello.localhost").body == "a"; }));
  const std::string conf = ReadFile(tmp_.path() + "/router/nginx.conf").value_or("");
  EXPECT_NE(conf.find(" ssl;\n    server_name hello.localhost;\n"), std::string::npos) << conf;
  // A name no certificate covers is refused at the handshake, never given another app.
  Http other = Get("https", tls_port_, "www.example.com");
  EXPECT_EQ(other.code, 0);
  EXPECT_NE(other.body.find("unrecognized name"), std::string::npos) << other.body;
  EXPECT_EQ(Get("http", port_, "www.example.com").body, "a");
}

TEST_F(RouterTest, RestartsNginxThatDied) {
  Backend a(tmp_.path() + "/a", "a");
  ASSERT_TRUE(router_->Apply({.version = 1, .apps = {Hello({a.port()})}}).ok());
  ASSERT_TRUE(WaitFor([&] { return Get("http", port_, "hello.localhost").body == "a"; }));
  int pid = router_->state().pid;
  ASSERT_GT(pid, 0);
  std::vector<int> workers;  // "PID (nginx) S PPID ..."
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    auto stat = ReadFile(e.path().string() + "/stat");
    auto close = stat.ok() ? stat->rfind(") ") : std::string::npos;
    if (close != std::string::npos && std::atoi(stat->c_str() + close + 4) == pid) {
      workers.push_back(std::atoi(e.path().filename().c_str()));
    }
  }
  ASSERT_FALSE(workers.empty());
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitFor([&] {
    return router_->state().pid != pid && router_->state().pid > 0 &&
           Get("http", port_, "hello.localhost").body == "a";
  }));
  EXPECT_EQ(router_->state().restarts, 1);
  // The dead master's workers went with it: nothing of it holds the port.
  EXPECT_TRUE(WaitFor([&] {
    for (int w : workers) {
      auto stat = ReadFile("/proc/" + std::to_string(w) + "/stat");
      if (stat.ok() && stat->find(") Z ") == std::string::npos) return false;
    }
    return true;
  }));
}

TEST_F(RouterTest, ReplacesAMasterLeftByAnEarlierAgent) {
  router_.reset();
  // As after kill -9 of the agent: its nginx master is left running.
  const std::string dir = tmp_.path() + "/router";
  auto stale = SpawnDetached({.argv = {"/usr/sbin/nginx", "-p", dir, "-c", dir + "/nginx.conf",
                                       "-e", dir + "/logs/error.log", "-g", "daemon off;"},
                              .cwd = dir});
  ASSERT_TRUE(stale.ok()) << stale.status();
  ASSERT_TRUE(WaitFor([&] { return Get("http", port_, "nobody.localhost").code == 404; }));
  auto r = Router::Start({.dir = dir, .listen = "127.0.0.1:" + std::to_string(port_)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE((*r)->state().pid, *stale);
  EXPECT_TRUE(
      WaitFor([&] { return kill(*stale, 0) != 0 || waitpid(*stale, nullptr, WNOHANG) == *stale; }));
  EXPECT_EQ(Get("http", port_, "nobody.localhost").code, 404);
}

}  // namespace
}  // namespace dflow::agent
