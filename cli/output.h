// Human and machine output for the CLI: aligned tables, byte sizes, ages,
// times (RFC 3339 in JSON, null when unset), JSON printing, and a progress bar
// for uploads.
#ifndef DFLOW_CLI_OUTPUT_H_
#define DFLOW_CLI_OUTPUT_H_

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dflow::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "1.5 GiB"
std::string HumanBytes(int64_t bytes);
// "3s ago", "never"
std::string Ago(int64_t ms_since_epoch, int64_t now_ms);
// RFC 3339 for people: "-" when unset (0).
std::string HumanTime(int64_t ms_since_epoch);
// RFC 3339 string for JSON; null when unset (0).
nlohmann::json JsonTime(int64_t ms_since_epoch);
// "v3"; "-" for 0 (never released).
std::string ReleaseName(int64_t version);
// "k=v,k2=v2" sorted by key; "-" when empty.
std::string PairsText(const std::map<std::string, std::string>& pairs);
// A protobuf map (or any map) as a std::map, for sorted output.
template <typename M>
std::map<typename M::key_type, typename M::mapped_type> Sorted(const M& m) {
  return {m.begin(), m.end()};
}
// Pretty-printed JSON and a newline on stdout.
void PrintJson(const nlohmann::json& value);
// Whether stderr is an interactive terminal (progress bars redraw in place).
bool StderrIsTerminal();

// "upload [##########          ]  50%  1.0 MiB / 2.0 MiB"; `width` is the
// number of cells between the brackets.
std::string RenderProgressBar(absl::string_view label, int64_t done, int64_t total, int width);

// Progress of a transfer of known size. On a terminal it redraws one line in
// place; otherwise it writes a plain line at each quarter, so logs stay readable.
class Progress {
 public:
  Progress(std::ostream& out, bool terminal, std::string label, int64_t total);
  void Update(int64_t done);
  // Ends the line (terminal) or writes the final line (plain).
  void Finish();

 private:
  std::ostream& out_;
  bool terminal_;
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  int quarter_ = 0;  // plain mode: the last quarter written
  bool finished_ = false;
};

}  // namespace dflow::cli

#endif  // DFLOW_CLI_OUTPUT_H_
