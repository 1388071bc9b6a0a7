// Helpers for the CLI's tests: temporary directories, running a command line
// the way main() does, and capturing what it prints.
#ifndef DFLOW_CLI_TEST_UTIL_H_
#define DFLOW_CLI_TEST_UTIL_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command.h"

namespace dflow::cli {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dflow-cli-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(path_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }

 private:
  std::string path_;
};

// What a command returned and printed.
struct CommandResult {
  absl::Status status;
  std::optional<int> exit_code;  // Globals::exit_code after the action
  std::string out;
  std::string err;
};

// Parses `args` (without the program name) with the issue-4 command groups
// registered, as main() does, and runs the action against `controller`.
inline CommandResult RunCommand(const std::vector<std::string>& args,
                                const std::string& controller) {
  CommandResult result;
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  {
    CLI::App app;
    app.require_subcommand(1);
    Globals g;
    g.controller = controller;
    for (auto r : {RegisterApps, RegisterDeploy, RegisterScale, RegisterConfig, RegisterReleases,
                   RegisterRun, RegisterOps, RegisterDokku}) {
      r(app, g);
    }
    std::vector<const char*> argv = {"dflow"};
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
      result.status = g.action ? g.action() : absl::InternalError("no action");
      result.exit_code = g.exit_code;
    } catch (const CLI::ParseError& e) {
      result.status = UsageError(absl::StrCat("parse: ", e.what()));
    }
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

}  // namespace dflow::cli

#endif  // DFLOW_CLI_TEST_UTIL_H_
