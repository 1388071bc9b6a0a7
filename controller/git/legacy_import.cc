#include "controller/git/legacy_import.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "controller/git/keys.h"
#include "controller/store/store.h"

namespace dflow::git {
namespace {

absl::Status Retire(const std::string& path) {
  std::string to = path + ".imported";
  if (std::rename(path.c_str(), to.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("imported ", path,
                                            " into the store but cannot rename "
                                            "it to ",
                                            to, "; rename or remove it by hand"));
  }
  spdlog::info("imported {} into the store (kept as {})", path, to);
  return absl::OkStatus();
}

absl::Status ImportKeys(store::Store* store, const std::string& path) {
  if (!FileExists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) {
    return absl::DataLossError(absl::StrCat(path,
                                            " is not a JSON array of keys; fix or remove it "
                                            "and add the keys again with `dflow keys add`"));
  }
  for (const auto& k : j) {
    if (!k.is_object()) continue;
    PushKey key;
    auto text_of = [&k](const char* f) {
      auto it = k.find(f);
      return it != k.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    key.name = text_of("name");
    std::string line = text_of("type") + " " + text_of("blob");
    if (!ValidateKeyName(key.name).ok() || !ParsePublicKey(line, &key).ok()) {
      spdlog::warn("{}: skipped key \"{}\", which is not valid", path, key.name);
      continue;
    }
    if (auto it = k.find("apps"); it != k.end() && it->is_array()) {
      for (const auto& a : *it) {
        if (a.is_string() && ValidateAppName(a.get<std::string>()).ok()) {
          key.apps.push_back(a.get<std::string>());
        }
      }
    }
    key.all_apps = k.value("all_apps", false) == true;
    if (auto it = k.find("added_at_ms"); it != k.end() && it->is_number_integer()) {
      key.added_at_ms = it->get<int64_t>();
    }
    if (auto s = store->AddPushKey(key); !s.ok() && !absl::IsAlreadyExists(s)) return s;
  }
  return Retire(path);
}

absl::Status ImportSecrets(store::Store* store, const std::string& dir) {
  if (!FileExists(dir)) return absl::OkStatus();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string app = e.path().filename().string();
    if (!e.is_regular_file() || !ValidateAppName(app).ok()) continue;
    ASSIGN_OR_RETURN(std::string secret, ReadFile(e.path().string()));
    secret = std::string(absl::StripAsciiWhitespace(secret));
    if (secret.empty() || !store->GetApp(app).ok()) continue;
    ASSIGN_OR_RETURN(store::AppGit g, store->GetAppGit(app));
    if (!g.webhook_secret.empty()) continue;  // set since: the store wins
    store::AppGitUpdate u;
    u.webhook_secret = secret;
    RETURN_IF_ERROR(store->UpdateAppGit(app, u).status());
  }
  return Retire(dir);
}

absl::Status ImportDeliveries(store::Store* store, const std::string& path) {
  if (!FileExists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // forge:app:delivery
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    store::WebhookDelivery d;
    d.forge = f[0];
    d.app = f[1];
    d.id = f[2];
    d.state = "imported";
    d.message = "received by a controller before the store kept deliveries";
    RETURN_IF_ERROR(store->ClaimDelivery(d).status());
  }
  return Retire(path);
}

}  // namespace

absl::Status ImportLegacyGitFiles(store::Store* store, const std::string& data_dir, Repos* repos) {
  RETURN_IF_ERROR(ImportKeys(store, data_dir + "/git/keys.json"));
  RETURN_IF_ERROR(ImportSecrets(store, data_dir + "/git/secrets"));
  RETURN_IF_ERROR(ImportDeliveries(store, data_dir + "/git/deliveries"));
  ASSIGN_OR_RETURN(auto apps, store->ListApps());
  for (const auto& a : apps) {
    if (!repos->Exists(a.name)) continue;
    store::AppGitUpdate u;
    ASSIGN_OR_RETURN(std::string branch, repos->LegacyConfig(a.name, "dflow.branch"));
    ASSIGN_OR_RETURN(std::string url, repos->LegacyConfig(a.name, "dflow.url"));
    if (branch.empty() && url.empty()) continue;
    if (!branch.empty()) u.branch = branch;
    if (!url.empty()) u.git_url = url;
    RETURN_IF_ERROR(store->UpdateAppGit(a.name, u).status());
    RETURN_IF_ERROR(repos->ClearLegacyConfig(a.name, "dflow.branch"));
    RETURN_IF_ERROR(repos->ClearLegacyConfig(a.name, "dflow.url"));
    spdlog::info("imported the git settings of {} from its repository's config into the store",
                 a.name);
  }
  return absl::OkStatus();
}

}  // namespace dflow::git
