// Time as a dependency: production code reads a Clock, tests advance a FakeClock.
#ifndef DFLOW_COMMON_CLOCK_H_
#define DFLOW_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace dflow {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (for records and display).
  virtual int64_t NowMs() const = 0;
  // Monotonic milliseconds (for leases and deadlines).
  virtual int64_t MonotonicMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
  static SystemClock* Get();
};

// Starts at a fixed time; moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms), mono_(1'000'000) {}
  int64_t NowMs() const override { return now_.load(); }
  int64_t MonotonicMs() const override { return mono_.load(); }
  void Advance(std::chrono::milliseconds d) {
    now_ += d.count();
    mono_ += d.count();
  }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> mono_;
};

// "2026-11-23T15:02:19.123Z"; empty for 0.
std::string FormatRfc3339(int64_t ms_since_epoch);

}  // namespace dflow

#endif  // DFLOW_COMMON_CLOCK_H_
