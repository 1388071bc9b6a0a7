// Human output for the CLI: aligned tables, byte sizes, ages.
#ifndef DFLOW_CLI_OUTPUT_H_
#define DFLOW_CLI_OUTPUT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

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

}  // namespace dflow::cli

#endif  // DFLOW_CLI_OUTPUT_H_
