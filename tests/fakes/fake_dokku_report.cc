#include "tests/fakes/fake_dokku_report.h"

#include <algorithm>

namespace fake_dokku {
namespace {

std::string Replace(std::string s, char from, char to) {
  std::replace(s.begin(), s.end(), from, to);
  return s;
}

std::string RightPad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

ReportArgs ParseReportArgs(const std::vector<std::string>& args) {
  ReportArgs r;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--format" && i + 1 < args.size()) {
      r.format = args[++i];
      r.format_given = true;
    } else if (StartsWith(args[i], "--format=")) {
      r.format = args[i].substr(9);
      r.format_given = true;
    } else {
      rest.push_back(args[i]);
    }
  }
  if (!rest.empty() && (rest[0] == "--global" || !StartsWith(rest[0], "--"))) {
    r.app = rest[0];
    rest.erase(rest.begin());
  }
  if (!rest.empty()) r.info_flag = rest[0];
  return r;
}

void PrintGoReport(const GoReport& r, const std::string& format, const std::string& info_flag) {
  if (format != "stdout" && !info_flag.empty()) {
    Fail("--format flag cannot be specified when specifying an info flag");
  }
  if (format != "stdout" && format != "json") {
    Fail("Format must be \"stdout\" or \"json\": \"" + format + "\"");
  }
  if (format == "json") {
    json data = json::object();
    const std::string plugin_prefix = "--" + r.type + "-";
    for (const auto& [key, value] : r.flags) {
      std::string legacy = key.substr(2);
      if (r.trim_prefix && StartsWith(key, plugin_prefix)) {
        data[key.substr(plugin_prefix.size())] = value;
        if (r.emit_legacy) data[legacy] = value;
      } else {
        data[legacy] = value;
      }
    }
    Out(GoJson(data));
    return;
  }
  size_t length = 31;
  for (const auto& [key, value] : r.flags) length = std::max(length, key.size());
  if (info_flag.empty()) {
    Info2(r.app + " " + r.type + " information");
    for (const auto& [key, value] : r.flags) {
      std::string label = Replace(Replace(key.substr(2), '-', ' '), '.', ' ');
      if (r.uppercase_first && !label.empty()) label[0] = static_cast<char>(toupper(label[0]));
      Verbose(RightPad(label + ":", length) + value);
    }
    return;
  }
  if (auto it = r.flags.find(info_flag); it != r.flags.end()) {
    Out(it->second);
    return;
  }
  std::string valid;
  for (const auto& [key, value] : r.flags) valid += (valid.empty() ? "" : ", ") + key;
  Fail("Invalid flag passed, valid flags: " + valid);
}

void PrintBashReport(const std::string& type, const std::string& app,
                     const std::vector<std::pair<std::string, std::string>>& flags,
                     const std::string& info_flag) {
  if (info_flag.empty()) {
    Info2(app + " " + type + " information");
    for (const auto& [key, value] : flags) {
      std::string label = Replace(key.substr(2), '-', ' ') + ":";
      label[0] = static_cast<char>(toupper(label[0]));
      Verbose(RightPad(label, 30) + " " + RightPad(value, 25));  // printf "%-30s %-25s"
    }
    return;
  }
  std::string valid;
  for (const auto& [key, value] : flags) {
    valid += " " + key;
    if (key == info_flag) {
      if (value.empty()) Fail("not deployed");
      Out(value);
      return;
    }
  }
  Fail("Invalid flag passed, valid flags:" + valid);
}

}  // namespace fake_dokku
