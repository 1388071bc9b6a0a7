// Durable operation step commits against raw SQLite commits, in the same run.
//
//   op_commit_bench [--steps 2000] [--dir /tmp]
//
// The store's settings (WAL, synchronous=FULL) make every commit an fsync; what
// the operation engine adds on top of that is its bookkeeping. This measures, on
// one file system and in one process:
//   baseline:  BEGIN; INSERT one row; COMMIT — raw sqlite3, WAL, synchronous=FULL
//   running:   Store::MarkStepRunning (a step written as started)
//   finish:    Store::FinishStep with effects (a step's result, an instance row,
//              its state and an event, in one transaction)
// and prints the median and p99 latency of each and the ratios to the baseline.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "controller/store/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double p50_us = 0, p99_us = 0;
};

Stats Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

template <typename F>
double TimeUs(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "op_commit_bench: %s\n", what.c_str());
    std::exit(1);
  }
}

std::vector<double> RawCommits(const std::string& path, int n) {
  sqlite3* db = nullptr;
  Check(sqlite3_open(path.c_str(), &db) == SQLITE_OK, "cannot open " + path);
  Check(sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);",
                     nullptr, nullptr, nullptr) == SQLITE_OK,
        "cannot set up the baseline table");
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES(?)", -1, &insert, nullptr);
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    us.push_back(TimeUs([&] {
      sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      sqlite3_bind_text(insert, 1, "step output", -1, SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }));
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 2000;
  std::string base = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--dir")) base = argv[i + 1];
  }
  std::string dir = base + "/dflow-op-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);

  auto raw = RawCommits(dir + "/raw.db", steps);

  auto store = dflow::store::Store::Open(dir + "/store.db", dflow::SystemClock::Get());
  Check(store.ok(), "cannot open the store");
  dflow::store::App app;
  app.name = "bench";
  Check((*store)->CreateApp(app).ok(), "cannot create the app");
  auto op = (*store)->CreateOp("bench", "scale", "{}", std::nullopt, "bench");
  Check(op.ok(), "cannot create the op: " + std::string(op.status().message()));
  dflow::store::StepEffects plan;
  for (int i = 0; i < steps; ++i) {
    dflow::store::OpStep s;
    s.kind = "start";
    s.description = absl::StrCat("start instance ", i);
    plan.append_steps.push_back(s);
  }
  Check((*store)->MarkStepRunning(*op, 0).ok(), "cannot start the plan step");
  Check((*store)->FinishStep(*op, 0, "done", "{}", "", "", plan).ok(), "cannot finish the plan");

  std::vector<double> running, finish;
  for (int i = 1; i <= steps; ++i) {
    running.push_back(TimeUs([&] { Check((*store)->MarkStepRunning(*op, i).ok(), "mark"); }));
    dflow::store::StepEffects e;
    dflow::store::Instance inst;
    inst.id = absl::StrCat("bench-web-", i);
    inst.app = "bench";
    inst.process = "web";
    inst.server = "srv-1";
    inst.op_id = *op;
    e.put_instances.push_back(inst);
    e.instance_states[inst.id] = dflow::store::kInstanceRunning;
    e.event_kind = "instance.started";
    e.event_message = inst.id;
    finish.push_back(TimeUs([&] {
      Check((*store)->FinishStep(*op, i, "done", "{}", "started", "", e).ok(), "finish");
    }));
  }
  store->reset();
  std::filesystem::remove_all(dir);

  Stats r = Summarize(raw), m = Summarize(running), f = Summarize(finish);
  std::printf("| commit (%d each, WAL, synchronous=FULL) | p50 | p99 | p50 ratio to raw |\n",
              steps);
  std::printf("|---|---|---|---|\n");
  std::printf("| raw SQLite: BEGIN; INSERT; COMMIT | %.0f us | %.0f us | 1.00 |\n", r.p50_us,
              r.p99_us);
  std::printf("| Store::MarkStepRunning | %.0f us | %.0f us | %.2f |\n", m.p50_us, m.p99_us,
              m.p50_us / r.p50_us);
  std::printf(
      "| Store::FinishStep with an instance, its state and an event | %.0f us | %.0f us | "
      "%.2f |\n",
      f.p50_us, f.p99_us, f.p50_us / r.p50_us);
  return 0;
}
