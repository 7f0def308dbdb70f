#pragma once

#include <memory>
#include <ostream>
#include <string>

namespace leadhatch::bot {

// Sets up the default spdlog logger once: level by name, human-readable lines or JSON lines
// (one object per line: ts, level, msg). Writes to stderr unless a stream is given (tests).
void setup_logging(const std::string& level, bool json, std::ostream* sink = nullptr);

// Masks all but the last few characters of an identifier for logs: "******7890".
std::string mask(std::string_view value, std::size_t keep = 4);

}  // namespace leadhatch::bot
