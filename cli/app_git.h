// The git part of `dflow apps show`: the deploy branch, forge URL, whether a
// webhook secret is set (never the secret) and the last webhook delivery.
#ifndef DFLOW_CLI_APP_GIT_H_
#define DFLOW_CLI_APP_GIT_H_

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "absl/status/status.h"
#include "cli/client.h"

namespace dflow::cli {

// Adds "git" (branch, git_url, has_webhook_secret, last_delivery) to `app_json`.
absl::Status AddAppGitJson(Client& client, const std::string& app, nlohmann::json* app_json);
// Prints the rows under the app's table.
absl::Status PrintAppGit(Client& client, const std::string& app);

}  // namespace dflow::cli

#endif  // DFLOW_CLI_APP_GIT_H_
