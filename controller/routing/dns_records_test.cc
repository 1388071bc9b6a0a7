#include "controller/routing/dns_records.h"

#include <gtest/gtest.h>

namespace dflow::routing {
namespace {

store::Server S(const std::string& name, const std::string& address, bool draining = false) {
  store::Server s;
  s.name = name;
  s.address = address;
  s.draining = draining;
  s.last_heartbeat_ms = 1000 * static_cast<int64_t>(name.size());
  return s;
}

store::Instance I(const std::string& server, const std::string& state,
                  const std::string& process = "web") {
  store::Instance i;
  i.server = server;
  i.state = state;
  i.process = process;
  return i;
}

TEST(DnsRecords, OneRecordPerHostAndServerHoldingTheApp) {
  std::vector<store::Server> servers = {S("a", "10.0.0.1:7501"),
                                        S("b", "[2001:db8::2]:7501"),
                                        S("c", "web-3.internal:7501"),
                                        S("d", "10.0.0.4:7501"),
                                        S("e", "10.0.0.5:7501", /*draining=*/true),
                                        S("f", "10.0.0.6:7501")};
  std::vector<store::Instance> instances = {
      I("a", "running"), I("a", "running"),           I("b", "lost"),
      I("c", "pending"), I("d", "stopping"),          I("d", "failed"),
      I("e", "running"), I("f", "running", "worker"), I("f", "draining")};
  auto records = BuildDnsRecords({"shop.localhost", "shop.example.com"}, servers, instances,
                                 [](const std::string& s) { return s != "b"; });
  ASSERT_EQ(records.size(), 8u);
  struct Want {
    const char* host;
    const char* type;
    const char* value;
    const char* server;
    const char* status;
    int instances;
  } want[] = {
      {"shop.localhost", "A", "10.0.0.1", "a", "healthy", 2},
      {"shop.localhost", "AAAA", "2001:db8::2", "b", "unreachable", 1},
      {"shop.localhost", "CNAME", "web-3.internal", "c", "healthy", 1},
      {"shop.localhost", "A", "10.0.0.5", "e", "draining", 1},
      {"shop.example.com", "A", "10.0.0.1", "a", "healthy", 2},
  };
  for (size_t i = 0; i < std::size(want); ++i) {
    const auto& r = records[i];
    EXPECT_EQ(r.host, want[i].host) << i;
    EXPECT_EQ(r.type, want[i].type) << i;
    EXPECT_EQ(r.value, want[i].value) << i;
    EXPECT_EQ(r.server, want[i].server) << i;
    EXPECT_EQ(r.status, want[i].status) << i;
    EXPECT_EQ(r.instances, want[i].instances) << i;
  }
  EXPECT_EQ(records[1].unreachable_since_ms, 1000);
  EXPECT_EQ(records[0].unreachable_since_ms, 0);
}

TEST(DnsRecords, AnAppWithoutLiveWebInstancesHasNoRecords) {
  auto records = BuildDnsRecords({"x.localhost"}, {S("a", "10.0.0.1:1")},
                                 {I("a", "failed"), I("a", "running", "worker")},
                                 [](const std::string&) { return true; });
  EXPECT_TRUE(records.empty());
}

}  // namespace
}  // namespace dflow::routing
