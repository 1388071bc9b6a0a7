#include "controller/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dflow::placement {
namespace {

// Messages list this many servers by name, then summarise the rest by reason.
constexpr size_t kMaxListedServers = 10;

// Memory and CPU in integer units (bytes, millicpus) so that sums are exact.
struct Resources {
  int64_t memory = 0;
  int64_t millicpus = 0;
};

int64_t Millicpus(double cpus) { return std::llround(cpus * 1000.0); }

Resources FreeOf(const ServerSnapshot& s) {
  return {s.memory_total_bytes - s.memory_allocated_bytes,
          Millicpus(s.cpus) - Millicpus(s.cpus_allocated)};
}

// Why a server cannot take an instance, in the order the checks run (and so
// the one reason a message gives for a server).
enum class Reject { kNone, kUnhealthy, kDraining, kRuntime, kLabel, kMemory, kCpu };
constexpr int kRejectKinds = 7;

// Plural phrases for the summary of servers a message does not list by name.
constexpr const char* kRejectSummary[kRejectKinds] = {
    "fitting",         "unhealthy",       "draining",    "on another runtime",
    "lacking a label", "short of memory", "short of CPU"};

Reject StaticReject(const ServerSnapshot& s, const PlacementRequest& r) {
  if (!s.healthy) return Reject::kUnhealthy;
  if (s.draining) return Reject::kDraining;
  if (!r.runtime.empty() && s.runtime != r.runtime) return Reject::kRuntime;
  for (const auto& [key, value] : r.constraints) {
    auto it = s.labels.find(key);
    if (it == s.labels.end() || it->second != value) return Reject::kLabel;
  }
  return Reject::kNone;
}

// A zero request fits anywhere, even on an over-committed server.
Reject CapacityReject(const Resources& free, const Resources& need) {
  if (need.memory > 0 && need.memory > free.memory) return Reject::kMemory;
  if (need.millicpus > 0 && need.millicpus > free.millicpus) return Reject::kCpu;
  return Reject::kNone;
}

// A server that passed the filters, with its state as this call changes it.
struct Candidate {
  const ServerSnapshot* server;
  uint32_t index;  // position in the snapshot: the last tie-break
  int instances;   // of the app, including changes made by this call
  int taken;       // instances placed on (or removed from) it by this call
  Resources total;
  Resources free;
  double allocated;  // sort key, see Allocated()
};

double Fraction(int64_t used, int64_t total) {
  return total > 0 ? static_cast<double>(used) / static_cast<double>(total) : 0.0;
}

// Mean of the memory and CPU fractions in use once `add` is added.
double Allocated(const Candidate& c, const Resources& add) {
  return 0.5 * (Fraction(c.total.memory - c.free.memory + add.memory, c.total.memory) +
                Fraction(c.total.millicpus - c.free.millicpus + add.millicpus, c.total.millicpus));
}

Candidate MakeCandidate(const ServerSnapshot& s, uint32_t index, int instances) {
  Resources total{s.memory_total_bytes, Millicpus(s.cpus)};
  Resources free{total.memory - s.memory_allocated_bytes,
                 total.millicpus - Millicpus(s.cpus_allocated)};
  return {&s, index, instances, 0, total, free, 0.0};
}

bool NameBefore(const Candidate& a, const Candidate& b) {
  int order = a.server->name.compare(b.server->name);
  return order != 0 ? order < 0 : a.index < b.index;
}

// True when `a` should receive the next instance before `b`.
bool PlaceBefore(const Candidate& a, const Candidate& b, Strategy strategy) {
  if (strategy == Strategy::kSpread) {
    if (a.instances != b.instances) return a.instances < b.instances;
    if (a.allocated != b.allocated) return a.allocated < b.allocated;
  } else if (a.allocated != b.allocated) {
    return a.allocated > b.allocated;
  }
  return NameBefore(a, b);
}

// True when `a` should lose the next instance before `b`.
bool RemoveBefore(const Candidate& a, const Candidate& b) {
  bool a_gone = !a.server->healthy || a.server->draining;
  bool b_gone = !b.server->healthy || b.server->draining;
  if (a_gone != b_gone) return a_gone;
  if (a.instances != b.instances) return a.instances > b.instances;
  if (a.allocated != b.allocated) return a.allocated > b.allocated;
  return NameBefore(a, b);
}

// Binary units, rounded down to one decimal so that "free" never overstates.
std::string HumanBytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  bytes = std::max<int64_t>(bytes, 0);
  size_t unit = 0;
  int64_t scale = 1;
  while (unit + 1 < std::size(kUnits) && bytes / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  int64_t whole = bytes / scale;
  int64_t tenths = (bytes % scale) * 10 / scale;
  if (tenths == 0) return absl::StrCat(whole, " ", kUnits[unit]);
  return absl::StrCat(whole, ".", tenths, " ", kUnits[unit]);
}

std::string HumanCpus(int64_t millicpus) {
  millicpus = std::max<int64_t>(millicpus, 0);
  std::string out = absl::StrCat(millicpus / 1000);
  if (millicpus % 1000 != 0) {
    std::string fraction = absl::StrFormat("%03d", millicpus % 1000);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    absl::StrAppend(&out, ".", fraction);
  }
  return absl::StrCat(out, millicpus == 1000 ? " CPU" : " CPUs");
}

std::string Describe(const ServerSnapshot& s, Reject why, const PlacementRequest& r,
                     const Resources& free, const Resources& need, int taken) {
  const std::string& name = s.name;
  std::string after = taken > 0 ? absl::StrCat(" after taking ", taken) : "";
  switch (why) {
    case Reject::kNone:
      break;
    case Reject::kUnhealthy:
      return absl::StrCat(name, " is unhealthy");
    case Reject::kDraining:
      return absl::StrCat(name, " is draining");
    case Reject::kRuntime:
      if (s.runtime.empty()) {
        return absl::StrCat(name, " reports no runtime, app needs ", r.runtime);
      }
      return absl::StrCat(name, " runs ", s.runtime, ", app needs ", r.runtime);
    case Reject::kLabel:
      for (const auto& [key, value] : r.constraints) {
        auto it = s.labels.find(key);
        if (it == s.labels.end()) return absl::StrCat(name, " lacks label ", key, "=", value);
        if (it->second != value) {
          return absl::StrCat(name, " has label ", key, "=", it->second, ", not ", key, "=", value);
        }
      }
      break;
    case Reject::kMemory:
      return absl::StrCat(name, " has ", HumanBytes(free.memory), " free", after, ", needs ",
                          HumanBytes(need.memory));
    case Reject::kCpu:
      return absl::StrCat(name, " has ", HumanCpus(free.millicpus), " free", after, ", needs ",
                          HumanCpus(need.millicpus));
  }
  return absl::StrCat(name, " fits");
}

// Explains, per server, why only `placed` of the request's instances fit.
// `cands` holds the filtered servers in their final state. Runs only on failure,
// so it recomputes what the fast path did not keep.
absl::Status NoFitError(std::span<const ServerSnapshot> servers, const PlacementRequest& r,
                        const Resources& need, const std::vector<Candidate>& cands, int placed) {
  std::vector<const Candidate*> by_index(servers.size(), nullptr);
  for (const Candidate& c : cands) by_index[c.index] = &c;

  struct Line {
    const std::string* server;
    Reject why;
    std::string text;
  };
  std::vector<Line> lines;
  size_t considered = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    const ServerSnapshot& s = servers[i];
    if (r.pinned_server && s.name != *r.pinned_server) continue;
    ++considered;
    Reject why = StaticReject(s, r);
    Resources free = FreeOf(s);
    int taken = 0;
    if (why == Reject::kNone) {
      if (by_index[i] != nullptr) {
        free = by_index[i]->free;
        taken = by_index[i]->taken;
      }
      why = CapacityReject(free, need);
      if (why == Reject::kNone) continue;  // unreachable: a fitting server would have been used
    }
    lines.push_back({&s.name, why, Describe(s, why, r, free, need, taken)});
  }
  std::sort(lines.begin(), lines.end(),
            [](const Line& a, const Line& b) { return *a.server < *b.server; });

  std::string pin = r.pinned_server
                        ? absl::StrCat(" (pinned to ", *r.pinned_server, ", which holds its data)")
                        : "";
  if (r.pinned_server && considered == 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no server fits app \"", r.app, "\": it is pinned to ", *r.pinned_server,
                     ", which holds its data, and ", *r.pinned_server, " is not registered"));
  }
  std::string msg =
      placed == 0 ? absl::StrCat("0 of ", considered, " servers fit app \"", r.app, "\"", pin, ": ")
                  : absl::StrCat("only ", placed, " of ", r.count, " instances of app \"", r.app,
                                 "\" fit", pin, ": ");
  if (considered == 0) return absl::ResourceExhaustedError(msg + "no servers are registered");

  size_t listed = std::min(lines.size(), kMaxListedServers);
  for (size_t i = 0; i < listed; ++i) absl::StrAppend(&msg, i > 0 ? "; " : "", lines[i].text);
  if (lines.size() > listed) {
    int by_reason[kRejectKinds] = {};
    for (size_t i = listed; i < lines.size(); ++i) ++by_reason[static_cast<int>(lines[i].why)];
    absl::StrAppend(&msg, "; and ", lines.size() - listed, " more servers (");
    const char* sep = "";
    for (int k = 0; k < kRejectKinds; ++k) {
      if (by_reason[k] == 0) continue;
      absl::StrAppend(&msg, sep, by_reason[k], " ", kRejectSummary[k]);
      sep = ", ";
    }
    msg += ")";
  }
  return absl::ResourceExhaustedError(msg);
}

absl::Status CheckRequest(const std::string& app, int count, int64_t memory, double cpus) {
  if (app.empty()) return absl::InvalidArgumentError("placement request names no app");
  if (count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("app \"", app, "\": instance count ", count, " is negative"));
  }
  if (memory < 0 || !(cpus >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("app \"", app, "\": memory (", memory,
                                                   ") and cpus (", cpus, ") must be 0 or more"));
  }
  return absl::OkStatus();
}

void FillCounts(const std::vector<Candidate>& cands, Assignment& out) {
  for (const Candidate& c : cands) {
    if (c.taken > 0) out.count_by_server.emplace(c.server->name, c.taken);
  }
}

}  // namespace

std::string_view StrategyName(Strategy strategy) {
  return strategy == Strategy::kBinpack ? "binpack" : "spread";
}

absl::StatusOr<Strategy> ParseStrategy(std::string_view name) {
  if (name == "spread") return Strategy::kSpread;
  if (name == "binpack") return Strategy::kBinpack;
  return absl::InvalidArgumentError(absl::StrCat("unknown placement strategy \"", std::string(name),
                                                 "\": use spread or binpack"));
}

absl::StatusOr<Assignment> Place(std::span<const ServerSnapshot> servers,
                                 const PlacementRequest& request) {
  if (absl::Status s = CheckRequest(request.app, request.count, request.memory_bytes, request.cpus);
      !s.ok()) {
    return s;
  }
  Assignment out;
  if (request.count == 0) return out;
  const Resources need{request.memory_bytes, Millicpus(request.cpus)};

  // Filter once; afterwards only the chosen server's key changes, so a heap
  // gives the same answer as rescanning every server for every instance.
  std::vector<Candidate> cands;
  cands.reserve(request.pinned_server ? 1 : servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    const ServerSnapshot& s = servers[i];
    if (request.pinned_server && s.name != *request.pinned_server) continue;
    if (StaticReject(s, request) != Reject::kNone) continue;
    Candidate c = MakeCandidate(s, i, 0);
    if (CapacityReject(c.free, need) != Reject::kNone) continue;
    if (!request.instances_by_server.empty()) {
      auto it = request.instances_by_server.find(s.name);
      if (it != request.instances_by_server.end()) c.instances = it->second;
    }
    c.allocated = Allocated(c, need);
    cands.push_back(c);
  }

  const Strategy strategy = request.strategy;
  auto heap_less = [&](uint32_t x, uint32_t y) {
    return PlaceBefore(cands[y], cands[x], strategy);
  };
  std::vector<uint32_t> heap(cands.size());
  std::iota(heap.begin(), heap.end(), 0u);
  std::make_heap(heap.begin(), heap.end(), heap_less);

  out.servers.reserve(request.count);
  int placed = 0;
  while (placed < request.count && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), heap_less);
    Candidate& c = cands[heap.back()];
    out.servers.push_back(c.server->name);
    ++placed;
    ++c.taken;
    ++c.instances;
    c.free.memory -= need.memory;
    c.free.millicpus -= need.millicpus;
    if (CapacityReject(c.free, need) == Reject::kNone) {
      c.allocated = Allocated(c, need);
      std::push_heap(heap.begin(), heap.end(), heap_less);
    } else {
      heap.pop_back();
    }
  }
  if (placed < request.count) return NoFitError(servers, request, need, cands, placed);
  FillCounts(cands, out);
  return out;
}

absl::StatusOr<Assignment> ChooseRemovals(std::span<const ServerSnapshot> servers,
                                          const ScaleDownRequest& request) {
  if (absl::Status s = CheckRequest(request.app, request.count, request.memory_bytes, request.cpus);
      !s.ok()) {
    return s;
  }
  const Resources each{request.memory_bytes, Millicpus(request.cpus)};
  std::unordered_map<std::string_view, uint32_t> position;
  position.reserve(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) position.emplace(servers[i].name, i);
  // Servers the app runs on that have left the inventory: their instances go first.
  std::vector<ServerSnapshot> missing;
  missing.reserve(request.instances_by_server.size());  // keeps pointers into it valid

  std::vector<Candidate> cands;
  int64_t total = 0;
  for (const auto& [name, instances] : request.instances_by_server) {
    if (instances <= 0) continue;
    auto it = position.find(name);
    Candidate c;
    if (it != position.end()) {
      c = MakeCandidate(servers[it->second], it->second, instances);
    } else {
      missing.push_back({.name = name, .healthy = false});
      c = MakeCandidate(missing.back(), servers.size() + missing.size(), instances);
    }
    c.allocated = Allocated(c, {});
    total += instances;
    cands.push_back(c);
  }
  if (total < request.count) {
    return absl::FailedPreconditionError(absl::StrCat("app \"", request.app, "\" has ", total,
                                                      " instances, cannot remove ", request.count));
  }

  auto heap_less = [&](uint32_t x, uint32_t y) { return RemoveBefore(cands[y], cands[x]); };
  std::vector<uint32_t> heap(cands.size());
  std::iota(heap.begin(), heap.end(), 0u);
  std::make_heap(heap.begin(), heap.end(), heap_less);

  Assignment out;
  out.servers.reserve(request.count);
  for (int removed = 0; removed < request.count; ++removed) {
    std::pop_heap(heap.begin(), heap.end(), heap_less);
    Candidate& c = cands[heap.back()];
    out.servers.push_back(c.server->name);
    ++c.taken;
    --c.instances;
    c.free.memory += each.memory;
    c.free.millicpus += each.millicpus;
    if (c.instances > 0) {
      c.allocated = Allocated(c, {});
      std::push_heap(heap.begin(), heap.end(), heap_less);
    } else {
      heap.pop_back();
    }
  }
  FillCounts(cands, out);
  return out;
}

}  // namespace dflow::placement
