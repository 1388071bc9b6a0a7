#include "controller/routing/dns_records.h"

#include <arpa/inet.h>

#include <map>

#include "common/names.h"

namespace dflow::routing {
namespace {

std::string RecordType(const std::string& address) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) return "A";
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) return "AAAA";
  return "CNAME";
}

}  // namespace

std::vector<DnsRecord> BuildDnsRecords(const std::vector<std::string>& hosts,
                                       const std::vector<store::Server>& servers,
                                       const std::vector<store::Instance>& instances,
                                       const std::function<bool(const std::string&)>& reachable) {
  std::map<std::string, int> live;  // server -> instances
  for (const auto& i : instances) {
    if (i.process != "web" || i.state == store::kInstanceStopping ||
        i.state == store::kInstanceDraining || i.state == store::kInstanceFailed) {
      continue;
    }
    live[i.server]++;
  }
  std::vector<DnsRecord> out;
  for (const auto& host : hosts) {
    for (const auto& s : servers) {  // ListServers orders by name
      auto n = live.find(s.name);
      if (n == live.end()) continue;
      std::string address;
      int port = 0;
      if (!SplitHostPort(s.address, &address, &port)) address = s.address;
      DnsRecord r{host, RecordType(address), address, s.name, "healthy", 0, n->second};
      if (!reachable(s.name)) {
        r.status = "unreachable";
        r.unreachable_since_ms = s.last_heartbeat_ms;
      } else if (s.draining) {
        r.status = "draining";
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace dflow::routing
