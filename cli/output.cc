#include "cli/output.h"

#include <algorithm>

#include "absl/strings/str_format.h"

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

}  // namespace dflow::cli
