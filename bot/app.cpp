#include "bot/app.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <thread>

#include "bot/admin_api.hpp"
#include "bot/channel_api.hpp"
#include "bot/http/router.hpp"
#include "bot/http/server.hpp"
#include "bot/ingest_queue.hpp"
#include "bot/maintenance.hpp"
#include "bot/metrics.hpp"
#include "bot/templates_loader.hpp"
#include "bot/webhooks.hpp"
#include "core/conversation/ingest.hpp"
#include "core/error.hpp"

namespace leadhatch::bot {

namespace net = boost::asio;

struct App::Impl {
    Impl(Config c, Options o)
        : config(std::move(c)),
          options(o),
          clock(o.clock ? *o.clock : static_cast<const core::Clock&>(system_clock)),
          ioc(1),  // timers, the outbox and the admin's background work; requests run on the server's threads
          db_pool(static_cast<std::size_t>(std::max(2, config.storage.pool_size))) {}

    Config config;
    Options options;
    core::SystemClock system_clock;
    const core::Clock& clock;
    net::io_context ioc;
    net::thread_pool db_pool;
    std::unique_ptr<core::Storage> storage;
    TemplateBundle bundle;
    core::TemplateCatalog& templates = bundle.messages;
    std::unique_ptr<core::Funnel> funnel;
    std::unique_ptr<core::ScoringEngine> scoring;
    std::unique_ptr<core::LeadService> leads;
    std::unique_ptr<AdminApi> admin;
    std::unique_ptr<ChannelApi> channel_api;
    std::unique_ptr<Maintenance> maintenance;
    std::vector<core::ChannelInfo> channel_infos;
    std::unique_ptr<core::IngestProcessor> processor;
    std::unique_ptr<IngestQueue> ingest;
    std::unique_ptr<Webhooks> webhooks;
    Metrics metrics;
    Router router;
    std::unique_ptr<HttpServer> server;
    std::atomic<bool> migrated{false};
    std::atomic<bool> stopping{false};

    std::mutex state_mu;
    std::condition_variable state_cv;
    enum class State { kStarting, kListening, kFailed } state = State::kStarting;

    void set_state(State s) {
        {
            std::lock_guard lk(state_mu);
            state = s;
        }
        state_cv.notify_all();
    }

    void add_routes();
    void on_migrated() {
        migrated = true;
        spdlog::info("storage: schema is at version {}", storage->schema_version());
        webhooks->start();
        maintenance->start();
    }
    std::function<void()> stop_app;
    net::awaitable<void> migrate_until_done();
    net::awaitable<void> shutdown();
};

void App::Impl::add_routes() {
    auto add = [&](const char* method, const char* pattern, Handler h) { router.add(method, pattern, std::move(h)); };
    add("GET", "/healthz", [](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
        co_return text_response(200, "ok\n");
    });
    add("GET", "/readyz", [this](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
        if (!migrated.load()) co_return text_response(503, "database schema not ready\n");
        const bool ok = co_await offload(db_pool, [this] { return storage->ping(); });
        co_return ok ? text_response(200, "ready\n") : text_response(503, "database unavailable\n");
    });
    add("GET", "/metrics", [this](HttpRequest&, const RouteParams&) -> Task<HttpResponse> {
        HttpResponse r = text_response(200, metrics.render());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        co_return r;
    });
    webhooks->add_routes([&](const char* method, const char* pattern, Handler h) { add(method, pattern, std::move(h)); });
    admin->add_routes([&](const char* method, const char* pattern, Handler h) { add(method, pattern, std::move(h)); });
    channel_api->add_routes(
        [&](const char* method, const char* pattern, Handler h) { add(method, pattern, std::move(h)); });
}

net::awaitable<void> App::Impl::migrate_until_done() {
    auto ex = co_await net::this_coro::executor;
    net::steady_timer timer(ex);
    for (int attempt = 0; !stopping; ++attempt) {
        try {
            co_await offload(db_pool, [this] {
                storage->migrate();
                return 0;
            });
            on_migrated();
            co_return;
        } catch (const core::StorageError& e) {
            if (e.kind() != core::StorageErrorKind::kUnavailable) {
                spdlog::critical("storage: migration failed: {}", e.what());
                stop_app();
                co_return;
            }
            if (attempt % 10 == 0) spdlog::warn("storage: not reachable yet ({}); retrying", e.what());
        }
        timer.expires_after(std::chrono::seconds(1));
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

net::awaitable<void> App::Impl::shutdown() {
    spdlog::info("shutting down: no new connections, finishing requests in flight");
    server->stop_accepting();
    auto ex = co_await net::this_coro::executor;
    net::steady_timer timer(ex);
    const auto deadline = std::chrono::steady_clock::now() + config.server.shutdown_timeout;
    while (server->open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(10));
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    if (server->open_connections() > 0) {
        spdlog::warn("shutdown: {} connections still open after {} ms", server->open_connections(),
                     config.server.shutdown_timeout.count());
    }
    if (webhooks) co_await webhooks->stop();
    if (maintenance) co_await maintenance->stop();
    // Every request is answered by now; the queue holds nothing anyone waits for, but finish it.
    co_await offload(db_pool, [this] {
        ingest->stop();
        return 0;
    });
    spdlog::info("shutdown complete");
    ioc.stop();
}

App::App(Config config, Options options) : impl_(std::make_unique<Impl>(std::move(config), options)) {}

App::~App() {
    impl_->db_pool.join();
}

void App::stop() {
    if (impl_->stopping.exchange(true)) return;
    net::co_spawn(impl_->ioc, impl_->shutdown(), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("shutdown failed: {}", ex.what());
        }
    });
}

bool App::wait_listening(std::chrono::milliseconds timeout) {
    std::unique_lock lk(impl_->state_mu);
    impl_->state_cv.wait_for(lk, timeout, [&] { return impl_->state != Impl::State::kStarting; });
    return impl_->state == Impl::State::kListening;
}

std::uint16_t App::port() const { return impl_->server ? impl_->server->port() : 0; }

int App::run() {
    auto& d = *impl_;
    try {
        adapters::storage::StorageTuning tuning;
        tuning.pool_size = d.config.storage.pool_size;
        tuning.busy_timeout_ms = d.config.storage.busy_timeout_ms;
        d.storage = adapters::storage::make_storage(d.config.storage.parsed, tuning);
        std::vector<core::TemplateProblem> problems;
        d.bundle = load_template_bundle(d.config.templates_dir, problems);
        for (const auto& p : problems) spdlog::warn("templates: {}: {}", p.path, p.message);
        d.funnel = std::make_unique<core::Funnel>(d.bundle.funnel);
        d.scoring = std::make_unique<core::ScoringEngine>(d.bundle.scoring);
        d.leads = std::make_unique<core::LeadService>(*d.funnel, *d.scoring, d.bundle.segments);
        for (const auto& ch : d.config.channels) {
            // WeChat answers in the webhook's reply (passive replies); neither WeChat nor WeCom has
            // inline keyboards, so buttons become numbered options.
            const bool wechat = ch.platform == core::Platform::kWechatOa;
            const bool numbered = wechat || ch.platform == core::Platform::kWecom;
            d.channel_infos.push_back(core::ChannelInfo{ch.id, ch.platform, ch.default_locale, wechat, numbered});
        }
        d.processor = std::make_unique<core::IngestProcessor>(
            d.templates,
            [&d](std::string_view id) -> const core::ChannelInfo* {
                for (const auto& c : d.channel_infos) {
                    if (c.id == id) return &c;
                }
                return nullptr;
            },
            d.clock, d.leads.get());
        IngestQueue::Options qo;
        qo.max_batch = d.config.storage.max_batch;
        // SQLite has one writer at a time; a server database commits two lanes side by side when
        // the pool leaves a connection for everything else.
        qo.writers = d.storage->backend() == "mysql" && d.config.storage.pool_size >= 3 ? 2 : 1;
        d.ingest = std::make_unique<IngestQueue>(*d.storage, *d.processor, qo);
        d.webhooks = std::make_unique<Webhooks>(Webhooks::Deps{d.config, d.ioc, d.db_pool, *d.storage, *d.ingest,
                                                               d.metrics, d.clock, d.templates, d.migrated});
        d.admin = std::make_unique<AdminApi>(AdminApi::Deps{d.config, d.db_pool, *d.storage, *d.leads, d.clock});
        d.channel_api = std::make_unique<ChannelApi>(ChannelApi::Deps{d.config, *d.webhooks, d.clock});
        d.maintenance = std::make_unique<Maintenance>(
            Maintenance::Deps{d.ioc, d.db_pool, *d.storage, *d.leads, d.clock, d.migrated});
        d.add_routes();
        d.metrics.gauge("leadhatch_db_pool_connections", "Database connections open.",
                        [&d] { return static_cast<double>(d.storage->pool_stats().size); }, "state=\"open\"");
        d.metrics.gauge("leadhatch_db_pool_connections", "Database connections open.",
                        [&d] { return static_cast<double>(d.storage->pool_stats().in_use); }, "state=\"in_use\"");
        d.metrics.gauge("leadhatch_db_pool_max", "Database pool capacity.",
                        [&d] { return static_cast<double>(d.storage->pool_stats().max); });
        d.metrics.gauge("leadhatch_db_pool_waits_total", "Checkouts that waited for a free connection.",
                        [&d] { return static_cast<double>(d.storage->pool_stats().waits); });
        d.metrics.gauge("leadhatch_ingest_queue_depth", "Deliveries waiting for the next group commit.",
                        [&d] { return static_cast<double>(d.ingest->depth()); });
        d.metrics.gauge("leadhatch_ingest_batches_total", "Group commits of inbound deliveries.",
                        [&d] { return static_cast<double>(d.ingest->batches()); });
        d.metrics.gauge("leadhatch_ingest_committed_total", "Inbound deliveries committed.",
                        [&d] { return static_cast<double>(d.ingest->committed()); });
        d.metrics.gauge("leadhatch_ingest_duplicates_total", "Redelivered webhooks acknowledged without processing.",
                        [&d] { return static_cast<double>(d.ingest->duplicates()); });
        d.metrics.gauge("leadhatch_http_connections_open", "Open HTTP connections.",
                        [&d] { return d.server ? static_cast<double>(d.server->open_connections()) : 0.0; });

        // Bring the schema up to date before taking traffic. A database that is not reachable yet
        // is not fatal: the service starts, answers 503 (and /readyz 503), and keeps trying.
        try {
            d.storage->migrate();
            d.on_migrated();
        } catch (const core::StorageError& e) {
            if (e.kind() != core::StorageErrorKind::kUnavailable) throw;
            spdlog::warn("storage: not reachable yet ({}); serving 503 until it is", e.what());
        }
        d.server = std::make_unique<HttpServer>(d.ioc, d.config.server, d.router, d.metrics);
        d.server->start();
    } catch (const std::exception& e) {
        spdlog::error("cannot start: {}", e.what());
        d.set_state(Impl::State::kFailed);
        return 1;
    }
    spdlog::info("leadhatch listening on {}:{} (storage: {}, {} channel(s), {} thread(s))", d.config.server.host,
                 d.server->port(), d.storage->backend(), d.config.channels.size(), d.config.server.threads);

    d.stop_app = [this] { stop(); };
    if (!d.migrated) net::co_spawn(d.ioc, d.migrate_until_done(), net::detached);

    std::unique_ptr<net::signal_set> signals;
    if (d.options.handle_signals) {
        signals = std::make_unique<net::signal_set>(d.ioc, SIGINT, SIGTERM);
        signals->async_wait([this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            spdlog::info("received signal {}", sig);
            stop();
        });
    }
    d.set_state(Impl::State::kListening);

    d.ioc.run();
    d.server->stop();  // nothing is served past shutdown
    if (signals) {
        boost::system::error_code ignored;
        signals->cancel(ignored);
    }
    d.db_pool.join();
    spdlog::default_logger()->flush();
    return 0;
}

}  // namespace leadhatch::bot
