// Deterministic fuzzing of the parsers that take untrusted text: join tokens
// (anyone who can reach the agent API may send one), Procfiles and their
// commands (from an uploaded source tree), and durations (flags).
//
// Each committed corpus file under tests/fuzz/corpus/<target>/ is mutated
// kMutations times with a fixed seed (byte flips, inserts of interesting
// bytes, deletions, splices with other corpus entries), so a run is repeatable
// and stays well under a minute under ASan. Properties: no exception, no
// sanitizer report, errors are InvalidArgument with a message naming what was
// wrong, and whatever is accepted satisfies the parser's contract.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "agent/runtime/procfile.h"
#include "common/duration.h"
#include "common/files.h"
#include "common/join_token.h"

namespace dflow {
namespace {

constexpr int kMutations = 20000;
constexpr uint32_t kSeed = 20261201;

std::vector<std::string> Corpus(const std::string& target) {
  std::vector<std::string> out;
  std::vector<std::filesystem::path> files;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(DFLOW_FUZZ_CORPUS) + "/" + target)) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // directory order is not stable
  for (const auto& f : files) out.push_back(*ReadFile(f.string()));
  return out;
}

class Mutator {
 public:
  explicit Mutator(std::vector<std::string> corpus) : corpus_(std::move(corpus)), rng_(kSeed) {}

  std::string Next(const std::string& base) {
    std::string s = base;
    int edits = 1 + Pick(4);
    for (int i = 0; i < edits; ++i) {
      size_t at = s.empty() ? 0 : Pick(static_cast<int>(s.size()));
      switch (Pick(5)) {
        case 0:  // flip a bit
          if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << Pick(8)));
          break;
        case 1: {  // insert a byte that parsers treat specially
          static const char kInteresting[] = "\0\n\r\t '\"\\$={}()|&;<>#`:.-_%\xff\x80";
          s.insert(at, 1, kInteresting[Pick(sizeof kInteresting - 1)]);
          break;
        }
        case 2:  // delete a run
          if (!s.empty()) s.erase(at, 1 + Pick(8));
          break;
        case 3: {  // splice in part of another corpus entry
          const std::string& other = corpus_[Pick(static_cast<int>(corpus_.size()))];
          if (!other.empty()) {
            size_t from = Pick(static_cast<int>(other.size()));
            s.insert(at, other.substr(from, 1 + Pick(16)));
          }
          break;
        }
        default:  // duplicate a run
          if (!s.empty()) s.insert(at, s.substr(at, 1 + Pick(8)));
      }
    }
    return s;
  }

 private:
  int Pick(int n) { return n <= 0 ? 0 : static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  std::vector<std::string> corpus_;
  std::mt19937 rng_;
};

template <typename Check>
void Fuzz(const std::string& target, Check check) {
  auto corpus = Corpus(target);
  ASSERT_FALSE(corpus.empty()) << "no corpus for " << target;
  Mutator m(corpus);
  for (const auto& seed : corpus) {
    check(seed);
    for (int i = 0; i < kMutations; ++i) check(m.Next(seed));
  }
}

TEST(Fuzz, JoinTokenDecoding) {
  int accepted = 0;
  Fuzz("join_token", [&](const std::string& input) {
    absl::StatusOr<JoinToken> t;
    ASSERT_NO_THROW(t = DecodeJoinToken(input)) << input;
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << t.status();
      return;
    }
    ++accepted;
    auto again = DecodeJoinToken(t->Encode());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(again->controller_address, t->controller_address);
    EXPECT_EQ(again->ca_fingerprint, t->ca_fingerprint);
    EXPECT_EQ(again->secret, t->secret);
  });
  EXPECT_GT(accepted, 0) << "the corpus must reach the accepting path";
}

TEST(Fuzz, ProcfileParsingAndCommandExpansion) {
  const std::map<std::string, std::string> env = {{"PORT", "5000"}, {"HOME", "/home/app"}};
  int commands = 0;
  Fuzz("procfile", [&](const std::string& input) {
    absl::StatusOr<std::vector<agent::ProcfileEntry>> entries;
    ASSERT_NO_THROW(entries = agent::ParseProcfile(input));
    if (!entries.ok()) {
      EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(entries.status().message().rfind("Procfile", 0), 0u) << entries.status();
      return;
    }
    for (const auto& e : *entries) {
      EXPECT_TRUE(agent::IsValidProcessType(e.type)) << e.type;
      EXPECT_GE(e.line, 1);
      absl::StatusOr<agent::CommandLine> cmd;
      ASSERT_NO_THROW(cmd = agent::ExpandCommand(e.command, env));
      if (!cmd.ok()) {
        EXPECT_EQ(cmd.status().code(), absl::StatusCode::kInvalidArgument) << cmd.status();
        continue;
      }
      ++commands;
      for (const auto& [k, v] : cmd->assignments) EXPECT_FALSE(k.empty());
    }
  });
  EXPECT_GT(commands, 0);
}

TEST(Fuzz, Durations) {
  // No corpus directory: durations are short; mutate a fixed set.
  Mutator m({"500ms", "10s", "5m", "1h", "7d", "1h30m", "0s", "-1s", "99999999999999d"});
  for (const std::string base : {"500ms", "10s", "1h", "7d"}) {
    for (int i = 0; i < kMutations; ++i) {
      std::string input = m.Next(base);
      absl::StatusOr<std::chrono::milliseconds> d;
      ASSERT_NO_THROW(d = ParseDuration(input)) << input;
      if (d.ok()) {
        EXPECT_GE(d->count(), 0) << input;
      } else {
        EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
      }
    }
  }
}

}  // namespace
}  // namespace dflow
