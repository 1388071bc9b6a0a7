#include "agent/runtime/dokku_reports.h"

#include <time.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dflow::agent {
namespace {

using json = nlohmann::json;

std::string NormalizeKey(absl::string_view key) {
  std::string k = absl::AsciiStrToLower(absl::StripAsciiWhitespace(key));
  std::replace(k.begin(), k.end(), ' ', '-');
  std::replace(k.begin(), k.end(), '.', '-');
  return k;
}

std::string StripAnsi(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !absl::ascii_isalpha(s[i])) ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

// RFC 3339 with nanoseconds ("2026-12-01T09:43:27.123456789Z") → ms.
int64_t ParseTimestampMs(absl::string_view ts) {
  struct tm tm {};
  std::string s(ts);
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    int64_t frac = 0;
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits) {
      if (digits < 3) frac = frac * 10 + (*rest - '0');
    }
    for (int d = std::min(digits, 3); d < 3; ++d) frac *= 10;
    ms += frac;
  }
  return ms;
}

}  // namespace

absl::StatusOr<DokkuReport> ParseJsonReport(const std::string& out) {
  json j = json::parse(out, nullptr, false);
  if (!j.is_object()) {
    return absl::DataLossError(
        absl::StrCat("Dokku printed a report that is not a JSON object: ", out.substr(0, 200)));
  }
  DokkuReport r;
  for (const auto& [key, value] : j.items()) {
    r[NormalizeKey(key)] = value.is_string() ? value.get<std::string>() : value.dump();
  }
  return r;
}

DokkuReport ParseTextReport(const std::string& out) {
  DokkuReport r;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (!absl::ConsumePrefix(&line, "       ")) continue;  // the header and anything else
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    r[NormalizeKey(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return r;
}

std::string ReportValue(const DokkuReport& r, const std::string& plugin, const std::string& key) {
  if (auto it = r.find(key); it != r.end()) return it->second;
  if (auto it = r.find(plugin + "-" + key); it != r.end()) return it->second;
  return "";
}

absl::StatusOr<DokkuPsReport> ParsePsReport(const DokkuReport& r) {
  if (r.find("deployed") == r.end()) {
    return absl::DataLossError("the ps report has no \"deployed\" entry");
  }
  DokkuPsReport ps;
  ps.deployed = r.at("deployed") == "true";
  (void)absl::SimpleAtoi(ReportValue(r, "ps", "processes"), &ps.processes);
  ps.running = ReportValue(r, "ps", "running");
  for (const auto& [key, value] : r) {
    absl::string_view k = key;
    if (!absl::ConsumePrefix(&k, "status-")) continue;
    size_t dash = k.rfind('-');
    DokkuContainer c;
    if (dash == absl::string_view::npos || !absl::SimpleAtoi(k.substr(dash + 1), &c.index)) {
      continue;
    }
    c.process = std::string(k.substr(0, dash));
    // "running (CID: 0123456789a)"
    absl::string_view v = value;
    size_t paren = v.find(" (CID: ");
    c.status = std::string(v.substr(0, paren));
    if (paren != absl::string_view::npos) {
      c.cid = std::string(absl::StripSuffix(v.substr(paren + 7), ")"));
    }
    ps.containers.push_back(c);
  }
  std::sort(ps.containers.begin(), ps.containers.end(),
            [](const DokkuContainer& a, const DokkuContainer& b) {
              return std::tie(a.process, a.index) < std::tie(b.process, b.index);
            });
  return ps;
}

std::map<std::string, int> ParseScaleReport(const std::string& out) {
  std::map<std::string, int> scale;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, "----->") || absl::StartsWith(line, "proctype:") ||
        absl::StartsWith(line, "--------:")) {
      continue;
    }
    size_t colon = line.find(':');
    int n = 0;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &n)) {
      continue;
    }
    scale[std::string(absl::StripAsciiWhitespace(line.substr(0, colon)))] = n;
  }
  return scale;
}

std::vector<DokkuMount> ParseStorageList(const std::string& out) {
  std::vector<DokkuMount> mounts;
  json j = json::parse(out, nullptr, false);
  if (j.is_array()) {
    for (const auto& m : j) {
      if (!m.is_object()) continue;
      mounts.push_back({m.value("host_path", ""), m.value("container_path", "")});
    }
    return mounts;
  }
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "----->")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() < 2) continue;
    mounts.push_back({parts[0], parts[1]});
  }
  return mounts;
}

absl::StatusOr<std::map<std::string, std::string>> ParseConfigJson(const std::string& out) {
  json j = json::parse(out, nullptr, false);
  if (!j.is_object()) {
    return absl::DataLossError("config:export --format json did not print a JSON object");
  }
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : j.items()) env[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return env;
}

std::vector<LogLine> ParseDokkuLogs(const std::string& out) {
  std::vector<LogLine> lines;
  for (absl::string_view raw : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::string line = StripAnsi(raw);
    LogLine l;
    size_t space = line.find(' ');
    absl::string_view rest = line;
    if (space != std::string::npos && line.compare(space + 1, 4, "app[") == 0) {
      l.time_ms = ParseTimestampMs(absl::string_view(line).substr(0, space));
      rest = absl::string_view(line).substr(space + 5);
      size_t close = rest.find("]:");
      if (close != absl::string_view::npos) {
        l.instance = std::string(rest.substr(0, close));
        l.process = l.instance.substr(0, l.instance.rfind('.'));
        rest = rest.substr(close + 2);
        absl::ConsumePrefix(&rest, " ");
      }
    }
    l.text = std::string(rest);
    lines.push_back(std::move(l));
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const LogLine& a, const LogLine& b) { return a.time_ms < b.time_ms; });
  return lines;
}

int HttpHostPort(const DokkuReport& ports) {
  for (const char* key : {"map", "map-detected"}) {
    for (absl::string_view m : absl::StrSplit(ReportValue(ports, "ports", key), ' ')) {
      std::vector<absl::string_view> parts = absl::StrSplit(m, ':');
      int port = 0;
      if (parts.size() == 3 && parts[0] == "http" && absl::SimpleAtoi(parts[1], &port)) {
        return port;
      }
    }
  }
  return 0;
}

}  // namespace dflow::agent
