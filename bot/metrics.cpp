#include "bot/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace leadhatch::bot {
namespace {

struct Out {
    fmt::memory_buffer& buf;
    template <class... A>
    void operator()(fmt::format_string<A...> f, A&&... args) {
        fmt::format_to(std::back_inserter(buf), f, std::forward<A>(args)...);
    }
};

}  // namespace

int Metrics::add_route(std::string name) {
    auto r = std::make_unique<Route>();
    r->name = std::move(name);
    routes_.push_back(std::move(r));
    return static_cast<int>(routes_.size() - 1);
}

void Metrics::observe(int route, int status, double seconds) {
    if (route < 0 || route >= static_cast<int>(routes_.size())) return;
    Route& r = *routes_[static_cast<std::size_t>(route)];
    const auto it = std::find(kStatuses.begin(), kStatuses.end(), status);
    r.by_status[static_cast<std::size_t>(it - kStatuses.begin())].fetch_add(1, std::memory_order_relaxed);
    const auto b = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
    r.buckets[static_cast<std::size_t>(b - kBuckets.begin())].fetch_add(1, std::memory_order_relaxed);
    r.count.fetch_add(1, std::memory_order_relaxed);
    r.sum_us.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& help, const std::string& labels) {
    for (auto& c : counters_) {
        if (c->name == name && c->labels == labels) return c->counter;
    }
    auto c = std::make_unique<NamedCounter>();
    c->name = name;
    c->help = help;
    c->labels = labels;
    counters_.push_back(std::move(c));
    return counters_.back()->counter;
}

void Metrics::gauge(const std::string& name, const std::string& help, std::function<double()> read,
                    const std::string& labels) {
    gauges_.push_back(Gauge{name, help, labels, std::move(read)});
}

std::string Metrics::render() const {
    fmt::memory_buffer buf;
    Out put{buf};
    put("# HELP leadhatch_http_requests_total HTTP requests by route and status.\n");
    put("# TYPE leadhatch_http_requests_total counter\n");
    for (const auto& r : routes_) {
        for (std::size_t i = 0; i <= kStatuses.size(); ++i) {
            const auto n = r->by_status[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            const std::string status = i < kStatuses.size() ? std::to_string(kStatuses[i]) : "other";
            put("leadhatch_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", r->name, status, n);
        }
    }
    put("# HELP leadhatch_http_request_duration_seconds Time from request read to response written.\n");
    put("# TYPE leadhatch_http_request_duration_seconds histogram\n");
    for (const auto& r : routes_) {
        const auto count = r->count.load(std::memory_order_relaxed);
        if (count == 0) continue;
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < kBuckets.size(); ++i) {
            cumulative += r->buckets[i].load(std::memory_order_relaxed);
            put("leadhatch_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", r->name, kBuckets[i],
                cumulative);
        }
        cumulative += r->buckets[kBuckets.size()].load(std::memory_order_relaxed);
        put("leadhatch_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", r->name, cumulative);
        put("leadhatch_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", r->name,
            static_cast<double>(r->sum_us.load(std::memory_order_relaxed)) / 1e6);
        put("leadhatch_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", r->name, count);
    }
    std::set<std::string> described;
    // Samples of one metric family must be adjacent in the text format.
    std::vector<const NamedCounter*> sorted;
    for (const auto& c : counters_) sorted.push_back(c.get());
    std::stable_sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* c : sorted) {
        if (described.insert(c->name).second) {
            put("# HELP {} {}\n# TYPE {} counter\n", c->name, c->help, c->name);
        }
        put("{}{}{}{} {}\n", c->name, c->labels.empty() ? "" : "{", c->labels, c->labels.empty() ? "" : "}",
            c->counter.value());
    }
    for (const auto& g : gauges_) {
        if (described.insert(g.name).second) put("# HELP {} {}\n# TYPE {} gauge\n", g.name, g.help, g.name);
        put("{}{}{}{} {}\n", g.name, g.labels.empty() ? "" : "{", g.labels, g.labels.empty() ? "" : "}", g.read());
    }
    return fmt::to_string(buf);
}

}  // namespace leadhatch::bot
