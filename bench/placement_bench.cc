// Placement benchmark (issue 4): 1,000 apps x 1,000 instances, with constraints,
// onto 5,000 mixed servers that start 30% full; instances placed per second on
// one core (the program is single-threaded). Target: at least 100,000/s.
//
// Every app is placed in --rounds calls (default 2 x 500: a deploy, then a
// scale-up that passes where the app already runs, so spread has to look it up).
// Each assignment is applied to the snapshot, as the store would, so later calls
// see the capacity earlier ones used. Only Place() is timed for the headline
// figure; applying is reported apart. The same program also places the first
// --naive-apps apps' first round with the obvious O(count x servers) algorithm
// from the same starting state, checks both choose identical servers, and
// reports its rate as the baseline.
//
// Build (Release) and run, from the repository root (one command line):
//   g++ -std=c++20 -O2 -DNDEBUG -I. controller/placement/placement.cc
//     bench/placement_bench.cc -o /tmp/placement_bench
//     $(pkg-config --cflags --libs absl_status absl_statusor absl_strings absl_str_format)
//   /tmp/placement_bench [--servers=5000] [--apps=1000] [--instances=1000]
//                        [--rounds=2] [--naive-apps=5] [--reps=3] [--seed=1]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_format.h"
#include "controller/placement/placement.h"

namespace dflow::placement {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

struct Options {
  int servers = 5000;
  int apps = 1000;
  int instances = 1000;
  int rounds = 2;
  int naive_apps = 5;
  int reps = 3;
  uint64_t seed = 1;
};

const char* BuildType() {
#if defined(__OPTIMIZE__) && defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  return "release (optimized, NDEBUG, no sanitizers)";
#else
  return "NOT a release build (unoptimized, assertions or sanitizers): figures are not meaningful";
#endif
}

const char* Commit() {
#ifdef DFLOW_COMMIT
  return DFLOW_COMMIT;
#else
  return "unknown (build with -DDFLOW_COMMIT=\\\"$(git rev-parse --short HEAD)\\\")";
#endif
}

struct Scenario {
  std::vector<ServerSnapshot> servers;
  std::vector<PlacementRequest> apps;
};

// Mixed fleet: 25% small (16 GiB, 8 CPUs), 60% standard (64 GiB, 32), 15% beefy
// (256 GiB, 96); 20% Dokku; three regions; 1% unhealthy, 1% draining; each
// 20-40% allocated (30% on average) by other apps. Apps: 64-256 MiB and
// 0.02-0.1 CPUs per instance; 70% need the local runtime, 10% Dokku; 35% carry
// constraints (region, tier=beefy, or both); 10% bin-pack.
Scenario Build(const Options& o) {
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const char* regions[] = {"eu", "us", "ap"};
  Scenario sc;
  sc.servers.reserve(o.servers);
  for (int i = 0; i < o.servers; ++i) {
    ServerSnapshot s;
    s.name = absl::StrFormat("srv-%05d", i);
    double r = unit(rng);
    const char* tier = r < 0.25 ? "small" : r < 0.85 ? "standard" : "beefy";
    s.memory_total_bytes = (r < 0.25 ? 16 : r < 0.85 ? 64 : 256) * kGiB;
    s.cpus = r < 0.25 ? 8 : r < 0.85 ? 32 : 96;
    s.runtime = unit(rng) < 0.2 ? "dokku" : "local";
    s.labels = {{"region", regions[rng() % 3]}, {"tier", tier}};
    s.healthy = unit(rng) >= 0.01;
    s.draining = unit(rng) < 0.01;
    double fill = 0.2 + 0.2 * unit(rng);
    s.memory_allocated_bytes = static_cast<int64_t>(fill * s.memory_total_bytes);
    s.cpus_allocated = std::round(fill * s.cpus * 1000) / 1000;
    sc.servers.push_back(std::move(s));
  }
  const int64_t memories[] = {64 * kMiB, 128 * kMiB, 256 * kMiB};
  const double cpus[] = {0.02, 0.05, 0.1};
  for (int a = 0; a < o.apps; ++a) {
    PlacementRequest req;
    req.app = absl::StrFormat("app-%04d", a);
    req.count = o.instances;
    req.memory_bytes = memories[rng() % 3];
    req.cpus = cpus[rng() % 3];
    double r = unit(rng);
    req.runtime = r < 0.7 ? "local" : r < 0.8 ? "dokku" : "";
    r = unit(rng);
    if (r < 0.2 || (r >= 0.3 && r < 0.35)) req.constraints["region"] = regions[rng() % 3];
    if (r >= 0.2 && r < 0.35) req.constraints["tier"] = "beefy";
    req.strategy = unit(rng) < 0.1 ? Strategy::kBinpack : Strategy::kSpread;
    sc.apps.push_back(std::move(req));
  }
  return sc;
}

// What the store does with an assignment: reserve the capacity, record where
// the app's instances now run.
void Apply(std::vector<ServerSnapshot>& servers,
           const std::unordered_map<std::string, size_t>& index, const PlacementRequest& req,
           const std::map<std::string, int>& count_by_server,
           std::map<std::string, int>& instances_by_server) {
  for (const auto& [name, n] : count_by_server) {
    ServerSnapshot& s = servers[index.at(name)];
    s.memory_allocated_bytes += n * req.memory_bytes;
    s.cpus_allocated += n * req.cpus;
    instances_by_server[name] += n;
  }
}

// The obvious algorithm: for every instance, rescan every server, then apply.
std::vector<std::string> NaivePlace(std::vector<ServerSnapshot>& servers,
                                    const PlacementRequest& r) {
  auto milli = [](double c) { return std::llround(c * 1000.0); };
  auto fraction = [](int64_t used, int64_t total) {
    return total > 0 ? static_cast<double>(used) / static_cast<double>(total) : 0.0;
  };
  const int64_t need_milli = milli(r.cpus);
  std::map<std::string, int> instances_by_server = r.instances_by_server;
  std::vector<std::string> out;
  for (int n = 0; n < r.count; ++n) {
    ServerSnapshot* best = nullptr;
    int best_instances = 0;
    double best_allocated = 0;
    for (ServerSnapshot& s : servers) {
      if (!s.healthy || s.draining) continue;
      if (!r.runtime.empty() && s.runtime != r.runtime) continue;
      if (r.pinned_server && *r.pinned_server != s.name) continue;
      bool labels_ok = true;
      for (const auto& [k, v] : r.constraints) {
        auto it = s.labels.find(k);
        labels_ok = labels_ok && it != s.labels.end() && it->second == v;
      }
      if (!labels_ok) continue;
      int64_t cpu_used = milli(s.cpus_allocated);
      if (r.memory_bytes > 0 && s.memory_allocated_bytes + r.memory_bytes > s.memory_total_bytes)
        continue;
      if (need_milli > 0 && cpu_used + need_milli > milli(s.cpus)) continue;
      double allocated =
          0.5 * (fraction(s.memory_allocated_bytes + r.memory_bytes, s.memory_total_bytes) +
                 fraction(cpu_used + need_milli, milli(s.cpus)));
      auto it = instances_by_server.find(s.name);
      int instances = it == instances_by_server.end() ? 0 : it->second;
      bool better;
      if (best == nullptr) {
        better = true;
      } else if (r.strategy == Strategy::kSpread) {
        better =
            std::tie(instances, allocated) < std::tie(best_instances, best_allocated) ||
            (instances == best_instances && allocated == best_allocated && s.name < best->name);
      } else {
        better = allocated > best_allocated || (allocated == best_allocated && s.name < best->name);
      }
      if (better) best = &s, best_instances = instances, best_allocated = allocated;
    }
    if (best == nullptr) break;
    best->memory_allocated_bytes += r.memory_bytes;
    // Exact in millicpus, like Place (summing doubles would drift).
    best->cpus_allocated = (milli(best->cpus_allocated) + need_milli) / 1000.0;
    ++instances_by_server[best->name];
    out.push_back(best->name);
  }
  return out;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::pair<double, double> Fullness(const std::vector<ServerSnapshot>& servers) {
  double mem_used = 0, mem = 0, cpu_used = 0, cpu = 0;
  for (const ServerSnapshot& s : servers) {
    mem_used += s.memory_allocated_bytes, mem += s.memory_total_bytes;
    cpu_used += s.cpus_allocated, cpu += s.cpus;
  }
  return {100 * mem_used / mem, 100 * cpu_used / cpu};
}

int Run(const Options& o) {
  std::printf("placement benchmark\n  build: %s\n  compiler: %s\n  commit: %s\n", BuildType(),
              __VERSION__, Commit());
  std::printf(
      "  scenario: %d servers, %d apps x %d instances placed in %d rounds, seed %llu, one "
      "thread\n",
      o.servers, o.apps, o.instances, o.rounds, static_cast<unsigned long long>(o.seed));

  double best_rate = 0;
  std::vector<std::vector<std::string>> first_assignments;
  for (int rep = 1; rep <= o.reps; ++rep) {
    Scenario sc = Build(o);
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < sc.servers.size(); ++i) index[sc.servers[i].name] = i;
    if (rep == 1) {
      auto [mem, cpu] = Fullness(sc.servers);
      std::printf("  start: memory %.1f%% allocated, cpu %.1f%% allocated\n", mem, cpu);
    }
    Clock::duration place_time{}, apply_time{};
    std::vector<double> call_us;
    std::vector<std::map<std::string, int>> where(sc.apps.size());  // by app
    int64_t placed = 0;
    int failed = 0;
    for (int round = 0; round < o.rounds; ++round) {
      for (size_t a = 0; a < sc.apps.size(); ++a) {
        PlacementRequest& req = sc.apps[a];
        req.count = o.instances / o.rounds + (round < o.instances % o.rounds ? 1 : 0);
        req.instances_by_server = std::move(where[a]);
        Clock::time_point t0 = Clock::now();
        absl::StatusOr<Assignment> got = Place(sc.servers, req);
        Clock::time_point t1 = Clock::now();
        place_time += t1 - t0;
        call_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        where[a] = std::move(req.instances_by_server);
        if (rep == 1 && round == 0 && static_cast<int>(a) < o.naive_apps) {
          first_assignments.push_back(got.ok() ? got->servers : std::vector<std::string>{});
        }
        if (!got.ok()) {
          if (++failed <= 3)
            std::printf("  %s: %.300s\n", req.app.c_str(), got.status().ToString().c_str());
          continue;
        }
        placed += got->servers.size();
        Apply(sc.servers, index, req, got->count_by_server, where[a]);
        apply_time += Clock::now() - t1;
      }
    }
    std::sort(call_us.begin(), call_us.end());
    double rate = placed / Seconds(place_time);
    best_rate = std::max(best_rate, rate);
    auto [mem, cpu] = Fullness(sc.servers);
    std::printf(
        "  run %d: %lld instances placed, %d apps failed; Place %.3f s = %.0f instances/s; "
        "per call p50 %.0f us, p99 %.0f us, max %.0f us; with apply %.3f s = %.0f instances/s; "
        "end: memory %.1f%%, cpu %.1f%%\n",
        rep, static_cast<long long>(placed), failed, Seconds(place_time), rate,
        call_us[call_us.size() / 2], call_us[call_us.size() * 99 / 100], call_us.back(),
        Seconds(place_time + apply_time), placed / Seconds(place_time + apply_time), mem, cpu);
  }
  std::printf("RESULT Place: best %.0f instances/s over %d runs (target >= 100000)\n", best_rate,
              o.reps);

  if (o.naive_apps > 0) {
    Scenario sc = Build(o);
    int64_t placed = 0;
    bool same = true;
    Clock::time_point t0 = Clock::now();
    for (int a = 0; a < o.naive_apps && a < o.apps; ++a) {
      PlacementRequest req = sc.apps[a];
      req.count = o.instances / o.rounds + (0 < o.instances % o.rounds ? 1 : 0);
      std::vector<std::string> got = NaivePlace(sc.servers, req);
      placed += got.size();
      same = same && a < static_cast<int>(first_assignments.size()) && got == first_assignments[a];
    }
    double naive_rate = placed / Seconds(Clock::now() - t0);
    std::printf(
        "RESULT naive baseline (rescan all servers per instance, first round of the first %d "
        "apps, same start): "
        "%.0f instances/s; Place is %.0fx faster; identical assignments: %s\n",
        o.naive_apps, naive_rate, best_rate / naive_rate, same ? "yes" : "NO");
    if (!same) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace dflow::placement

int main(int argc, char** argv) {
  dflow::placement::Options o;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    const char* eq = std::strchr(arg, '=');
    std::string key(arg, eq ? eq - arg : std::strlen(arg));
    long long value = eq ? std::atoll(eq + 1) : -1;
    if (value < 0) key = "";
    if (key == "--servers") {
      o.servers = static_cast<int>(value);
    } else if (key == "--apps") {
      o.apps = static_cast<int>(value);
    } else if (key == "--instances") {
      o.instances = static_cast<int>(value);
    } else if (key == "--rounds") {
      o.rounds = std::max(1, static_cast<int>(value));
    } else if (key == "--naive-apps") {
      o.naive_apps = static_cast<int>(value);
    } else if (key == "--reps") {
      o.reps = std::max(1, static_cast<int>(value));
    } else if (key == "--seed") {
      o.seed = static_cast<uint64_t>(value);
    } else {
      std::fprintf(
          stderr,
          "usage: %s [--servers=N] [--apps=N] [--instances=N] [--rounds=N] [--naive-apps=N] "
          "[--reps=N] [--seed=N]\n",
          argv[0]);
      return 2;
    }
  }
  return dflow::placement::Run(o);
}
