#include "agent/runtime/dokku_cli.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dflow::agent {
namespace {

constexpr absl::string_view kBang = " !     ";

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return absl::StrCat(d.count() / 1000, " s");
  return absl::StrCat(d.count(), " ms");
}

// "dokku config:set shop": the subcommand and the app, nothing else.
std::string Describe(const DokkuCommand& c) {
  std::string what = absl::StrCat("dokku ", c.args.empty() ? "" : c.args[0]);
  if (!c.app.empty()) absl::StrAppend(&what, " ", c.app);
  return what;
}

std::vector<std::string> LastLines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  for (absl::string_view l : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    lines.emplace_back(absl::StripAsciiWhitespace(l));
  }
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - n);
  return lines;
}

}  // namespace

bool DokkuVersion::AtLeast(int a, int b, int c) const {
  if (major != a) return major > a;
  if (minor != b) return minor > b;
  return patch >= c;
}

std::string DokkuVersion::ToString() const { return absl::StrCat(major, ".", minor, ".", patch); }

absl::StatusOr<DokkuVersion> ParseDokkuVersion(const std::string& output) {
  absl::string_view text = absl::StripAsciiWhitespace(output);
  absl::ConsumePrefix(&text, "dokku version ");
  absl::ConsumePrefix(&text, "v");
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('.', 2));
  DokkuVersion v;
  if (parts.size() == 3) {
    absl::string_view patch = parts[2];
    size_t digits = 0;
    while (digits < patch.size() && absl::ascii_isdigit(patch[digits])) ++digits;
    if (absl::SimpleAtoi(parts[0], &v.major) && absl::SimpleAtoi(parts[1], &v.minor) &&
        digits > 0 && absl::SimpleAtoi(patch.substr(0, digits), &v.patch)) {
      return v;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "cannot read a Dokku version from `dokku version`, which printed \"", text, "\""));
}

std::vector<std::string> BangLines(const std::string& stderr_text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(stderr_text, '\n')) {
    if (absl::ConsumePrefix(&line, kBang)) out.emplace_back(line);
  }
  return out;
}

absl::Status DokkuFailure(const DokkuCommand& command, const ProcessResult& result,
                          const std::string& server) {
  const std::string what = Describe(command);
  if (result.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(what, " did not finish within ",
                                                    Seconds(command.deadline), " on server ",
                                                    server, " and was killed"));
  }
  if (result.exit_code == 20) {
    return absl::NotFoundError(
        absl::StrCat("app \"", command.app, "\" does not exist on server ", server));
  }
  std::vector<std::string> lines = BangLines(result.stderr_data);
  if (lines.empty()) lines = LastLines(result.stderr_data, 5);
  std::string exit = result.exit_code >= 0
                         ? absl::StrCat("exited with code ", result.exit_code)
                         : absl::StrCat("was killed by signal ", result.term_signal);
  if (lines.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, " on server ", server, " ", exit, " and printed no error"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat(absl::StrJoin(lines, "; "), " (", what, " on server ", server, " ", exit, ")"));
}

DokkuCli::DokkuCli(ProcessRunner* runner, std::string binary, std::string server_name)
    : runner_(runner), binary_(std::move(binary)), server_(std::move(server_name)) {}

absl::StatusOr<DokkuOutput> DokkuCli::Run(const DokkuCommand& command) const {
  ProcessSpec spec;
  spec.argv.push_back(binary_);
  spec.argv.insert(spec.argv.end(), command.args.begin(), command.args.end());
  spec.stdin_data = command.stdin_data;
  spec.deadline = command.deadline;
  if (command.out) {
    spec.on_output = [&](int, std::string_view chunk) { command.out(std::string(chunk)); };
  }
  absl::StatusOr<ProcessResult> r = runner_->Run(spec);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("cannot run ", Describe(command), " on server ", server_, ": ",
                                     r.status().message()));
  }
  if (r->timed_out || (r->exit_code != 0 && !command.accept_any_exit)) {
    return DokkuFailure(command, *r, server_);
  }
  DokkuOutput out;
  out.exit_code = r->exit_code;
  out.out = std::move(r->stdout_data);
  out.err = std::move(r->stderr_data);
  if (out.exit_code == 0) out.warnings = BangLines(out.err);
  return out;
}

absl::StatusOr<DokkuVersion> DokkuCli::Version() const {
  absl::StatusOr<DokkuOutput> r = Run({.args = {"version"}, .deadline = std::chrono::seconds(30)});
  if (!r.ok()) return r.status();
  return ParseDokkuVersion(r->out);
}

}  // namespace dflow::agent
