#include "tests/fakes/fake_dokku_env.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>

namespace fake_dokku {
namespace {

// Go's %q (strconv.Quote) for the library's error text.
std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char hex[8];
          std::snprintf(hex, sizeof(hex), "\\x%02x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

bool IsSpace(char c) { return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' '; }
bool IsAnySpace(char c) { return IsSpace(c) || c == '\n'; }

// `\n` and `\r` become the characters; then a backslash before anything but
// `$` is dropped (the library's escape and unescape passes).
std::string ExpandEscapes(const std::string& s) {
  std::string first;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] != '\n') {
      char c = s[i + 1];
      first += c == 'n' ? std::string("\n") : c == 'r' ? std::string("\r") : s.substr(i, 2);
      ++i;
    } else {
      first += s[i];
    }
  }
  std::string out;
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i] == '\\' && i + 1 < first.size() && first[i + 1] != '$') {
      out += first[++i];
    } else {
      out += first[i];
    }
  }
  return out;
}

// `\$…` loses its backslash; `$NAME`/`${NAME}` expands from what was read so far.
std::string ExpandVariables(const std::string& s, const EnvMap& vars) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    bool escaped = s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '$';
    if (!escaped && s[i] != '$') {
      out += s[i++];
      continue;
    }
    size_t start = i;
    size_t j = i + (escaped ? 2 : 1);
    if (j < s.size() && s[j] == '(') ++j;
    if (j < s.size() && s[j] == '{') ++j;
    size_t name_start = j;
    while (j < s.size() && (isupper(static_cast<unsigned char>(s[j])) ||
                            isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) {
      ++j;
    }
    std::string name = s.substr(name_start, j - name_start);
    if (j < s.size() && s[j] == '}') ++j;
    std::string match = s.substr(start, j - start);
    if (escaped) {
      out += match.substr(1);
    } else if (!name.empty()) {
      auto it = vars.find(name);
      if (it != vars.end()) out += it->second;
    } else {
      out += match;
    }
    i = j;
  }
  return out;
}

// Reads one value at the start of `src`; returns what follows it.
std::string ExtractValue(const std::string& src, size_t pos, const EnvMap& vars,
                         std::string* value) {
  char quote = pos < src.size() ? src[pos] : '\0';
  if (quote != '"' && quote != '\'') {
    size_t eol = src.find_first_of("\n\r", pos);
    if (eol == std::string::npos) eol = src.size();
    std::string line = src.substr(pos, eol - pos);
    size_t end = line.size();
    for (size_t i = line.size(); i-- > 1;) {
      if (line[i] == '#' && IsSpace(line[i - 1])) {
        end = i;
        break;
      }
    }
    std::string v = line.substr(0, end);
    while (!v.empty() && IsSpace(v.back())) v.pop_back();
    size_t lead = 0;
    while (lead < v.size() && IsSpace(v[lead])) ++lead;
    *value = ExpandVariables(v.substr(lead), vars);
    return src.substr(eol);
  }
  for (size_t i = pos + 1; i < src.size(); ++i) {
    if (src[i] != quote || src[i - 1] == '\\') continue;
    std::string v = src.substr(pos, i - pos);
    while (!v.empty() && v.back() == quote) v.pop_back();
    size_t lead = 0;
    while (lead < v.size() && v[lead] == quote) ++lead;
    v = v.substr(lead);
    if (quote == '"') v = ExpandVariables(ExpandEscapes(v), vars);
    *value = v;
    return src.substr(i + 1);
  }
  size_t eol = src.find('\n', pos);
  throw EnvParseError{"unterminated quoted value " +
                      src.substr(pos, (eol == std::string::npos ? src.size() : eol) - pos)};
}

}  // namespace

bool GoAtoi(const std::string& s, long long* out) {
  size_t i = 0;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return false;
  unsigned long long magnitude = 0;
  for (; i < s.size(); ++i) {
    if (!isdigit(static_cast<unsigned char>(s[i]))) return false;
    magnitude = magnitude * 10 + static_cast<unsigned>(s[i] - '0');
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX) + 1) return false;
  }
  if (!negative && magnitude > static_cast<unsigned long long>(LLONG_MAX)) return false;
  *out = negative ? static_cast<long long>(0 - magnitude) : static_cast<long long>(magnitude);
  return true;
}

std::string MarshalEnv(const EnvMap& env) {
  std::vector<std::string> lines;
  for (const auto& [key, value] : env) {
    long long n = 0;
    if (GoAtoi(value, &n)) {
      lines.push_back(key + "=" + std::to_string(n));
      continue;
    }
    std::string escaped;
    for (char c : value) {
      switch (c) {
        case '\n':
          escaped += "\\n";
          break;
        case '\r':
          escaped += "\\r";
          break;
        case '\\':
        case '"':
        case '!':
        case '$':
        case '`':
          escaped += '\\';
          escaped += c;
          break;
        default:
          escaped += c;
      }
    }
    lines.push_back(key + "=\"" + escaped + "\"");
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

EnvMap ParseEnv(const std::string& input) {
  std::string src;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r' && i + 1 < input.size() && input[i + 1] == '\n') continue;
    src += input[i];
  }
  EnvMap out;
  std::string rest = src;
  while (true) {
    size_t pos = 0;
    while (true) {  // skip blank space and comment lines
      while (pos < rest.size() && IsAnySpace(rest[pos])) ++pos;
      if (pos >= rest.size()) return out;
      if (rest[pos] != '#') break;
      size_t nl = rest.find('\n', pos);
      if (nl == std::string::npos) return out;
      pos = nl;
    }
    if (rest.compare(pos, 6, "export") == 0 && pos + 6 < rest.size() && IsSpace(rest[pos + 6])) {
      pos += 6;
      while (pos < rest.size() && IsSpace(rest[pos])) ++pos;
    }
    size_t key_start = pos, eq = std::string::npos;
    for (size_t i = pos; i < rest.size(); ++i) {
      char c = rest[i];
      if (IsSpace(c)) continue;
      if (c == '=' || c == ':') {
        eq = i;
        break;
      }
      if (c == '_' || c == '.' || isalnum(static_cast<unsigned char>(c))) continue;
      throw EnvParseError{"unexpected character " + GoQuote(std::string(1, c)) +
                          " in variable name near " + GoQuote(rest.substr(pos))};
    }
    if (eq == std::string::npos) throw EnvParseError{"zero length string"};
    std::string key = rest.substr(key_start, eq - key_start);
    while (!key.empty() && isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    size_t value_pos = eq + 1;
    while (value_pos < rest.size() && IsSpace(rest[value_pos])) ++value_pos;
    std::string value;
    rest = ExtractValue(rest, value_pos, out, &value);
    out[key] = value;
  }
}

std::string SingleQuoteEscape(const std::string& v) {
  std::string out;
  for (char c : v) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out;
}

std::string Columnize(const std::vector<std::vector<std::string>>& rows,
                      const std::string& prefix) {
  std::vector<size_t> widths;
  std::vector<std::vector<std::string>> cells = rows;
  for (auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) {
      auto& cell = row[i];
      size_t b = cell.find_first_not_of(" \t\n\r\v\f");
      size_t e = cell.find_last_not_of(" \t\n\r\v\f");
      cell = b == std::string::npos ? "" : cell.substr(b, e - b + 1);
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], cell.size());
    }
  }
  std::string out;
  for (size_t r = 0; r < cells.size(); ++r) {
    std::string line = prefix;
    for (size_t i = 0; i < cells[r].size(); ++i) {
      const std::string& cell = cells[r][i];
      if (i + 1 == cells[r].size()) {
        line += cell;
      } else {
        line += cell + std::string(widths[i] - cell.size() + 2, ' ');
      }
    }
    out += (r ? "\n" : "") + line;
  }
  return out;
}

}  // namespace fake_dokku
