#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"

namespace dflow::cli {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%d B", bytes) : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string Ago(int64_t ms, int64_t now_ms) {
  if (ms == 0) return "never";
  int64_t s = std::max<int64_t>(0, (now_ms - ms) / 1000);
  if (s < 120) return absl::StrFormat("%ds ago", s);
  if (s < 7200) return absl::StrFormat("%dm ago", s / 60);
  return absl::StrFormat("%dh ago", s / 3600);
}

std::string HumanTime(int64_t ms) { return ms == 0 ? "-" : FormatRfc3339(ms); }

nlohmann::json JsonTime(int64_t ms) {
  if (ms == 0) return nullptr;
  return FormatRfc3339(ms);
}

std::string ReleaseName(int64_t version) { return version == 0 ? "-" : absl::StrCat("v", version); }

std::string PairsText(const std::map<std::string, std::string>& pairs) {
  if (pairs.empty()) return "-";
  return absl::StrJoin(pairs, ",", absl::PairFormatter("="));
}

void PrintJson(const nlohmann::json& value) { std::cout << value.dump(2) << "\n"; }

bool StderrIsTerminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) == 1 && !(term && std::string_view(term) == "dumb");
}

std::string RenderProgressBar(absl::string_view label, int64_t done, int64_t total, int width) {
  double fraction = total <= 0 ? 1.0 : std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
  int filled = static_cast<int>(fraction * width);
  return absl::StrFormat("%s [%s%s] %3d%%  %s / %s", label, std::string(filled, '#'),
                         std::string(width - filled, ' '), static_cast<int>(fraction * 100),
                         HumanBytes(std::min(done, total)), HumanBytes(total));
}

Progress::Progress(std::ostream& out, bool terminal, std::string label, int64_t total)
    : out_(out), terminal_(terminal), label_(std::move(label)), total_(total) {
  if (!terminal_) out_ << label_ << ": " << HumanBytes(total_) << "\n" << std::flush;
}

void Progress::Update(int64_t done) {
  done_ = done;
  if (terminal_) {
    out_ << "\r" << RenderProgressBar(label_, done_, total_, 30) << std::flush;
    return;
  }
  int quarter = total_ <= 0 ? 4 : static_cast<int>(std::min<int64_t>(4, done_ * 4 / total_));
  // The last quarter is Finish()'s line.
  if (quarter > quarter_ && quarter < 4) {
    quarter_ = quarter;
    out_ << label_ << ": " << quarter * 25 << "% (" << HumanBytes(done_) << " of "
         << HumanBytes(total_) << ")\n"
         << std::flush;
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    out_ << "\r" << RenderProgressBar(label_, done_, total_, 30) << "\n" << std::flush;
  } else {
    out_ << label_ << ": done (" << HumanBytes(done_) << ")\n" << std::flush;
  }
}

}  // namespace dflow::cli
