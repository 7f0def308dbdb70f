#include "bot/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace leadhatch::bot {
namespace {

// One JSON object per line. The message is escaped; nothing else from outside reaches the line.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        using namespace std::chrono;
        const auto t = time_point_cast<milliseconds>(msg.time);
        const auto day = floor<days>(t);
        const year_month_day ymd{day};
        const hh_mm_ss hms{t - day};
        fmt::format_to(std::back_inserter(dest), R"({{"ts":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","level":")",
                       static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()), hms.hours().count(), hms.minutes().count(),
                       hms.seconds().count(), hms.subseconds().count());
        const auto level = spdlog::level::to_string_view(msg.level);
        dest.append(level.data(), level.data() + level.size());
        static constexpr std::string_view kMsg = R"(","msg":")";
        dest.append(kMsg.data(), kMsg.data() + kMsg.size());
        for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
            switch (c) {
                case '"': dest.append(std::string_view("\\\"")); break;
                case '\\': dest.append(std::string_view("\\\\")); break;
                case '\n': dest.append(std::string_view("\\n")); break;
                case '\r': dest.append(std::string_view("\\r")); break;
                case '\t': dest.append(std::string_view("\\t")); break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<unsigned>(c));
                    } else {
                        dest.push_back(c);
                    }
            }
        }
        static constexpr std::string_view kEnd = "\"}\n";
        dest.append(kEnd.data(), kEnd.data() + kEnd.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

}  // namespace

void setup_logging(const std::string& level, bool json, std::ostream* sink) {
    spdlog::sink_ptr s;
    if (sink) {
        s = std::make_shared<spdlog::sinks::ostream_sink_mt>(*sink, true);
    } else {
        s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    }
    if (json) {
        s->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        s->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v",
                                                                     spdlog::pattern_time_type::utc));
    }
    auto logger = std::make_shared<spdlog::logger>("leadhatch", s);
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

std::string mask(std::string_view value, std::size_t keep) {
    if (value.size() <= keep) return std::string(value.size(), '*');
    return std::string(value.size() - keep, '*') + std::string(value.substr(value.size() - keep));
}

}  // namespace leadhatch::bot
