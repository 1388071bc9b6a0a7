// Reading what Dokku prints: `<plugin>:report` in its JSON and text forms,
// `ps:scale` formations, `storage:list`, `config:export --format json` and
// `logs`. Pure functions over the output text; the version rules are:
//   - `--format json` prints one object whose values are all strings. Since
//     0.38.8 the Go reports carry unprefixed keys (`can-scale`) beside the older
//     prefixed ones (`ps-can-scale`); before, prefixed only. Domains and checks
//     reports have JSON only since 0.38, unprefixed.
//   - The text form is `=====> APP plugin information` and lines of 7 spaces,
//     `Key:` padded, the value; bash reports (0.35's domains, checks, storage)
//     pad values too (trailing spaces) and keep report order.
// Both forms become one map with normalized keys: lowercase, spaces and dots
// turned into '-' ("Ps can scale" and "ps-can-scale" → "ps-can-scale",
// "Status web 1" and "status-web.1" → "status-web-1").
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_REPORTS_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_REPORTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/runtime.h"

namespace dflow::agent {

using DokkuReport = std::map<std::string, std::string>;

absl::StatusOr<DokkuReport> ParseJsonReport(const std::string& out);
DokkuReport ParseTextReport(const std::string& out);
// `key` itself, else `<plugin>-<key>` (the prefixed form older versions use).
std::string ReportValue(const DokkuReport& r, const std::string& plugin, const std::string& key);

struct DokkuContainer {
  std::string process;
  int index = 0;
  std::string status;  // Docker's State.Status: running, exited, … ; "missing"
  std::string cid;     // 11 characters
};

struct DokkuPsReport {
  bool deployed = false;
  int processes = 0;
  std::string running;                     // "true" | "false" | "mixed"
  std::vector<DokkuContainer> containers;  // by process, then index
};
absl::StatusOr<DokkuPsReport> ParsePsReport(const DokkuReport& r);

// `ps:scale APP` (no tuples): "web:  2" lines under the header.
std::map<std::string, int> ParseScaleReport(const std::string& out);

struct DokkuMount {
  std::string host_path;
  std::string container_path;
  bool operator==(const DokkuMount& o) const {
    return host_path == o.host_path && container_path == o.container_path;
  }
};
// storage:list in any form: 0.38 JSON, 0.35 JSON (indented, jq), text with or
// without the header.
std::vector<DokkuMount> ParseStorageList(const std::string& out);

// `config:export --format json`: a flat object of strings.
absl::StatusOr<std::map<std::string, std::string>> ParseConfigJson(const std::string& out);

// `logs APP`: "TIMESTAMP app[web.1]: text" lines (colours stripped); each
// LogLine's `instance` is the dyno ("web.1"), `process` its type.
std::vector<LogLine> ParseDokkuLogs(const std::string& out);

// The host port of the first http mapping of a ports report ("http:80:5000"
// → 80), from `map` or else `map-detected`; 0 when there is none.
int HttpHostPort(const DokkuReport& ports);

}  // namespace dflow::agent

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_REPORTS_H_
