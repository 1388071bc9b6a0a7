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

}  // namespace
}  // namespace dflow::http
