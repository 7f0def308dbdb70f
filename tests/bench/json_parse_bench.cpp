// Webhook body parsing cost: the nlohmann::json DOM the Telegram adapter used to build versus
// core::JsonDoc, and the whole parse_update on top of it. Counts heap allocations by replacing the
// global operator new in this program. Run by hand:
//
//   ./bin/json_parse_bench [iterations] [source dir]
//
// Each case parses the Telegram fixtures round-robin, `iterations` times in all (default 200000), in
// two spellings: as stored (pretty-printed, raw UTF-8) and as Telegram sends them (compact, non-ASCII
// as \u escapes, '/' as "\/").

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/chat/telegram/telegram_update.hpp"
#include "core/util/json_view.hpp"

// ---- allocation counting ------------------------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_allocated_bytes{0};

void* counted_alloc(std::size_t size, std::size_t alignment = 0) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
    if (size == 0) size = 1;
    void* p = nullptr;
    if (alignment > alignof(std::max_align_t)) {
        if (posix_memalign(&p, alignment, size) != 0) p = nullptr;
    } else {
        p = std::malloc(size);
    }
    return p;
}

}  // namespace

// GCC inlines these deletes into library code and, not seeing that the matching new is ours and calls
// malloc, warns about free() on memory from operator new.
// NOLINTBEGIN(cppcoreguidelines-no-malloc): these are the allocation functions.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    if (void* p = counted_alloc(size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t al) {
    if (void* p = counted_alloc(size, static_cast<std::size_t>(al))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size, std::align_val_t al) {
    if (void* p = counted_alloc(size, static_cast<std::size_t>(al))) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept { return counted_alloc(size); }
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept { return counted_alloc(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t /*al*/) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t /*al*/) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/, std::align_val_t /*al*/) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t /*size*/, std::align_val_t /*al*/) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }

#pragma GCC diagnostic pop
// NOLINTEND(cppcoreguidelines-no-malloc)

// ---- benchmark --------------------------------------------------------------------------------------------

namespace {

using leadhatch::adapters::telegram::parse_update;
using leadhatch::adapters::telegram::ParsedUpdate;
using leadhatch::core::JsonDoc;

constexpr std::string_view kChannel = "tg_main";
constexpr std::string_view kBotUsername = "yourbot";
constexpr std::string_view kBotId = "7012345678";

struct Body {
    std::string name;
    std::string text;
};

std::vector<Body> load_fixtures(const std::filesystem::path& source_dir) {
    std::vector<Body> out;
    const auto dir = source_dir / "tests" / "fixtures" / "telegram";
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".json") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        out.push_back({entry.path().filename().string(), ss.str()});
    }
    std::ranges::sort(out, {}, &Body::name);
    return out;
}

// The same update as Telegram puts it on the wire.
std::vector<Body> wire_spelling(const std::vector<Body>& bodies) {
    std::vector<Body> out;
    for (const auto& b : bodies) {
        const std::string compact = nlohmann::json::parse(b.text).dump(-1, ' ', /*ensure_ascii=*/true);
        std::string wire;
        for (const char c : compact) {
            if (c == '/') wire += '\\';  // '/' only occurs inside strings
            wire += c;
        }
        out.push_back({b.name, std::move(wire)});
    }
    return out;
}

struct Result {
    double ns_per_op = 0;
    double allocs_per_op = 0;
    double bytes_per_op = 0;
};

// Runs op over the bodies round-robin; `sink` keeps the work observable.
Result run(const std::vector<Body>& bodies, std::size_t iterations,
           const std::function<std::size_t(std::string_view)>& op, std::size_t& sink) {
    for (std::size_t i = 0; i < bodies.size() * 20; ++i) sink += op(bodies[i % bodies.size()].text);  // warm-up
    const auto allocs_before = g_allocations.load();
    const auto bytes_before = g_allocated_bytes.load();
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < iterations; ++i) sink += op(bodies[i % bodies.size()].text);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const auto n = static_cast<double>(iterations);
    return Result{static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / n,
                  static_cast<double>(g_allocations.load() - allocs_before) / n,
                  static_cast<double>(g_allocated_bytes.load() - bytes_before) / n};
}

std::size_t nlohmann_parse(std::string_view body) {
    const auto j = nlohmann::json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    return j.size();
}

std::size_t json_doc_parse(std::string_view body) {
    const auto doc = JsonDoc::parse(body, static_cast<int>(leadhatch::adapters::telegram::kMaxJsonDepth));
    const auto* ok = std::get_if<JsonDoc>(&doc);
    return ok != nullptr ? ok->node_count() : 0;
}

std::size_t full_parse_update(std::string_view body) {
    const auto r = parse_update(body, kChannel, kBotUsername, kBotId);
    const auto* ok = std::get_if<ParsedUpdate>(&r);
    return ok != nullptr ? ok->delivery.events.size() + 1 : 0;
}

void print(const char* label, const Result& r) {
    std::printf("  %-44s %9.0f ns/op %8.1f allocs/op %9.0f bytes/op\n", label, r.ns_per_op, r.allocs_per_op,
                r.bytes_per_op);
}

int run_all(int argc, char** argv) {
    std::size_t iterations = 200000;
    if (argc > 1) iterations = std::strtoull(argv[1], nullptr, 10);
    std::filesystem::path source_dir = LEADHATCH_BENCH_SOURCE_DIR;
    if (const char* env = std::getenv("LEADHATCH_SOURCE_DIR"); env != nullptr && *env != '\0') source_dir = env;
    if (argc > 2) source_dir = argv[2];

    const auto stored = load_fixtures(source_dir);
    if (stored.empty()) {
        std::fprintf(stderr, "no fixtures under %s\n", source_dir.c_str());
        return 1;
    }
    const auto wire = wire_spelling(stored);

    std::size_t sink = 0;
    for (const auto& [label, bodies] : {std::pair{"fixtures as stored (pretty, raw UTF-8)", &stored},
                                        std::pair{"fixtures as sent (compact, \\u escapes)", &wire}}) {
        std::size_t bytes = 0;
        for (const auto& b : *bodies) bytes += b.text.size();
        std::printf("%s: %zu bodies, %zu bytes on average, %zu iterations\n", label, bodies->size(),
                    bytes / bodies->size(), iterations);
        const auto old_dom = run(*bodies, iterations, nlohmann_parse, sink);
        const auto new_dom = run(*bodies, iterations, json_doc_parse, sink);
        const auto update = run(*bodies, iterations, full_parse_update, sink);
        print("old: nlohmann::json::parse", old_dom);
        print("new: core::JsonDoc::parse", new_dom);
        print("new: parse_update (JsonDoc + mapping)", update);
        std::printf("  DOM speed-up %.1fx, allocations %.1f -> %.1f per body\n\n",
                    old_dom.ns_per_op / new_dom.ns_per_op, old_dom.allocs_per_op, new_dom.allocs_per_op);
    }
    std::printf("(checksum %zu)\n", sink);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_all(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "json_parse_bench: %s\n", e.what());
        return 1;
    }
}
