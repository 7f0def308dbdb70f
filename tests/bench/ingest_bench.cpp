// The ingest writer alone: what one writer thread spends per event to plan and commit grouped
// deliveries (dedupe, identity lookup, lead upsert, event, scoring, outbox), without HTTP. The
// deliveries are the load benchmark's Telegram updates (tests/bench/telegram_updates.lua: a pool
// of 20,000 senders, about 2% redeliveries), parsed by the real adapter before timing starts.
//
//   ./bin/ingest_bench STORAGE_URL [events] [batch] [templates dir] [warm-up updates]
//
// STORAGE_URL: sqlite:PATH (a fresh file) or mysql://user:pass@host:port/db (an empty database).
// Prints the writer thread's CPU time per event and wall-clock events/s. The figure is the
// writer's share of the service's CPU per event; `valgrind --tool=callgrind
// --instr-atstart=no` counts the instructions of the timed part only: a figure that does not drift
// with the machine.

#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "adapters/chat/telegram/telegram_update.hpp"
#include "adapters/storage/storage_factory.hpp"
#include "bot/templates_loader.hpp"
#include "core/clock.hpp"
#include "core/conversation/ingest.hpp"
#include "core/leads/lead_service.hpp"

namespace {

using namespace leadhatch;

constexpr const char* kChannel = "tg-bench";

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The same update bodies as telegram_updates.lua: update ids counting up, 2% redelivered, the
// sender drawn from a pool of 20,000 with the script's mixing.
std::vector<core::InboundDelivery> make_deliveries(std::int64_t n) {
    const char* texts[] = {
        "Hello, I would like to know more about your pricing for a team of %d people. Can someone contact me?",
        "我们公司有%d个销售，想了解一下企业版的价格和部署方式，可以安排演示吗？",
        "Is there a discount for annual plans? We are %d seats and growing quickly this quarter.",
        "请问支持和企业微信打通吗？我们有%d个客户群需要管理。",
    };
    std::vector<core::InboundDelivery> out;
    out.reserve(static_cast<std::size_t>(n));
    std::srand(17);
    const std::int64_t base = 100000000;
    for (std::int64_t sent = 1; sent <= n; ++sent) {
        std::int64_t uid = base + sent;
        if (sent > 100 && std::rand() % 100 < 2) uid = base + 1 + std::rand() % (sent - 1);
        const std::int64_t user = 100000000 + (((uid % 20000) * 7919) % 20000);
        char text[256];
        std::snprintf(text, sizeof text, texts[uid % 4], static_cast<int>(uid % 90 + 10));
        char body[1024];
        std::snprintf(body, sizeof body,
                      R"({"update_id":%lld,"message":{"message_id":%lld,"from":{"id":%lld,"is_bot":false,)"
                      R"("first_name":"User%lld","last_name":"Bench","username":"user_%lld","language_code":"en"},)"
                      R"("chat":{"id":%lld,"first_name":"User%lld","last_name":"Bench","username":"user_%lld",)"
                      R"("type":"private"},"date":1732350000,"text":"%s"}})",
                      static_cast<long long>(uid), static_cast<long long>(uid % 1000000),
                      static_cast<long long>(user), static_cast<long long>(user), static_cast<long long>(user),
                      static_cast<long long>(user), static_cast<long long>(user), static_cast<long long>(user), text);
        auto parsed = adapters::telegram::parse_update(body, kChannel, "bench_bot", "1");
        if (auto* p = std::get_if<adapters::telegram::ParsedUpdate>(&parsed)) {
            out.push_back(std::move(p->delivery));
        } else {
            std::fprintf(stderr, "bench update does not parse: %s\n", std::get<1>(parsed).message.c_str());
            std::exit(1);
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s STORAGE_URL [events] [batch] [templates dir] [warm-up updates]\n", argv[0]);
        return 2;
    }
    const std::int64_t events = argc > 2 ? std::atoll(argv[2]) : 100000;
    const std::size_t batch = argc > 3 ? static_cast<std::size_t>(std::atoll(argv[3])) : 32;
    const std::filesystem::path templates_dir =
        argc > 4 ? std::filesystem::path(argv[4]) : std::filesystem::path(LEADHATCH_BENCH_SOURCE_DIR) / "templates";
    if (events <= 0 || batch == 0) {
        std::fprintf(stderr, "events and batch must be positive\n");
        return 2;
    }

    auto url = adapters::storage::parse_storage_url(argv[1], std::filesystem::current_path());
    if (!url) {
        std::fprintf(stderr, "storage url: %s\n", url.error().message.c_str());
        return 2;
    }
    auto storage = adapters::storage::make_storage(*url, adapters::storage::StorageTuning{2, 5000});
    storage->migrate();

    std::vector<core::TemplateProblem> problems;
    auto bundle = bot::load_template_bundle(templates_dir, problems);
    for (const auto& p : problems) std::fprintf(stderr, "templates: %s: %s\n", p.path.c_str(), p.message.c_str());
    core::Funnel funnel(bundle.funnel);
    core::ScoringEngine scoring(bundle.scoring);
    core::LeadService leads(funnel, scoring, bundle.segments);
    const core::ChannelInfo channel{kChannel, core::Platform::kTelegram, "en", false, false};
    core::SystemClock clock;
    core::IngestProcessor processor(
        bundle.messages, [&](std::string_view id) { return id == kChannel ? &channel : nullptr; }, clock, &leads);

    // The first 20,000 updates warm up: one from each sender of the pool, creating its lead (the
    // service's load benchmark warms up the same way). The rest are timed. A longer warm-up
    // (40,000: every sender has written twice) times the senders' later updates, which the
    // service's load benchmark mostly sends.
    const std::int64_t warmup = argc > 5 ? std::atoll(argv[5]) : 20000;
    if (warmup < 0) {
        std::fprintf(stderr, "warm-up must not be negative\n");
        return 2;
    }
    const auto deliveries = make_deliveries(warmup + events);
    core::IdPool ids;
    std::int64_t accepted = 0;
    auto run = [&](std::size_t from, std::size_t to) {
        std::vector<const core::InboundDelivery*> group;
        for (std::size_t i = from; i < to; i += batch) {
            group.clear();
            for (std::size_t j = i; j < std::min(to, i + batch); ++j) group.push_back(&deliveries[j]);
            for (const auto& r : processor.commit(*storage, group, ids, 4096)) {
                if (r.status == core::IngestStatus::kAccepted) ++accepted;
            }
        }
    };
    const auto warm = static_cast<std::size_t>(warmup);
    run(0, warm);
    accepted = 0;
    const double cpu0 = thread_cpu_seconds();
    const auto wall0 = std::chrono::steady_clock::now();
    CALLGRIND_START_INSTRUMENTATION;
    run(warm, deliveries.size());
    CALLGRIND_STOP_INSTRUMENTATION;
    const double cpu = thread_cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    std::printf("%s: events=%lld accepted=%lld batch=%zu writer_cpu_us_per_event=%.1f events_per_s=%.0f\n",
                std::string(storage->backend()).c_str(), static_cast<long long>(events), static_cast<long long>(accepted), batch,
                cpu * 1e6 / static_cast<double>(events), static_cast<double>(events) / wall);
    return 0;
}
