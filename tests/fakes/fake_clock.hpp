#pragma once

#include <chrono>

#include "core/clock.hpp"
#include "core/types.hpp"

namespace leadhatch::fakes {

// A core::Clock that only moves when a test says so (style guide 24: time is injected, never slept).
class FakeClock final : public core::Clock {
   public:
    static constexpr std::int64_t kDefaultStartMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

    explicit FakeClock(core::Timestamp start = core::from_epoch_ms(kDefaultStartMs)) : now_(start) {}

    core::Timestamp now() const override { return now_; }

    void set(core::Timestamp t) { now_ = t; }

    template <class Rep, class Period>
    void advance(std::chrono::duration<Rep, Period> d) {
        now_ += std::chrono::duration_cast<std::chrono::milliseconds>(d);
    }

   private:
    core::Timestamp now_;
};

}  // namespace leadhatch::fakes
