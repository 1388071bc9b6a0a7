#include "controller/agents/fleet.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace dflow::agents {

Fleet::Fleet(store::Store* store, Clock* clock, FleetOptions options)
    : store_(store), clock_(clock), options_(options) {}

Fleet::~Fleet() { Stop(); }

absl::Status Fleet::Load() {
  auto certs = store_->ValidCertificates();
  if (!certs.ok()) return certs.status();
  auto servers = store_->ListServers();
  if (!servers.ok()) return servers.status();
  std::lock_guard lock(mu_);
  certs_ = std::move(*certs);
  int64_t expires = clock_->MonotonicMs() + options_.lease.count();
  for (const auto& s : *servers) {
    leases_[s.name] = Lease{expires, s.health == store::Health::kHealthy, {s.labels, s.draining}};
  }
  return absl::OkStatus();
}

void Fleet::Start() {
  std::lock_guard lock(loop_mu_);
  if (loop_.joinable()) return;
  stopping_ = false;
  loop_ = std::thread([this] {
    std::unique_lock lock(loop_mu_);
    while (!stopping_) {
      loop_cv_.wait_for(lock, options_.tick, [this] { return stopping_; });
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

void Fleet::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  loop_cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  Tick();  // flush what is buffered
}

absl::StatusOr<std::string> Fleet::Authorize(const std::string& fingerprint) const {
  std::lock_guard lock(mu_);
  auto it = certs_.find(fingerprint);
  if (it == certs_.end()) {
    return absl::PermissionDeniedError(
        "this certificate is not registered with the controller or was revoked (the server "
        "was removed); join again with a new token from `dflow servers join-token`");
  }
  return it->second;
}

void Fleet::OnJoined(const std::string& name, const std::string& fingerprint) {
  std::lock_guard lock(mu_);
  certs_[fingerprint] = name;
  leases_[name] = Lease{clock_->MonotonicMs() + options_.lease.count(), true, {}};
}

void Fleet::OnRemoved(const std::string& name) {
  std::lock_guard lock(mu_);
  std::erase_if(certs_, [&](const auto& kv) { return kv.second == name; });
  leases_.erase(name);
  pending_facts_.erase(name);
}

void Fleet::OnServerChanged(const std::string& name, const ServerView& view) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(name);
  if (it != leases_.end()) it->second.view = view;
}

absl::StatusOr<ServerView> Fleet::Heartbeat(const std::string& name, const store::Facts& facts) {
  std::lock_guard lock(mu_);
  auto it = leases_.find(name);
  if (it == leases_.end()) {
    return absl::PermissionDeniedError(absl::StrCat("server \"", name, "\" is not registered"));
  }
  it->second.expires_mono = clock_->MonotonicMs() + options_.lease.count();
  pending_facts_[name] = store::FactsUpdate{name, facts, clock_->NowMs()};
  if (!it->second.reachable) {
    // Committed while holding mu_, so a concurrent expiry cannot reorder it.
    auto s = store_->SetHealth(name, store::Health::kHealthy, "heartbeat received");
    if (!s.ok()) return s;
    it->second.reachable = true;
    spdlog::info("server {} is healthy again", name);
  }
  return it->second.view;
}

void Fleet::Tick() {
  std::vector<store::FactsUpdate> batch;
  {
    std::lock_guard lock(mu_);
    int64_t now = clock_->MonotonicMs();
    for (auto& [name, lease] : leases_) {
      if (!lease.reachable || lease.expires_mono > now) continue;
      auto s = store_->SetHealth(
          name, store::Health::kUnreachable,
          absl::StrCat("no heartbeat within the ", options_.lease.count() / 1000.0, " s lease"));
      if (!s.ok()) {
        spdlog::error("cannot record that {} is unreachable: {}", name, s.ToString());
        continue;  // retried on the next tick
      }
      lease.reachable = false;
      spdlog::warn("server {} is unreachable: its lease ran out", name);
    }
    batch.reserve(pending_facts_.size());
    for (auto& [name, update] : pending_facts_) batch.push_back(std::move(update));
    pending_facts_.clear();
  }
  if (auto s = store_->RecordFacts(batch); !s.ok()) {
    spdlog::error("cannot write heartbeat facts of {} servers: {}", batch.size(), s.ToString());
    std::lock_guard lock(mu_);
    for (auto& u : batch) pending_facts_.try_emplace(u.name, std::move(u));
  }
}

bool Fleet::Reachable(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = leases_.find(name);
  return it != leases_.end() && it->second.reachable;
}

int64_t Fleet::UnreachableForMs(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = leases_.find(name);
  if (it == leases_.end() || it->second.reachable) return 0;
  return std::max<int64_t>(0, clock_->MonotonicMs() - it->second.expires_mono);
}

size_t Fleet::ConnectedCount() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [name, lease] : leases_) n += lease.reachable ? 1 : 0;
  return n;
}

}  // namespace dflow::agents
