// Deterministic fuzzing of the theme manifest parser, validator and renderer
// (manifests come from users: `dflow themes validate|add`). Each committed
// corpus file under tests/fuzz/corpus/theme/ (every catalog manifest — the
// test checks none is missing — and hand-made broken ones) is mutated
// kMutations times with a fixed seed: byte flips, inserts of bytes YAML and
// templates treat specially, deletions, splices, and line-level edits
// (duplicate, drop, re-indent a line, a "---" document marker). Properties:
// no exception or sanitizer report; every diagnostic has a position inside
// the text and a message; a manifest that validates also renders.
//
// Budget: kMutations per corpus file, and a wall-clock cap (kBudget) well
// under CI's 60 s for this test under ASan; when the cap is reached the run
// stops early, reports how far it got, and still checks what it ran. The
// sequence of inputs is the same every run (fixed seed); only its length
// can be cut by the cap. The cap is checked between inputs, so a watchdog
// covers the one case it cannot: a single input that hangs the parser (as
// yaml-cpp's LoadAll once did). After kHangLimit on one input it writes that
// input to $TEST_UNDECLARED_OUTPUTS_DIR or /tmp as theme-fuzz-hang.yaml, says
// so, and ends the process with a failure, inside CI's 60 s.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "themes/render.h"
#include "themes/theme.h"

namespace dflow::themes {
namespace {

constexpr int kMutations = 1500;
constexpr uint32_t kSeed = 20261201;
constexpr std::chrono::seconds kBudget(45);
constexpr std::chrono::seconds kHangLimit(10);

// Ends the run, keeping the input, when one input takes longer than kHangLimit.
class Watchdog {
 public:
  Watchdog() : thread_([this] { Run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Checking(const std::string& input) {
    std::lock_guard<std::mutex> lock(mu_);
    input_ = input;
    ++serial_;
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      uint64_t seen = serial_;
      if (cv_.wait_for(lock, kHangLimit, [&] { return stop_ || serial_ != seen; })) continue;
      const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
      std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/theme-fuzz-hang.yaml";
      std::ofstream(path, std::ios::binary) << input_;
      std::cerr << "theme fuzz: one input has run for more than " << kHangLimit.count()
                << " s; it is in " << path << " (" << input_.size() << " bytes)\n";
      std::_Exit(1);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string input_;
  uint64_t serial_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

std::vector<std::string> Corpus() {
  std::vector<std::filesystem::path> files;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(DFLOW_FUZZ_CORPUS) + "/theme")) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) out.push_back(*ReadFile(f.string()));
  return out;
}

class Mutator {
 public:
  explicit Mutator(const std::vector<std::string>& corpus) : corpus_(corpus), rng_(kSeed) {}

  std::string Next(const std::string& base) {
    std::string s = base;
    int edits = 1 + Pick(4);
    for (int i = 0; i < edits; ++i) {
      size_t at = s.empty() ? 0 : Pick(static_cast<int>(s.size()));
      switch (Pick(8)) {
        case 0:
          if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << Pick(8)));
          break;
        case 1: {
          static const char kInteresting[] = "\0\n\t :-[]{}&*!|>'\"#%@`,?{{}}.\\\xff\x80";
          s.insert(at, 1, kInteresting[Pick(sizeof kInteresting - 1)]);
          break;
        }
        case 2:
          if (!s.empty()) s.erase(at, 1 + Pick(16));
          break;
        case 3: {
          const std::string& other = corpus_[Pick(static_cast<int>(corpus_.size()))];
          if (!other.empty())
            s.insert(at, other.substr(Pick(static_cast<int>(other.size())), 1 + Pick(40)));
          break;
        }
        case 4: {  // duplicate a whole line (duplicate keys, repeated list items)
          size_t b = s.rfind('\n', at), e = s.find('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          if (e != std::string::npos) s.insert(e + 1, s.substr(b, e - b + 1));
          break;
        }
        case 5: {  // drop a line (missing required keys)
          size_t b = s.rfind('\n', at), e = s.find('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          s.erase(b, e == std::string::npos ? std::string::npos : e - b + 1);
          break;
        }
        case 6: {  // a document marker: a second YAML document
          size_t b = s.rfind('\n', at);
          s.insert(b == std::string::npos ? 0 : b + 1, Pick(2) ? "---\n" : "--- x\n");
          break;
        }
        default: {  // re-indent a line (wrong nesting, wrong types)
          size_t b = s.rfind('\n', at);
          b = b == std::string::npos ? 0 : b + 1;
          if (Pick(2) && s.compare(b, 2, "  ") == 0) {
            s.erase(b, 2);
          } else {
            s.insert(b, "  ");
          }
        }
      }
    }
    return s;
  }

 private:
  int Pick(int n) { return n <= 0 ? 0 : static_cast<int>(rng_() % static_cast<uint32_t>(n)); }
  const std::vector<std::string>& corpus_;
  std::mt19937 rng_;
};

void Check(const std::string& input, int* valid, int* invalid) {
  ThemeParse p;
  ASSERT_NO_THROW(p = ParseTheme(input));
  int lines = 1 + static_cast<int>(std::count(input.begin(), input.end(), '\n'));
  for (const auto& d : p.diagnostics) {
    EXPECT_FALSE(d.message.empty());
    EXPECT_GE(d.mark.line, 1);
    EXPECT_LE(d.mark.line, lines + 1) << d.message;
    EXPECT_GE(d.mark.column, 1);
  }
  if (!p.theme) {
    EXPECT_FALSE(p.diagnostics.empty());
    ++*invalid;
    return;
  }
  ++*valid;
  RenderContext ctx;
  ctx.app_name = "fuzz";
  ctx.app_url = "http://fuzz.example.test";
  for (const auto& in : p.theme->inputs) {
    if (in.required && !in.default_value) ctx.inputs[in.name] = "admin@example.test";
  }
  for (const auto& s : p.theme->secrets) ctx.secrets[s.name] = "s3cret";
  for (const auto& s : p.theme->services) {
    ctx.services[s.name] = *SplitServiceUrl("postgres://u:p@h:5432/d");
  }
  absl::StatusOr<RenderedTheme> r;
  ASSERT_NO_THROW(r = Render(*p.theme, ctx));
  // Only a required input's own check may refuse the fixed value.
  if (!r.ok()) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  }
}

TEST(ThemeFuzz, CorpusHasEveryCatalogTheme) {
  for (const auto& e : std::filesystem::directory_iterator(DFLOW_THEMES_CATALOG)) {
    if (!e.is_directory()) continue;
    std::string name = e.path().filename().string();
    std::filesystem::path seed = std::string(DFLOW_FUZZ_CORPUS) + "/theme/" + name + ".yaml";
    ASSERT_TRUE(std::filesystem::exists(seed))
        << "catalog theme " << name << " has no seed " << seed << "; copy its theme.yaml there";
    EXPECT_EQ(*ReadFile(seed.string()), *ReadFile((e.path() / "theme.yaml").string()))
        << seed << " differs from the catalog's " << name << "/theme.yaml; copy it again";
  }
}

TEST(ThemeFuzz, ParseValidateRender) {
  auto corpus = Corpus();
  ASSERT_GE(corpus.size(), 8u);
  Mutator m(corpus);
  const auto deadline = std::chrono::steady_clock::now() + kBudget;
  Watchdog watchdog;
  auto check = [&](const std::string& input, int* valid, int* invalid) {
    watchdog.Checking(input);
    Check(input, valid, invalid);
  };
  int valid = 0, invalid = 0, done = 0;
  const int planned = static_cast<int>(corpus.size()) * (kMutations + 1);
  for (const auto& seed : corpus) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    check(seed, &valid, &invalid);
    ++done;
    for (int i = 0; i < kMutations; ++i) {
      // Checked every 100 inputs: a clock read costs little next to a parse.
      if (i % 100 == 0 && std::chrono::steady_clock::now() >= deadline) break;
      check(m.Next(seed), &valid, &invalid);
      ++done;
    }
  }
  std::cout << "theme fuzz: " << done << " of " << planned << " inputs (" << valid << " valid, "
            << invalid << " invalid), seed " << kSeed
            << (done < planned ? ", stopped by the time budget" : "") << "\n";
  RecordProperty("inputs_done", done);
  RecordProperty("inputs_planned", planned);
  // The mutations must reach both sides (also in a run the budget cut short).
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 100);
}

}  // namespace
}  // namespace dflow::themes
