#pragma once

#include "core/types.hpp"

namespace leadhatch::core {

// Wall-clock time, injectable so tests can run a seven-day sequence in milliseconds.
class Clock {
public:
    virtual ~Clock() = default;
    virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
public:
    Timestamp now() const override {
        return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    }
};

}  // namespace leadhatch::core
