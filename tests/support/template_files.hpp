#pragma once

// For tests of the template files (messages, funnel, scoring, segments): the shipped files and a
// readable list of the problems a parser reported.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/messaging/templates.hpp"

namespace leadhatch::testing {

// The repository root (LEADHATCH_SOURCE_DIR overrides the one compiled in).
inline std::string repo_dir() {
    if (const char* env = std::getenv("LEADHATCH_SOURCE_DIR"); env && *env) return env;
    return LEADHATCH_SOURCE_DIR_DEFAULT;
}

// A file's whole text; a missing file fails the test and reads as empty.
inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in) << "cannot open " << path;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// One problem per line, for assertion messages.
inline std::string describe(const std::vector<core::TemplateProblem>& problems) {
    std::string out;
    for (const auto& p : problems) out += "  " + p.path + ": " + p.message + "\n";
    return out;
}

}  // namespace leadhatch::testing
