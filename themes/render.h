// Rendering a validated theme for one install: its inputs (defaults merged
// with what the user set), its generated secrets, its services' connection
// details and the app's own name and URL become the env and domains the app
// gets. Pure: no I/O, no code execution.
#ifndef DFLOW_THEMES_RENDER_H_
#define DFLOW_THEMES_RENDER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "themes/theme.h"

namespace dflow::themes {

struct ServiceConnection {
  std::string url;  // e.g. postgres://user:password@host:5432/database
  std::string host, port, user, password, database;
};

// Splits a service URL (scheme://user:password@host:port/database) into its
// parts; percent-escapes in user and password are decoded.
absl::StatusOr<ServiceConnection> SplitServiceUrl(const std::string& url);

struct RenderContext {
  std::string app_name;
  std::string app_url;                         // http(s)://host[:port]
  std::map<std::string, std::string> inputs;   // what the user set (--set k=v)
  std::map<std::string, std::string> secrets;  // every secret of the theme
  std::map<std::string, ServiceConnection> services;
};

struct RenderedTheme {
  std::map<std::string, std::string> inputs;             // defaults merged with what was set
  std::vector<std::pair<std::string, std::string>> env;  // in manifest order
  std::vector<std::string> domains;
};

// Checks a value for an input (type and pattern); the message names the input.
absl::Status ValidateInputValue(const Input& input, const std::string& value);

// Inputs the user set must exist and be valid, required inputs without a
// default must be set; every reference must have a value.
absl::StatusOr<RenderedTheme> Render(const Theme& theme, const RenderContext& ctx);

// The template values of a context: "inputs.x", "secrets.y", "services.db.host",
// "app.name", "app.url", "app.host", "app.scheme".
std::map<std::string, std::string> TemplateValues(const Theme& theme,
                                                  const std::map<std::string, std::string>& inputs,
                                                  const RenderContext& ctx);

}  // namespace dflow::themes

#endif  // DFLOW_THEMES_RENDER_H_
