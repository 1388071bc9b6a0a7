// The DNS records that spread an app's hostnames over the servers holding its
// web instances (`dflow domains dns APP`): for every hostname, one A (IPv4) or
// AAAA (IPv6) record per such server with the server's address from the fleet
// (a CNAME when that address is a hostname). A server that is unreachable is
// still listed, marked, so the operator removes its record; servers holding
// only instances that are stopping, draining or failed are not listed. A pure function: no I/O.
#ifndef DFLOW_CONTROLLER_ROUTING_DNS_RECORDS_H_
#define DFLOW_CONTROLLER_ROUTING_DNS_RECORDS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "controller/store/store.h"

namespace dflow::routing {

struct DnsRecord {
  std::string host;
  std::string type;  // A | AAAA | CNAME
  std::string value;
  std::string server;
  std::string status;  // healthy | draining | unreachable
  int64_t unreachable_since_ms = 0;
  int instances = 0;  // the app's live web instances there
};

// Records by hostname (in `hosts` order), then by server name.
std::vector<DnsRecord> BuildDnsRecords(const std::vector<std::string>& hosts,
                                       const std::vector<store::Server>& servers,
                                       const std::vector<store::Instance>& instances,
                                       const std::function<bool(const std::string&)>& reachable);

}  // namespace dflow::routing

#endif  // DFLOW_CONTROLLER_ROUTING_DNS_RECORDS_H_
