#include "agent/runtime/procfile.h"

#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dflow::agent {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

bool IsName(absl::string_view s) {
  if (s.empty() || !IsNameStart(s[0])) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// One pass over a command, building words. Tracks, per word, whether it can
// still be a leading NAME=value assignment (only plain, unquoted characters
// before the first '=').
class Splitter {
 public:
  Splitter(absl::string_view command, const std::map<std::string, std::string>& env)
      : s_(command), env_(env) {}

  absl::StatusOr<CommandLine> Run() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t') {
        EndWord();
        ++i_;
      } else if (c == '#' && !in_word_) {
        break;
      } else if (c == '\'') {
        if (absl::Status st = SingleQuoted(); !st.ok()) return st;
      } else if (c == '"') {
        if (absl::Status st = DoubleQuoted(); !st.ok()) return st;
      } else if (c == '\\') {
        if (i_ + 1 >= s_.size()) return Error("ends with a lone backslash", i_);
        Opaque();
        word_ += s_[i_ + 1];
        i_ += 2;
      } else if (c == '$') {
        Opaque();
        if (absl::Status st = Dollar(); !st.ok()) return st;
      } else if (absl::string_view("|&;<>()`").find(c) != absl::string_view::npos) {
        return ShellSyntax(i_);
      } else {
        Plain(c);
        ++i_;
      }
    }
    EndWord();
    if (out_.argv.empty()) return Error("has no program to run", s_.size());
    return std::move(out_);
  }

 private:
  absl::Status Error(absl::string_view what, size_t pos) const {
    return absl::InvalidArgumentError(
        absl::StrCat("command `", s_, "` ", what, " (column ", pos + 1, ")"));
  }

  absl::Status ShellSyntax(size_t pos) const {
    std::string op(1, s_[pos]);
    if (pos + 1 < s_.size() && (s_[pos] == '&' || s_[pos] == '|' || s_[pos] == '>') &&
        s_[pos + 1] == s_[pos]) {
      op += s_[pos];
    }
    if (s_[pos] == '$') op = "$(";
    return absl::InvalidArgumentError(absl::StrCat(
        "command `", s_, "` uses `", op, "` (column ", pos + 1,
        "), which needs a shell; dflow runs Procfile commands without one (only words, quotes "
        "and $VARIABLES). Put pipes, redirections, `&&` and `;` in a script and run that, "
        "e.g. `web: ./start.sh`"));
  }

  void Plain(char c) {
    in_word_ = true;
    if (assign_possible_ && eq_pos_ < 0) {
      if (c == '=' && IsName(word_)) {
        eq_pos_ = static_cast<int>(word_.size());
      } else if (!IsNameChar(c)) {
        assign_possible_ = false;
      }
    }
    word_ += c;
  }

  // A quote, escape or expansion: the word exists even if empty, and whatever
  // came before '=' is no longer a plain name.
  void Opaque() {
    in_word_ = true;
    if (eq_pos_ < 0) assign_possible_ = false;
  }

  absl::Status SingleQuoted() {
    const size_t start = i_;
    Opaque();
    kept_ = true;
    const size_t end = s_.find('\'', i_ + 1);
    if (end == absl::string_view::npos) return Error("has an unterminated single quote", start);
    word_.append(s_.data() + i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return absl::OkStatus();
  }

  absl::Status DoubleQuoted() {
    const size_t start = i_;
    Opaque();
    kept_ = true;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() &&
          absl::string_view("\\\"$`").find(s_[i_ + 1]) != absl::string_view::npos) {
        word_ += s_[i_ + 1];
        i_ += 2;
      } else if (c == '$') {
        if (absl::Status st = Dollar(); !st.ok()) return st;
      } else if (c == '`') {
        return ShellSyntax(i_);
      } else {
        word_ += c;
        ++i_;
      }
    }
    if (i_ >= s_.size()) return Error("has an unterminated double quote", start);
    ++i_;
    return absl::OkStatus();
  }

  // At a '$': $NAME, ${NAME}, ${NAME:-default}; "$(" is refused; any other '$' is literal.
  absl::Status Dollar() {
    const size_t start = i_;
    ++i_;
    if (i_ < s_.size() && s_[i_] == '(') return ShellSyntax(start);
    if (i_ < s_.size() && s_[i_] == '{') {
      const size_t close = s_.find('}', i_);
      if (close == absl::string_view::npos) return Error("has an unterminated ${", start);
      absl::string_view inner = s_.substr(i_ + 1, close - i_ - 1);
      absl::string_view name = inner;
      absl::string_view fallback;
      bool has_fallback = false;
      if (size_t sep = inner.find(":-"); sep != absl::string_view::npos) {
        name = inner.substr(0, sep);
        fallback = inner.substr(sep + 2);
        has_fallback = true;
      }
      if (!IsName(name)) {
        return Error(absl::StrCat("uses ${", inner,
                                  "}, which dflow does not expand (use ${NAME} or "
                                  "${NAME:-default})"),
                     start);
      }
      auto it = env_.find(std::string(name));
      if (it != env_.end() && !(has_fallback && it->second.empty())) {
        word_ += it->second;
      } else if (has_fallback) {
        word_.append(fallback.data(), fallback.size());
      }
      i_ = close + 1;
      return absl::OkStatus();
    }
    if (i_ < s_.size() && IsNameStart(s_[i_])) {
      size_t end = i_;
      while (end < s_.size() && IsNameChar(s_[end])) ++end;
      auto it = env_.find(std::string(s_.substr(i_, end - i_)));
      if (it != env_.end()) word_ += it->second;
      i_ = end;
      return absl::OkStatus();
    }
    word_ += '$';
    return absl::OkStatus();
  }

  void EndWord() {
    if (in_word_) {
      if (out_.argv.empty() && assign_possible_ && eq_pos_ > 0) {
        out_.assignments[word_.substr(0, eq_pos_)] = word_.substr(eq_pos_ + 1);
      } else if (!word_.empty() || kept_) {
        out_.argv.push_back(word_);
      }
    }
    word_.clear();
    in_word_ = false;
    kept_ = false;
    assign_possible_ = true;
    eq_pos_ = -1;
  }

  absl::string_view s_;
  const std::map<std::string, std::string>& env_;
  size_t i_ = 0;
  CommandLine out_;
  std::string word_;
  bool in_word_ = false;
  bool kept_ = false;  // quoted: kept even when empty
  bool assign_possible_ = true;
  int eq_pos_ = -1;
};

}  // namespace

bool IsValidProcessType(absl::string_view type) {
  if (type.empty()) return false;
  for (char c : type) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<std::vector<ProcfileEntry>> ParseProcfile(absl::string_view text) {
  std::vector<ProcfileEntry> entries;
  std::map<std::string, int> seen;  // type -> line
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Procfile line ", line_no, ": expected `type: command`, got \"", line, "\""));
    }
    std::string type(line.substr(0, colon));
    if (!IsValidProcessType(type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Procfile line ", line_no, ": process type \"", type,
                       "\" may only use letters, digits, '_' and '-' (expected `type: command`)"));
    }
    std::string command(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (command.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Procfile line ", line_no, ": process type \"", type, "\" has no command"));
    }
    if (auto [it, inserted] = seen.emplace(type, line_no); !inserted) {
      return absl::InvalidArgumentError(absl::StrCat("Procfile line ", line_no, ": process type \"",
                                                     type, "\" is defined twice (first on line ",
                                                     it->second, ")"));
    }
    entries.push_back({.type = std::move(type), .command = std::move(command), .line = line_no});
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        "Procfile has no process types; add a line like `web: python3 app.py`");
  }
  return entries;
}

absl::StatusOr<CommandLine> ExpandCommand(absl::string_view command,
                                          const std::map<std::string, std::string>& env) {
  return Splitter(command, env).Run();
}

}  // namespace dflow::agent
