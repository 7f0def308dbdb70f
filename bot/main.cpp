// leadhatch: incubates sales leads inside chat. See README.md and ../shared/contract.md.
#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "bot/app.hpp"
#include "bot/config.hpp"
#include "bot/logging.hpp"
#include "core/error.hpp"

namespace {

constexpr const char* kVersion = "leadhatch 0.1.0";

constexpr const char* kUsage = R"(leadhatch: incubates sales leads inside chat.

Usage:
  leadhatch serve --config FILE [--log-level LEVEL] [--log-json]
      Run the service until SIGTERM/SIGINT, then drain and exit 0.
  leadhatch check-config --config FILE
      Validate the config and every template it names. Prints each problem as
      "PATH: message". Exit 0 when valid, 2 when not.
  leadhatch migrate --config FILE
      Bring the database schema up to date and exit (serve does this too).
  leadhatch --version
  leadhatch --help

LEVEL: trace, debug, info, warn, error, critical, off (default: the config's logging.level).
)";

struct Args {
    std::string command;
    std::string config;
    std::string log_level;
    bool log_json = false;
    std::string error;
};

Args parse_args(int argc, char** argv) {
    Args a;
    std::vector<std::string> rest(argv + 1, argv + argc);
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const auto& s = rest[i];
        auto value = [&](const char* name) -> std::string {
            if (i + 1 >= rest.size()) {
                a.error = std::string(name) + " needs a value";
                return {};
            }
            return rest[++i];
        };
        if (s == "--config" || s == "-c") {
            a.config = value("--config");
        } else if (s.rfind("--config=", 0) == 0) {
            a.config = s.substr(9);
        } else if (s == "--log-level") {
            a.log_level = value("--log-level");
        } else if (s == "--log-json") {
            a.log_json = true;
        } else if (s == "--help" || s == "-h" || s == "help") {
            a.command = "help";
        } else if (s == "--version" || s == "-V" || s == "version") {
            a.command = "version";
        } else if (a.command.empty() && s.size() > 0 && s[0] != '-') {
            a.command = s;
        } else {
            a.error = "unknown argument '" + s + "'";
        }
        if (!a.error.empty()) break;
    }
    return a;
}

int print_problems(const std::vector<leadhatch::bot::ConfigProblem>& problems) {
    for (const auto& p : problems) std::cerr << (p.path.empty() ? "config" : p.path) << ": " << p.message << "\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace leadhatch;
    const Args args = parse_args(argc, argv);
    if (!args.error.empty()) {
        std::cerr << "leadhatch: " << args.error << "\n\n" << kUsage;
        return 2;
    }
    if (args.command == "help" || args.command.empty()) {
        (args.command.empty() ? std::cerr : std::cout) << kUsage;
        return args.command.empty() ? 2 : 0;
    }
    if (args.command == "version") {
        std::cout << kVersion << "\n";
        return 0;
    }
    if (args.command != "serve" && args.command != "check-config" && args.command != "migrate") {
        std::cerr << "leadhatch: unknown command '" << args.command << "'\n\n" << kUsage;
        return 2;
    }
    if (args.config.empty()) {
        std::cerr << "leadhatch " << args.command << ": --config FILE is required\n";
        return 2;
    }
    auto load = bot::load_config(args.config);
    if (!load.config) return print_problems(load.problems);
    auto& config = *load.config;
    if (args.command == "check-config") {
        std::cout << args.config << ": ok (" << config.channels.size() << " channel(s), storage "
                  << (config.storage.parsed.kind == adapters::storage::StorageUrl::Kind::kSqlite ? "sqlite" : "mysql")
                  << ")\n";
        return 0;
    }
    const std::string level = args.log_level.empty() ? config.logging.level : args.log_level;
    static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool level_ok = false;
    for (const char* l : kLevels) level_ok = level_ok || level == l;
    if (!level_ok) {
        std::cerr << "leadhatch: --log-level must be one of trace, debug, info, warn, error, critical, off\n";
        return 2;
    }
    bot::setup_logging(level, args.log_json || config.logging.json);

    if (args.command == "migrate") {
        try {
            adapters::storage::StorageTuning tuning;
            tuning.pool_size = 1;
            auto storage = adapters::storage::make_storage(config.storage.parsed, tuning);
            storage->migrate();
            std::cout << "schema is at version " << storage->schema_version() << "\n";
            return 0;
        } catch (const std::exception& e) {
            spdlog::error("migrate failed: {}", e.what());
            return 1;
        }
    }
    bot::App app(std::move(config), bot::App::Options{});
    return app.run();
}
