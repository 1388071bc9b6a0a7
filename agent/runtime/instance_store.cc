#include "agent/runtime/instance_store.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/files.h"

namespace dflow::agent {
namespace {

using nlohmann::json;

InstanceState StateFromName(const std::string& name) {
  for (InstanceState s :
       {InstanceState::kStarting, InstanceState::kRunning, InstanceState::kBackoff,
        InstanceState::kStopping, InstanceState::kStopped, InstanceState::kFailed}) {
    if (name == InstanceStateName(s)) return s;
  }
  return InstanceState::kStarting;
}

json ToJson(const InstanceRecord& r) {
  return json{{"id", r.spec.id},
              {"app", r.spec.app},
              {"process", r.spec.process},
              {"release", r.spec.release},
              {"port", r.spec.port},
              {"pid", r.pid},
              {"pgid", r.pgid},
              {"start_ticks", r.start_ticks},
              {"boot_id", r.boot_id},
              {"started_at_ms", r.started_at_ms},
              {"desired", r.desired_running ? "running" : "stopped"},
              {"healthy_once", r.healthy_once},
              {"restarts", r.restarts},
              {"state", InstanceStateName(r.state)},
              {"last_error", r.last_error}};
}

InstanceRecord FromJson(const json& j) {
  InstanceRecord r;
  r.spec.id = j.at("id").get<std::string>();
  r.spec.app = j.at("app").get<std::string>();
  r.spec.process = j.at("process").get<std::string>();
  r.spec.release = j.at("release").get<int64_t>();
  r.spec.port = j.at("port").get<int>();
  r.pid = j.at("pid").get<int>();
  r.pgid = j.at("pgid").get<int>();
  r.start_ticks = j.at("start_ticks").get<uint64_t>();
  r.boot_id = j.value("boot_id", "");
  r.started_at_ms = j.value("started_at_ms", int64_t{0});
  r.desired_running = j.at("desired").get<std::string>() == "running";
  r.healthy_once = j.value("healthy_once", false);
  r.restarts = j.value("restarts", 0);
  r.state = StateFromName(j.value("state", ""));
  r.last_error = j.value("last_error", "");
  return r;
}

}  // namespace

absl::Status ValidateInstanceId(absl::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 && absl::ascii_isalnum(id[0]);
  for (char c : id) ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("instance id \"", id,
                   "\" is not allowed: use 1 to 128 letters, digits, '_', '.' or '-', starting "
                   "with a letter or digit"));
}

absl::Status InstanceStore::Save(const InstanceRecord& record) const {
  if (auto s = EnsureDir(dir_, 0700); !s.ok()) return s;
  return WriteFileAtomic(absl::StrCat(dir_, "/", record.spec.id, ".json"),
                         ToJson(record).dump(2) + "\n", 0600);
}

absl::Status InstanceStore::Remove(const std::string& id) const {
  std::string path = absl::StrCat(dir_, "/", id, ".json");
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove pidfile ", path));
  }
  return absl::OkStatus();
}

std::vector<InstanceRecord> InstanceStore::LoadAll(std::vector<std::string>* problems) const {
  std::vector<InstanceRecord> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string path = entry.path().string();
    if (!absl::EndsWith(path, ".json")) continue;  // e.g. a temp file left by a crash
    auto text = ReadFile(path);
    if (!text.ok()) {
      problems->push_back(std::string(text.status().message()));
      continue;
    }
    try {
      out.push_back(FromJson(json::parse(*text)));
    } catch (const json::exception& e) {
      problems->push_back(absl::StrCat("pidfile ", path, " is unreadable: ", e.what()));
    }
  }
  return out;
}

}  // namespace dflow::agent
