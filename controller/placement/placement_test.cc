#include "controller/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace dflow::placement {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;

// A healthy, empty "local" server with 4 GiB and 4 CPUs; each modifier changes one fact.
struct Srv {
  ServerSnapshot s;
  explicit Srv(std::string name) {
    s.name = std::move(name);
    s.runtime = "local";
    s.memory_total_bytes = 4 * kGiB;
    s.cpus = 4;
  }
  Srv& Mem(int64_t total, int64_t used) {
    s.memory_total_bytes = total;
    s.memory_allocated_bytes = used;
    return *this;
  }
  Srv& Cpu(double total, double used) {
    s.cpus = total;
    s.cpus_allocated = used;
    return *this;
  }
  Srv& Label(const std::string& key, const std::string& value) {
    s.labels[key] = value;
    return *this;
  }
  Srv& Runtime(const std::string& runtime) {
    s.runtime = runtime;
    return *this;
  }
  Srv& Draining() {
    s.draining = true;
    return *this;
  }
  Srv& Down() {
    s.healthy = false;
    return *this;
  }
  operator ServerSnapshot() const { return s; }  // NOLINT: lets tables list Srv(...)
};

std::map<std::string, int> CountsOf(const std::vector<std::string>& servers) {
  std::map<std::string, int> counts;
  for (const std::string& s : servers) ++counts[s];
  return counts;
}

std::vector<ServerSnapshot> ElevenDrainingOneDownOneFull() {
  std::vector<ServerSnapshot> servers;
  for (int i = 1; i <= 11; ++i)
    servers.push_back(Srv(absl::StrCat("s", i < 10 ? "0" : "", i)).Draining());
  servers.push_back(Srv("s12").Down());
  servers.push_back(Srv("s13").Mem(kGiB, kGiB));
  return servers;
}

struct PlaceCase {
  std::string name;
  std::vector<ServerSnapshot> servers;
  PlacementRequest request;
  std::vector<std::string> want;  // the server of each new instance, in order
  std::string want_error{};       // when set: the ResourceExhausted message, exactly
};

void PrintTo(const PlaceCase& tc, std::ostream* os) { *os << tc.name; }

class PlaceTest : public testing::TestWithParam<PlaceCase> {};

TEST_P(PlaceTest, Places) {
  const PlaceCase& tc = GetParam();
  absl::StatusOr<Assignment> got = Place(tc.servers, tc.request);
  if (!tc.want_error.empty()) {
    ASSERT_FALSE(got.ok()) << "placed on " << testing::PrintToString(got->servers);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(got.status().message(), tc.want_error);
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->servers, tc.want);
  EXPECT_EQ(got->count_by_server, CountsOf(tc.want));
}

const int64_t k256M = 256 * kMiB;

INSTANTIATE_TEST_SUITE_P(
    Table, PlaceTest,
    testing::ValuesIn(std::vector<PlaceCase>{
        {"SpreadOnePerServerByName",
         {Srv("c"), Srv("a"), Srv("b")},
         {.app = "shop", .count = 3, .memory_bytes = k256M},
         {"a", "b", "c"}},
        {"SpreadCountsExistingInstancesThenLeastAllocated",
         {Srv("a"), Srv("b"), Srv("c")},
         {.app = "shop",
          .count = 3,
          .memory_bytes = k256M,
          .instances_by_server = {{"a", 2}, {"c", 1}, {"gone", 1}}},
         {"b", "c", "b"}},
        {"LeastAllocatedMemory",
         {Srv("a").Mem(4 * kGiB, 2 * kGiB), Srv("b").Mem(4 * kGiB, kGiB),
          Srv("c").Mem(4 * kGiB, 3 * kGiB)},
         {.app = "shop", .count = 1, .memory_bytes = k256M},
         {"b"}},
        {"LeastAllocatedCpu",
         {Srv("a").Cpu(4, 3), Srv("b").Cpu(4, 1)},
         {.app = "shop", .count = 1, .cpus = 0.5},
         {"b"}},
        {"BinpackFillsMostAllocatedThatFits",
         {Srv("a").Mem(4 * kGiB, kGiB), Srv("b").Mem(4 * kGiB, 2 * kGiB),
          Srv("c").Mem(4 * kGiB, 3584 * kMiB)},
         {.app = "shop", .count = 3, .memory_bytes = kGiB, .strategy = Strategy::kBinpack},
         {"b", "b", "a"}},
        {"SkipsDrainingAndUnhealthy",
         {Srv("a").Draining(), Srv("b").Down(), Srv("c")},
         {.app = "shop", .count = 2, .memory_bytes = k256M},
         {"c", "c"}},
        {"RuntimeKind",
         {Srv("a"), Srv("b").Runtime("dokku")},
         {.app = "shop", .count = 2, .runtime = "dokku", .memory_bytes = k256M},
         {"b", "b"}},
        {"AnyRuntime",
         {Srv("a"), Srv("b").Runtime("dokku")},
         {.app = "shop", .count = 2, .memory_bytes = k256M},
         {"a", "b"}},
        {"EveryConstraintMustMatch",
         {Srv("a").Label("tier", "beefy"), Srv("b").Label("tier", "beefy").Label("region", "eu"),
          Srv("c").Label("region", "eu")},
         {.app = "shop",
          .count = 2,
          .constraints = {{"tier", "beefy"}, {"region", "eu"}},
          .memory_bytes = k256M},
         {"b", "b"}},
        {"PinnedServerOnly",
         {Srv("a"), Srv("b"), Srv("c")},
         {.app = "shop",
          .count = 2,
          .pinned_server = "b",
          .memory_bytes = k256M,
          .instances_by_server = {{"b", 3}}},
         {"b", "b"}},
        {"CapacityConsumedWithinCall",
         {Srv("a").Mem(kGiB, 512 * kMiB), Srv("b").Mem(kGiB, 768 * kMiB),
          Srv("c").Mem(kGiB, 896 * kMiB)},
         {.app = "shop", .count = 3, .memory_bytes = k256M},
         {"a", "b", "a"}},
        {"ZeroRequestFitsOvercommittedServer",
         {Srv("a").Mem(4 * kGiB, 5 * kGiB).Cpu(4, 5)},
         {.app = "shop", .count = 2},
         {"a", "a"}},
        {"ZeroCount", {}, {.app = "shop", .count = 0, .memory_bytes = k256M}, {}},
        {"PartialFit",
         {Srv("a").Mem(kGiB, 512 * kMiB), Srv("b").Mem(kGiB, 768 * kMiB),
          Srv("c").Mem(kGiB, 896 * kMiB)},
         {.app = "shop", .count = 4, .memory_bytes = k256M},
         {},
         "only 3 of 4 instances of app \"shop\" fit: a has 0 B free after taking 2, needs 256 MiB; "
         "b has 0 B free after taking 1, needs 256 MiB; c has 128 MiB free, needs 256 MiB"},
        {"NothingFitsDrainingAndLabel",
         {Srv("local-2"), Srv("local-1").Draining()},
         {.app = "shop", .count = 1, .constraints = {{"tier", "beefy"}}},
         {},
         "0 of 2 servers fit app \"shop\": local-1 is draining; local-2 lacks label tier=beefy"},
        {"NothingFitsMemory",
         {Srv("local-3").Mem(kGiB, 896 * kMiB)},
         {.app = "shop", .count = 2, .memory_bytes = k256M},
         {},
         "0 of 1 servers fit app \"shop\": local-3 has 128 MiB free, needs 256 MiB"},
        {"HumanSizesRoundDown",
         {Srv("local-1").Mem(4 * kGiB, 2560 * kMiB), Srv("local-2").Mem(4 * kGiB, 2 * kGiB + 1)},
         {.app = "shop", .count = 1, .memory_bytes = 2 * kGiB},
         {},
         "0 of 2 servers fit app \"shop\": local-1 has 1.5 GiB free, needs 2 GiB; "
         "local-2 has 1.9 GiB free, needs 2 GiB"},
        {"NothingFitsCpu",
         {Srv("local-1").Cpu(2, 1.75), Srv("local-2").Cpu(4, 5)},
         {.app = "shop", .count = 1, .cpus = 0.5},
         {},
         "0 of 2 servers fit app \"shop\": local-1 has 0.25 CPUs free, needs 0.5 CPUs; "
         "local-2 has 0 CPUs free, needs 0.5 CPUs"},
        {"NothingFitsRuntimeLabelHealth",
         {Srv("a").Runtime("dokku"), Srv("b").Runtime(""), Srv("c").Label("tier", "small"),
          Srv("d").Down()},
         {.app = "shop", .count = 1, .runtime = "local", .constraints = {{"tier", "beefy"}}},
         {},
         "0 of 4 servers fit app \"shop\": a runs dokku, app needs local; b reports no runtime, "
         "app needs local; c has label tier=small, not tier=beefy; d is unhealthy"},
        {"PinnedServerDraining",
         {Srv("a"), Srv("b").Draining()},
         {.app = "shop", .count = 1, .pinned_server = "b"},
         {},
         "0 of 1 servers fit app \"shop\" (pinned to b, which holds its data): b is draining"},
        {"PinnedServerMissing",
         {Srv("a"), Srv("b")},
         {.app = "shop", .count = 1, .pinned_server = "z"},
         {},
         "no server fits app \"shop\": it is pinned to z, which holds its data, and z is not "
         "registered"},
        {"NoServers",
         {},
         {.app = "shop", .count = 1},
         {},
         "0 of 0 servers fit app \"shop\": no servers are registered"},
        {"LongListIsSummarised",
         ElevenDrainingOneDownOneFull(),
         {.app = "shop", .count = 1, .memory_bytes = k256M},
         {},
         "0 of 13 servers fit app \"shop\": s01 is draining; s02 is draining; s03 is draining; "
         "s04 is draining; s05 is draining; s06 is draining; s07 is draining; s08 is draining; "
         "s09 is draining; s10 is draining; and 3 more servers (1 unhealthy, 1 draining, "
         "1 short of memory)"},
    }),
    [](const testing::TestParamInfo<PlaceCase>& info) { return info.param.name; });

TEST(PlaceTest, RejectsMalformedRequests) {
  std::vector<ServerSnapshot> servers = {Srv("a")};
  EXPECT_EQ(Place(servers, {.app = "", .count = 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Place(servers, {.app = "shop", .count = -1}).status().message(),
            "app \"shop\": instance count -1 is negative");
  EXPECT_EQ(Place(servers, {.app = "shop", .count = 1, .memory_bytes = -1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Place(servers, {.app = "shop", .count = 1, .cpus = std::nan("")}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StrategyTest, RoundTrips) {
  for (Strategy s : {Strategy::kSpread, Strategy::kBinpack}) {
    EXPECT_EQ(*ParseStrategy(StrategyName(s)), s);
  }
  EXPECT_EQ(ParseStrategy("random").status().message(),
            "unknown placement strategy \"random\": use spread or binpack");
}

struct RemoveCase {
  std::string name;
  std::vector<ServerSnapshot> servers;
  ScaleDownRequest request;
  std::vector<std::string> want;
  std::string want_error{};  // when set: the FailedPrecondition message, exactly
};

void PrintTo(const RemoveCase& tc, std::ostream* os) { *os << tc.name; }

class ChooseRemovalsTest : public testing::TestWithParam<RemoveCase> {};

TEST_P(ChooseRemovalsTest, Chooses) {
  const RemoveCase& tc = GetParam();
  absl::StatusOr<Assignment> got = ChooseRemovals(tc.servers, tc.request);
  if (!tc.want_error.empty()) {
    EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(got.status().message(), tc.want_error);
    return;
  }
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->servers, tc.want);
  EXPECT_EQ(got->count_by_server, CountsOf(tc.want));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChooseRemovalsTest,
    testing::ValuesIn(std::vector<RemoveCase>{
        {"MostInstancesFirst",
         {Srv("a"), Srv("b"), Srv("c")},
         {.app = "shop", .count = 2, .instances_by_server = {{"a", 3}, {"b", 1}}},
         {"a", "a"}},
        {"ThenMostAllocated",
         {Srv("a").Mem(4 * kGiB, 768 * kMiB), Srv("b").Mem(4 * kGiB, kGiB)},
         {.app = "shop",
          .count = 3,
          .memory_bytes = k256M,
          .instances_by_server = {{"a", 3}, {"b", 1}}},
         {"a", "a", "b"}},
        {"ThenByName",
         {Srv("b"), Srv("a")},
         {.app = "shop", .count = 1, .instances_by_server = {{"a", 1}, {"b", 1}}},
         {"a"}},
        {"UnavailableServersFirst",
         {Srv("a"), Srv("c").Down(), Srv("b").Draining()},
         {.app = "shop", .count = 3, .instances_by_server = {{"a", 3}, {"b", 1}, {"c", 1}}},
         {"b", "c", "a"}},
        {"ServersMissingFromSnapshotFirst",
         {Srv("a")},
         {.app = "shop", .count = 2, .instances_by_server = {{"a", 3}, {"gone", 1}}},
         {"gone", "a"}},
        {"IgnoresEmptyEntries",
         {Srv("a"), Srv("b")},
         {.app = "shop", .count = 1, .instances_by_server = {{"a", 0}, {"b", 1}}},
         {"b"}},
        {"TooMany",
         {Srv("a")},
         {.app = "shop", .count = 3, .instances_by_server = {{"a", 2}}},
         {},
         "app \"shop\" has 2 instances, cannot remove 3"},
    }),
    [](const testing::TestParamInfo<RemoveCase>& info) { return info.param.name; });

// The obvious algorithm, rescanning every server for every instance. Place must
// agree with it exactly; it returns fewer than `count` servers when capacity ends.
std::vector<std::string> NaivePlace(const std::vector<ServerSnapshot>& servers,
                                    const PlacementRequest& r) {
  auto milli = [](double cpus) { return std::llround(cpus * 1000.0); };
  auto fraction = [](int64_t used, int64_t total) {
    return total > 0 ? static_cast<double>(used) / static_cast<double>(total) : 0.0;
  };
  const int64_t need_milli = milli(r.cpus);
  std::vector<int> taken(servers.size(), 0);
  std::vector<std::string> out;
  for (int n = 0; n < r.count; ++n) {
    int best = -1;
    std::tuple<int, double, std::string> best_key;
    for (size_t i = 0; i < servers.size(); ++i) {
      const ServerSnapshot& s = servers[i];
      if (!s.healthy || s.draining) continue;
      if (!r.runtime.empty() && s.runtime != r.runtime) continue;
      if (r.pinned_server && *r.pinned_server != s.name) continue;
      bool labels_ok = true;
      for (const auto& [k, v] : r.constraints) {
        labels_ok = labels_ok && s.labels.contains(k) && s.labels.at(k) == v;
      }
      if (!labels_ok) continue;
      int64_t mem_used = s.memory_allocated_bytes + taken[i] * r.memory_bytes;
      int64_t cpu_used = milli(s.cpus_allocated) + taken[i] * need_milli;
      if (r.memory_bytes > 0 && mem_used + r.memory_bytes > s.memory_total_bytes) continue;
      if (need_milli > 0 && cpu_used + need_milli > milli(s.cpus)) continue;
      double allocated = 0.5 * (fraction(mem_used + r.memory_bytes, s.memory_total_bytes) +
                                fraction(cpu_used + need_milli, milli(s.cpus)));
      auto it = r.instances_by_server.find(s.name);
      int instances = (it == r.instances_by_server.end() ? 0 : it->second) + taken[i];
      std::tuple<int, double, std::string> key = r.strategy == Strategy::kSpread
                                                     ? std::tuple(instances, allocated, s.name)
                                                     : std::tuple(0, -allocated, s.name);
      if (best < 0 || key < best_key) best = i, best_key = key;
    }
    if (best < 0) break;
    ++taken[best];
    out.push_back(servers[best].name);
  }
  return out;
}

TEST(PlaceProperty, MatchesNaiveAndIgnoresInputOrder) {
  std::mt19937 rng(20240601);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  int fitted = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<ServerSnapshot> servers;
    int n = pick(12);
    for (int i = 0; i < n; ++i) {
      Srv s(absl::StrCat("srv-", i));
      s.Mem(int64_t{1 + pick(4)} * kGiB, 0).Cpu(1 + pick(4), 0);
      s.s.memory_allocated_bytes = pick(40) * 128 * kMiB;
      s.s.cpus_allocated = pick(20) * 0.25;
      if (pick(10) == 0) s.Draining();
      if (pick(10) == 0) s.Down();
      if (pick(4) == 0) s.Runtime("dokku");
      if (pick(2) == 0) s.Label("tier", pick(2) ? "beefy" : "small");
      servers.push_back(s);
    }
    PlacementRequest r{.app = "shop", .count = pick(12)};
    for (int i = 0; i < n + 1; ++i) {
      if (int k = pick(4)) r.instances_by_server[absl::StrCat("srv-", i)] = k;
    }
    r.memory_bytes = int64_t{pick(5)} * 128 * kMiB;
    r.cpus = pick(4) * 0.1;
    if (pick(3) == 0) r.runtime = "local";
    if (pick(3) == 0) r.constraints["tier"] = "beefy";
    if (pick(5) == 0) r.pinned_server = absl::StrCat("srv-", pick(14));
    if (pick(3) == 0) r.strategy = Strategy::kBinpack;

    SCOPED_TRACE(absl::StrCat("iteration ", iter));
    std::vector<std::string> want = NaivePlace(servers, r);
    absl::StatusOr<Assignment> got = Place(servers, r);
    if (static_cast<int>(want.size()) == r.count) {
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->servers, want);
      ++fitted;
    } else {
      ASSERT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted);
      std::string prefix = want.empty() ? "0 of " : absl::StrCat("only ", want.size(), " of ");
      ASSERT_TRUE(absl::StartsWith(got.status().message(), prefix) ||
                  absl::StartsWith(got.status().message(), "no server fits"))
          << got.status();
      ++refused;
    }
    std::shuffle(servers.begin(), servers.end(), rng);
    absl::StatusOr<Assignment> again = Place(servers, r);
    ASSERT_EQ(again.status(), got.status());
    if (got.ok()) {
      ASSERT_EQ(again->servers, got->servers);
    }
  }
  EXPECT_GT(fitted, 1000);  // both paths are exercised
  EXPECT_GT(refused, 500);
}

}  // namespace
}  // namespace dflow::placement
