// `<plugin>:report` output, as Dokku prints it.
#ifndef DFLOW_TESTS_FAKES_FAKE_DOKKU_REPORT_H_
#define DFLOW_TESTS_FAKES_FAKE_DOKKU_REPORT_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tests/fakes/fake_dokku.h"

namespace fake_dokku {

struct GoReport {
  std::string type{};                          // "ps", "app", "domains", …
  std::string app{};                           // or "--global"
  std::map<std::string, std::string> flags{};  // "--ps-can-scale" -> "true"
  bool trim_prefix = true;                     // JSON keys lose "--<type>-"
  bool emit_legacy = true;                     // … and keep "<type>-…" too
  bool uppercase_first = true;
};

// Dokku's common.ReportSingleApp (plugins/common/common.go): `--format json`
// gives one compact line with sorted keys, the text form a header and keys
// padded to max(31, longest flag), one flag gives its value alone. Throws
// Failure for an unknown flag, an info flag with --format, a bad format.
void PrintGoReport(const GoReport& r, const std::string& format, const std::string& info_flag);

// The bash reports of Dokku before 0.38 (e.g. plugins/checks/internal-functions
// in 0.35): `printf "%-30s %-25s"` lines in report order (so trailing spaces),
// no JSON, an empty value asked by flag fails with "not deployed".
void PrintBashReport(const std::string& type, const std::string& app,
                     const std::vector<std::pair<std::string, std::string>>& flags,
                     const std::string& info_flag);

// Parses a report's own arguments: [APP|--global] [--format F] [--info-flag].
struct ReportArgs {
  std::string app;
  std::string format = "stdout";
  std::string info_flag;
  bool format_given = false;
};
ReportArgs ParseReportArgs(const std::vector<std::string>& args);

}  // namespace fake_dokku

#endif  // DFLOW_TESTS_FAKES_FAKE_DOKKU_REPORT_H_
