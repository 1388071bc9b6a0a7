#include "controller/http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace dflow::http {
namespace {

TEST(HttpServerTest, PortZeroPicksAFreePortAndServes) {
  Server server({.listen = "127.0.0.1:0"});
  server.Get("/ping", [](const Request&) { return Response{.body = "pong\n"}; });
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());
  auto res = client.Get("/ping");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "pong\n");
}

TEST(HttpServerTest, AnAddressWithoutAPortIsRefusedNamingTheFlag) {
  Server server({.listen = "127.0.0.1"});
  absl::Status s = server.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--http-listen \"127.0.0.1\" is not HOST:PORT"), std::string::npos)
      << s;
}

// Before, a second server on the same port bound too (SO_REUSEPORT) and the
// kernel split the requests between the two.
TEST(HttpServerTest, APortAnotherServerHoldsIsRefused) {
  Server first({.listen = "127.0.0.1:0"});
  ASSERT_TRUE(first.Start().ok());
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  Server second({.listen = taken});
  absl::Status s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("cannot listen on " + taken + " for HTTP (is the port in use?)"),
            std::string::npos)
      << s;
}

TEST(HttpServerTest, ARestartedServerBindsItsPortAgainAtOnce) {
  int port = 0;
  {
    Server server({.listen = "127.0.0.1:0"});
    server.Get("/ping", [](const Request&) { return Response{.body = "pong\n"}; });
    ASSERT_TRUE(server.Start().ok());
    port = server.port();
    httplib::Client client("127.0.0.1", port);
    ASSERT_TRUE(client.Get("/ping"));  // leaves a connection in TIME_WAIT
  }
  Server again({.listen = "127.0.0.1:" + std::to_string(port)});
  EXPECT_TRUE(again.Start().ok());
}

}  // namespace
}  // namespace dflow::http
