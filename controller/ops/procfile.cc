#include "controller/ops/procfile.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dflow::ops {

bool IsValidProcessType(absl::string_view type) {
  if (type.empty()) return false;
  for (char c : type) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<std::map<std::string, std::string>> ParseProcfileTypes(absl::string_view text) {
  std::map<std::string, std::string> types;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("Procfile line ", line_no, ": \"", line, "\" is not `type: command`"));
    }
    std::string type(absl::StripAsciiWhitespace(line.substr(0, colon)));
    std::string command(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (!IsValidProcessType(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Procfile line ", line_no, ": process type \"", type,
                       "\" is not allowed: use letters, digits, '_' and '-'"));
    }
    if (command.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Procfile line ", line_no, ": process type \"", type, "\" has no command"));
    }
    if (!types.emplace(type, command).second) {
      return absl::InvalidArgumentError(absl::StrCat("Procfile line ", line_no, ": process type \"",
                                                     type, "\" is declared twice"));
    }
  }
  return types;
}

std::vector<std::string> ScalableTypes(const std::map<std::string, std::string>& types) {
  std::vector<std::string> out;
  for (const auto& [type, command] : types) {
    if (type != kReleaseProcess) out.push_back(type);
  }
  return out;
}

}  // namespace dflow::ops
