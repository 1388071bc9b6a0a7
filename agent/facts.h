// Facts about this host that the agent reports in every heartbeat.
#ifndef DFLOW_AGENT_FACTS_H_
#define DFLOW_AGENT_FACTS_H_

#include <string>

#include "dflow/controller/v1/types.pb.h"

namespace dflow::agent {

// Reads CPU count, memory (/proc/meminfo), disk of `data_dir` (statvfs) and the
// OS name (/etc/os-release). Missing sources leave their fields at zero/empty.
// `dokku_version` is the version the Dokku runtime detected ("" otherwise).
controller::v1::Facts CollectFacts(const std::string& data_dir, const std::string& runtime,
                                   const std::string& dokku_version = "");

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_FACTS_H_
