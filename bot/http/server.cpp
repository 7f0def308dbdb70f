#include "bot/http/server.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory_resource>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include "bot/http/router.hpp"
#include "bot/metrics.hpp"
#include "core/error.hpp"

namespace leadhatch::bot {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kReadReserve = 4096;  // per connection; grows for larger requests

std::string make_request_id() {
    // A per-thread random sequence, mixed. Unique enough to follow one request through the logs;
    // not a secret.
    thread_local std::uint64_t state = [] {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }();
    state += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    // 12 hex digits (48 bits): short enough for std::string's inline buffer, so no allocation.
    char buf[13];
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 11; i >= 0; --i) {
        buf[i] = kHex[z & 0xf];
        z >>= 4;
    }
    buf[12] = 0;
    return std::string(buf, 12);
}

bool acceptable_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// Request headers live in a per-connection arena that is reset between requests: no allocation
// per header field.
using ArenaAlloc = std::pmr::polymorphic_allocator<char>;
using RequestParser = http::request_parser<http::string_body, ArenaAlloc>;

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    for (char c : value) {
        if (c != '\r' && c != '\n') out.push_back(c);  // no header injection through values
    }
    out.append("\r\n");
}

// Writes the status line and headers of `res` into `out` (reused across requests, so its capacity
// is kept and the common case allocates nothing).
void write_head(std::string& out, const HttpResponse& res, std::string_view request_id, unsigned version,
                bool keep_alive, std::optional<std::size_t> content_length) {
    out.clear();
    out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out.append(std::to_string(res.status));
    out.push_back(' ');
    const auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
    out.append(reason.data(), reason.size());
    out.append("\r\nServer: leadhatch\r\n");
    append_header(out, "Content-Type", res.content_type);
    append_header(out, "X-Request-Id", request_id);
    for (const auto& [k, v] : res.headers) append_header(out, k, v);
    if (content_length) {
        out.append("Content-Length: ");
        out.append(std::to_string(*content_length));
        out.append("\r\n");
    } else if (version >= 11) {
        out.append("Transfer-Encoding: chunked\r\n");
    }
    if (!keep_alive && version >= 11) out.append("Connection: close\r\n");
    if (keep_alive && version == 10) out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

}  // namespace

// A network thread: its own io_context, run by one thread, so a connection's coroutine, its
// watchdog and the server's stop signal never run at the same time and need no strand.
struct HttpServer::Worker {
    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::thread thread;
};

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
    using Clock = std::chrono::steady_clock;
    struct Session {
        explicit Session(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {}
        tcp::socket socket;
        // One timer per connection, re-armed only when it fires: a read or write moves the
        // deadline (a plain store), not a timer in the reactor's queue.
        net::steady_timer watchdog;
        Clock::time_point deadline = Clock::time_point::max();
        Clock::time_point armed = Clock::time_point::max();  // when the watchdog wakes next
        bool timed_out = false;  // the watchdog closed the socket
        bool done = false;
        bool idle = true;  // waiting for a request; touched only on the connection's own thread
        void expires_after(Clock::duration d) {
            deadline = Clock::now() + d;
            if (deadline < armed) watchdog.cancel();  // rare (see watch): wake it to re-arm earlier
        }
        void expires_never() { deadline = Clock::time_point::max(); }
    };

    Impl(net::io_context& i, ServerConfig c, const Router& r, Metrics& m)
        : ioc(i), config(std::move(c)), router(r), metrics(m), acceptor(i) {}

    net::io_context& ioc;
    ServerConfig config;
    const Router& router;
    Metrics& metrics;
    tcp::acceptor acceptor;
    std::uint16_t port = 0;  // set by start(), before any other thread looks
    tcp protocol = tcp::v4();  // the listening address's, set by start()
    std::vector<net::io_context*> workers;  // accepted connections are spread over these (sessions_mu)
    std::size_t next_worker = 0;
    std::atomic<bool> stopping{false};
    std::atomic<std::size_t> open{0};
    std::atomic<std::size_t> in_flight{0};
    int unmatched_route = -1;
    std::mutex sessions_mu;  // guards sessions and workers
    std::unordered_set<std::shared_ptr<Session>> sessions;

    net::awaitable<void> accept_loop();
    net::awaitable<void> serve(std::shared_ptr<Session> session);
    net::awaitable<void> watch(std::shared_ptr<Session> session);
    net::awaitable<void> refuse(tcp::socket socket);
    net::awaitable<HttpResponse> dispatch(HttpRequest& req, int& route);

    void close_idle() {
        std::lock_guard lk(sessions_mu);
        for (const auto& s : sessions) {
            net::post(s->socket.get_executor(), [s] {
                if (s->idle) {
                    beast::error_code ignored;
                    s->socket.cancel(ignored);
                }
            });
        }
    }
};

HttpServer::HttpServer(asio::io_context& ioc, ServerConfig config, const Router& router, Metrics& metrics)
    : impl_(std::make_shared<Impl>(ioc, std::move(config), router, metrics)) {
    // Metrics routes mirror the router's, index for index; the last one counts what matched none.
    for (std::size_t i = 0; i < router.size(); ++i) metrics.add_route(router.pattern(static_cast<int>(i)));
    impl_->unmatched_route = metrics.add_route("unmatched");
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() {
    impl_->stopping = true;
    for (auto& w : workers_) w->work.reset();
    for (auto& w : workers_) w->ioc.stop();
    for (auto& w : workers_) {
        if (w->thread.joinable()) w->thread.join();
    }
    // Destroying the contexts destroys the connections still open on them (and the handlers that
    // keep the server's state alive) while the router they call is still there.
    {
        std::lock_guard lk(impl_->sessions_mu);
        impl_->workers.clear();
    }
    workers_.clear();
}

void HttpServer::start() {
    auto& a = impl_->acceptor;
    const tcp::endpoint ep{net::ip::make_address(impl_->config.host), impl_->config.port};
    a.open(ep.protocol());
    a.set_option(net::socket_base::reuse_address(true));
    a.bind(ep);
    a.listen(net::socket_base::max_listen_connections);
    impl_->port = a.local_endpoint().port();  // read once: the acceptor is closed on another thread later
    impl_->protocol = ep.protocol();
    const int n = std::max(1, impl_->config.threads);
    for (int i = 0; i < n; ++i) {
        auto w = std::make_unique<Worker>();
        impl_->workers.push_back(&w->ioc);
        workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) w->thread = std::thread([ctx = &w->ioc] { ctx->run(); });
    net::co_spawn(impl_->ioc, impl_->accept_loop(), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("http: accept loop failed: {}", ex.what());
        }
    });
}

std::uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::stop_accepting() {
    if (impl_->stopping.exchange(true)) return;
    net::post(impl_->acceptor.get_executor(), [impl = impl_] {
        beast::error_code ignored;
        impl->acceptor.close(ignored);
    });
    impl_->close_idle();
}

std::size_t HttpServer::open_connections() const { return impl_->open.load(); }
std::size_t HttpServer::requests_in_flight() const { return impl_->in_flight.load(); }

net::awaitable<void> HttpServer::Impl::accept_loop() {
    auto self = shared_from_this();
    while (!stopping) {
        net::io_context* worker = nullptr;
        {
            std::lock_guard lk(sessions_mu);  // stop() empties the list
            if (workers.empty()) break;
            worker = workers[next_worker++ % workers.size()];
        }
        beast::error_code ec;
        // Accepted on the acceptor's own context, then moved to the worker's. A pending accept
        // onto a worker's context held a socket of that context: a server destroyed before the
        // acceptor's context left it one to destroy on a context already gone (a use after free
        // AddressSanitizer found in http_server_test's teardown).
        tcp::socket accepted = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
        tcp::socket socket(*worker);
        if (!ec) {
            const auto fd = accepted.release(ec);
            if (!ec) {
                socket.assign(protocol, fd, ec);
                if (ec) ::close(fd);
            }
        }
        if (ec) {
            if (ec == net::error::operation_aborted || stopping) break;
            spdlog::warn("http: accept failed: {}", ec.message());
            // Out of file descriptors and the like: back off briefly instead of spinning.
            net::steady_timer t(ioc, std::chrono::milliseconds(50));
            co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
            continue;
        }
        if (stopping) break;
        socket.set_option(tcp::no_delay(true), ec);
        auto ex = socket.get_executor();
        if (open.load() >= static_cast<std::size_t>(config.max_connections)) {
            net::co_spawn(ex, refuse(std::move(socket)), net::detached);
            continue;
        }
        ++open;
        auto session = std::make_shared<Session>(std::move(socket));
        {
            std::lock_guard lk(sessions_mu);
            sessions.insert(session);
        }
        net::co_spawn(ex, watch(session), net::detached);
        net::co_spawn(ex, serve(session), [self, session](std::exception_ptr e) {
            session->done = true;
            session->watchdog.cancel();
            {
                std::lock_guard lk(self->sessions_mu);
                self->sessions.erase(session);
            }
            --self->open;
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& err) {
                spdlog::error("http: connection failed: {}", err.what());
            }
        });
    }
}

// Closes the connection when its deadline passes. The timer wakes at the deadline or one tick
// (the shortest configured timeout) from now, whichever is sooner; since every deadline the
// connection sets is at least a tick away, moving it later never touches the timer, and the
// timer fires about once a tick on a busy connection.
net::awaitable<void> HttpServer::Impl::watch(std::shared_ptr<Session> session) {
    auto& s = *session;
    const Clock::duration tick =
        std::max<Clock::duration>(std::chrono::milliseconds(1),
                                  std::min({config.header_timeout, config.idle_timeout, config.body_timeout}));
    while (!s.done) {
        const auto now = Clock::now();
        if (now >= s.deadline) {
            s.timed_out = true;
            beast::error_code ignored;
            s.socket.close(ignored);  // the read or write in progress ends with an error
            break;
        }
        s.armed = std::min(s.deadline, now + tick);
        s.watchdog.expires_at(s.armed);
        beast::error_code ec;
        co_await s.watchdog.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
}

// Over the connection cap: answer 503 at once and close.
net::awaitable<void> HttpServer::Impl::refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(2));
    http::response<http::string_body> res{http::status::service_unavailable, 11};
    res.set(http::field::server, "leadhatch");
    res.set(http::field::content_type, "text/plain");
    res.set(http::field::retry_after, "1");
    res.keep_alive(false);
    res.body() = "too many connections\n";
    res.prepare_payload();
    beast::error_code ec;
    co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

net::awaitable<HttpResponse> HttpServer::Impl::dispatch(HttpRequest& req, int& route) {
    auto m = router.match(req.method, req.path());
    if (!m.handler) {
        route = unmatched_route;
        if (!m.method_allowed) {
            auto res = json_error(405, "method_not_allowed", "method not allowed on this path");
            res.headers.emplace_back("Allow", m.allow);
            co_return res;
        }
        co_return json_error(404, "not_found", "no such route");
    }
    route = m.route;
    try {
        co_return co_await (*m.handler)(req, m.params);
    } catch (const core::StorageError& e) {
        if (e.kind() == core::StorageErrorKind::kUnavailable) {
            spdlog::warn("req={} storage unavailable: {}", req.request_id, e.what());
            auto res = json_error(503, "unavailable", "the database is not available; retry later");
            res.headers.emplace_back("Retry-After", "1");
            co_return res;
        }
        spdlog::error("req={} storage error: {}", req.request_id, e.what());
    } catch (const std::exception& e) {
        spdlog::error("req={} handler failed: {}", req.request_id, e.what());
    }
    co_return json_error(500, "internal", "internal error");
}

net::awaitable<void> HttpServer::Impl::serve(std::shared_ptr<Session> session) {
    auto& socket = session->socket;
    // Room for a whole typical request: beast reads max(512, free capacity) at a time, so an
    // unreserved buffer took two recv calls for every webhook of more than 512 bytes.
    beast::flat_buffer buffer;
    buffer.reserve(kReadReserve);
    beast::error_code ec;
    std::string remote;
    {
        auto ep = socket.remote_endpoint(ec);
        if (!ec) remote = ep.address().to_string();
    }
    bool first = true;
    std::array<std::byte, 8192> arena_buffer;
    std::pmr::monotonic_buffer_resource arena(arena_buffer.data(), arena_buffer.size());
    std::string head;
    while (!stopping || !session->idle) {
        arena.release();
        RequestParser parser(std::piecewise_construct, std::make_tuple(), std::make_tuple(ArenaAlloc(&arena)));
        parser.header_limit(kHeaderLimit);
        parser.body_limit(config.max_body_bytes);
        session->idle = buffer.size() == 0;
        if (stopping && session->idle) break;
        session->expires_after(first ? config.header_timeout : config.idle_timeout);
        co_await http::async_read_header(socket, buffer, parser, net::redirect_error(net::use_awaitable, ec));
        session->idle = false;
        first = false;
        if (ec) {
            // The watchdog closing the socket ends the read with an error of its own (aborted, or a
            // bad descriptor): a timeout, not a malformed request.
            if (session->timed_out || ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
                ec == net::error::connection_reset || ec == net::error::eof) {
                break;
            }
            // A declared body over the limit, an oversized header, or a malformed request: say so, close.
            const int status = ec == http::error::body_limit ? 413 : ec == http::error::header_limit ? 431 : 400;
            http::response<http::string_body> res{static_cast<http::status>(status), 11};
            res.set(http::field::server, "leadhatch");
            res.set(http::field::content_type, "text/plain");
            res.body() = status == 413   ? "request body too large\n"
                         : status == 431 ? "request header too large\n"
                                         : "bad request\n";
            res.keep_alive(false);
            res.prepare_payload();
            session->expires_after(std::chrono::seconds(5));
            co_await http::async_write(socket, res, net::redirect_error(net::use_awaitable, ec));
            metrics.observe(unmatched_route, status, 0);
            break;
        }
        const auto started = std::chrono::steady_clock::now();
        ++in_flight;
        struct InFlight {
            std::atomic<std::size_t>& n;
            ~InFlight() { --n; }
        } in_flight_guard{in_flight};

        auto& hreq = parser.get();
        const unsigned version = hreq.version();
        bool too_large = false;
        if (auto len = parser.content_length(); len && *len > config.max_body_bytes) too_large = true;
        if (!too_large) {
            if (beast::iequals(hreq[http::field::expect], "100-continue")) {
                http::response<http::empty_body> cont{http::status::continue_, version};
                session->expires_after(config.body_timeout);
                co_await http::async_write(socket, cont, net::redirect_error(net::use_awaitable, ec));
                if (ec) break;
            }
            // A body usually arrives with its header: parse what is buffered before waiting for more.
            while (!parser.is_done() && buffer.size() > 0) {
                const auto n = parser.put(buffer.data(), ec);
                buffer.consume(n);
                if (ec || n == 0) break;
            }
            if (ec == http::error::need_more) ec = {};
            if (!ec && !parser.is_done()) {
                session->expires_after(config.body_timeout);
                co_await http::async_read(socket, buffer, parser, net::redirect_error(net::use_awaitable, ec));
            }
            if (ec == http::error::body_limit) {
                too_large = true;
            } else if (ec) {
                if (!session->timed_out && ec != http::error::end_of_stream &&
                    ec != net::error::operation_aborted && ec != net::error::connection_reset) {
                    spdlog::debug("http: reading body failed: {}", ec.message());
                }
                break;
            }
        }
        session->expires_never();

        HttpRequest req;
        req.method = std::string(hreq.method_string());
        req.target = std::string(hreq.target());
        req.remote = remote;
        req.headers.reserve(16);
        for (const auto& field : hreq) {
            const auto n = field.name_string();
            const auto v = field.value();
            req.headers.emplace_back(std::string_view(n.data(), n.size()), std::string_view(v.data(), v.size()));
        }
        if (auto* rid = req.header("x-request-id"); rid && acceptable_request_id(*rid)) {
            req.request_id = std::string(*rid);
        } else {
            req.request_id = make_request_id();
        }
        const bool client_keep_alive = hreq.keep_alive();

        HttpResponse out;
        int route = unmatched_route;
        if (too_large) {
            out = json_error(413, "too_large",
                             "request body exceeds " + std::to_string(config.max_body_bytes) + " bytes");
            if (auto m = router.match(req.method, req.path()); m.handler) route = m.route;
        } else {
            req.body = std::move(hreq.body());
            out = co_await dispatch(req, route);
        }

        // HTTP/1.0 has no chunked encoding: a streamed body ends with the connection.
        const bool streamed = static_cast<bool>(out.stream) && req.method != "HEAD";
        const bool keep = client_keep_alive && !too_large && !stopping && !(streamed && version < 11);
        if (!streamed) {
            write_head(head, out, req.request_id, version, keep, out.body.size());
            const std::array<net::const_buffer, 2> buffers{
                net::buffer(head), req.method == "HEAD" ? net::const_buffer() : net::buffer(out.body)};
            session->expires_after(config.body_timeout);
            co_await net::async_write(socket, buffers, net::redirect_error(net::use_awaitable, ec));
        } else {
            write_head(head, out, req.request_id, version, keep, std::nullopt);
            session->expires_after(config.body_timeout);
            co_await net::async_write(socket, net::buffer(head), net::redirect_error(net::use_awaitable, ec));
            bool failed = false;
            while (!ec) {
                std::optional<std::string> chunk;
                try {
                    chunk = co_await out.stream();
                } catch (const std::exception& e) {
                    // Headers are out: the only honest signal left is to cut the stream short.
                    spdlog::error("req={} stream failed: {}", req.request_id, e.what());
                    failed = true;
                }
                if (failed) break;
                if (!chunk) {
                    if (version >= 11) {
                        co_await net::async_write(socket, net::buffer(std::string_view("0\r\n\r\n")),
                                                  net::redirect_error(net::use_awaitable, ec));
                    }
                    break;
                }
                if (chunk->empty()) continue;
                session->expires_after(config.body_timeout);
                if (version >= 11) {
                    char size_line[24];
                    const int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk->size());
                    const std::array<net::const_buffer, 3> parts{net::buffer(size_line, static_cast<std::size_t>(n)),
                                                                 net::buffer(*chunk), net::buffer("\r\n", 2)};
                    co_await net::async_write(socket, parts, net::redirect_error(net::use_awaitable, ec));
                } else {
                    co_await net::async_write(socket, net::buffer(*chunk), net::redirect_error(net::use_awaitable, ec));
                }
            }
            if (failed) {
                beast::error_code ignored;
                socket.shutdown(tcp::socket::shutdown_both, ignored);
                break;
            }
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        metrics.observe(route, out.status, seconds);
        if (ec || !keep) break;
    }
    socket.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace leadhatch::bot
