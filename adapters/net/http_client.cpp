// First: Boost 1.74's awaitable.hpp needs <utility> before it (see adapters/net/asio.hpp).
#include "adapters/net/asio.hpp"

#include "adapters/net/http_client.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace leadhatch::adapters::net {

namespace {

// `net` is this namespace's own name, so the Asio alias is `asio` here.
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Strand = asio::strand<asio::io_context::executor_type>;
using Request = http::request<http::string_body>;

constexpr std::uint32_t kHeaderLimit = 64 * 1024;
constexpr std::string_view kUserAgent = "leadhatch/0.1";

std::string_view to_std(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view to_beast(std::string_view s) { return {s.data(), s.size()}; }

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// RFC 9110 token characters (method and header names).
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

// Header values may not smuggle in another header line.
bool is_safe_value(std::string_view s) {
    for (const char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

// The parts of an absolute http(s) URL the client needs.
struct Target {
    bool tls = false;
    std::string host;  // without IPv6 brackets; lower-case
    std::string port;  // decimal
    std::uint16_t port_number = 0;
    std::string target;       // origin-form: /path?query
    std::string host_header;  // host[:port] as sent in Host
    std::string pool_key;     // scheme://host:port
};

// Returns nullopt and sets `error` for anything but a well-formed http:// or https:// URL. The
// error text never repeats the URL (it can carry tokens).
std::optional<Target> parse_url(std::string_view url, std::string& error) {
    for (const char c : url) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            error = "invalid URL: contains whitespace or control characters";
            return std::nullopt;
        }
    }
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        error = "invalid URL: no scheme";
        return std::nullopt;
    }
    Target t;
    const std::string scheme = lower(url.substr(0, scheme_end));
    std::uint16_t default_port = 0;
    if (scheme == "http") {
        default_port = 80;
    } else if (scheme == "https") {
        t.tls = true;
        default_port = 443;
    } else {
        error = "unsupported URL scheme (only http and https)";
        return std::nullopt;
    }
    const std::string_view rest = url.substr(scheme_end + 3);
    const auto authority_end = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, authority_end);
    std::string_view path = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) {
        error = "invalid URL: user info is not supported";
        return std::nullopt;
    }

    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            error = "invalid URL: unterminated IPv6 literal";
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                error = "invalid URL: bad authority";
                return std::nullopt;
            }
            port = after.substr(1);
        }
        bracketed = true;
    } else {
        const auto colon = authority.rfind(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (host.empty()) {
        error = "invalid URL: no host";
        return std::nullopt;
    }
    std::uint16_t port_number = default_port;
    if (!port.empty()) {
        unsigned value = 0;
        const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
            error = "invalid URL: bad port";
            return std::nullopt;
        }
        port_number = static_cast<std::uint16_t>(value);
    }

    t.host = lower(host);
    if (bracketed && !is_ip_literal(t.host)) {
        error = "invalid URL: bad IPv6 literal";
        return std::nullopt;
    }
    t.port_number = port_number;
    t.port = std::to_string(port_number);
    const std::string host_in_url = bracketed ? "[" + t.host + "]" : t.host;
    t.host_header = port_number == default_port ? host_in_url : host_in_url + ":" + t.port;
    t.pool_key = scheme + "://" + host_in_url + ":" + t.port;

    const auto fragment = path.find('#');
    if (fragment != std::string_view::npos) path = path.substr(0, fragment);
    if (path.empty() || path.front() != '/') {
        t.target = "/";
        t.target.append(path);
    } else {
        t.target = std::string(path);
    }
    return t;
}

// Builds the HTTP/1.1 request; nullptr and `error` set when method or headers are malformed.
std::shared_ptr<Request> build_request(const ApiRequest& in, const Target& t, std::string& error) {
    if (!is_token(in.method)) {
        error = "invalid HTTP method";
        return nullptr;
    }
    auto req = std::make_shared<Request>();
    req->version(11);
    const http::verb verb = http::string_to_verb(in.method);
    if (verb != http::verb::unknown) {
        req->method(verb);
    } else {
        req->method_string(in.method);
    }
    req->target(t.target);
    req->set(http::field::host, t.host_header);
    req->set(http::field::user_agent, to_beast(kUserAgent));
    if (!in.body.empty() && !in.content_type.empty()) {
        if (!is_safe_value(in.content_type)) {
            error = "invalid Content-Type";
            return nullptr;
        }
        req->set(http::field::content_type, in.content_type);
    }
    // An extra header replaces a default of the same name; repeated extra headers are all sent.
    std::unordered_set<std::string> replaced;
    for (const auto& [name, value] : in.headers) {
        if (!is_token(name) || !is_safe_value(value)) {
            error = "invalid request header";
            return nullptr;
        }
        if (replaced.insert(lower(name)).second) req->erase(name);
        req->insert(name, value);
    }
    req->body() = in.body;
    req->keep_alive(true);
    req->prepare_payload();
    return req;
}

ApiResponse failure(std::string message, bool timed_out = false) {
    ApiResponse r;
    r.transport_error = std::move(message);
    r.timed_out = timed_out;
    return r;
}

ApiResponse failure(std::string_view stage, const error_code& ec) {
    return failure(std::string(stage) + ": " + ec.message());
}

// The errors a server's close of an idle keep-alive connection shows up as.
bool closed_by_peer(const error_code& ec) {
    return ec == asio::error::eof || ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
           ec == asio::error::not_connected || ec == ssl::error::stream_truncated;
}

// One connection; used by one request at a time. All its I/O runs on its own strand (Beast's
// tcp_stream timer handlers run there too), so it may move between requests on any thread.
struct Connection {
    Connection(asio::io_context& ioc, bool use_tls, ssl::context& ctx) : strand(asio::make_strand(ioc)) {
        if (use_tls) {
            tls.emplace(strand, ctx);
        } else {
            plain.emplace(strand);
        }
    }

    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    // Only while no operation is pending (idle or finished).
    void close() {
        error_code ec;
        tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
        tcp().socket().close(ec);
    }

    Strand strand;
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;  // bytes read past a response stay here (then the connection is not reused)
};

// Resolve, bounded by `deadline`. Resolver cancellation cannot interrupt getaddrinfo in 1.74, so
// the coroutine waits on a timer that the resolve completion cancels; both run on `strand` (the
// caller must be running on it too), which orders `done` and the timer.
struct ResolveRace {
    explicit ResolveRace(const Strand& strand) : resolver(strand), timer(strand) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
};

struct Attempt {
    ApiResponse response;
    bool reusable = false;  // complete keep-alive response: the connection may be pooled
    bool retry = false;     // a reused connection failed before any response byte
};

// Runs on conn.strand. Returns a failure, or nullopt when connected (and TLS handshaken).
// `on_connected` runs once the TCP connection is up.
asio::awaitable<std::optional<ApiResponse>> establish(Connection& conn, const Target& t, const HttpClient::Options& o,
                                                      std::function<void()> on_connected) {
    const auto deadline = std::chrono::steady_clock::now() + o.connect_timeout;
    error_code ec;
    auto& stream = conn.tcp();
    stream.expires_at(deadline);
    if (is_ip_literal(t.host)) {
        const tcp::endpoint ep(asio::ip::make_address(t.host), t.port_number);
        co_await stream.async_connect(ep, asio::redirect_error(asio::use_awaitable, ec));
    } else {
        auto race = std::make_shared<ResolveRace>(conn.strand);
        race->timer.expires_at(deadline);
        race->resolver.async_resolve(
            t.host, t.port,
            asio::bind_executor(conn.strand, [race](const error_code& rec, tcp::resolver::results_type results) {
                race->done = true;
                race->ec = rec;
                race->results = std::move(results);
                race->timer.cancel();
            }));
        if (!race->done) {
            error_code wait_ec;
            co_await race->timer.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        }
        if (!race->done) {
            race->resolver.cancel();
            co_return failure("connect timed out (resolve)", true);
        }
        if (race->ec) co_return failure("resolve", race->ec);
        if (race->results.empty()) co_return failure("resolve: no addresses");
        co_await stream.async_connect(race->results, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec == beast::error::timeout) co_return failure("connect timed out", true);
    if (ec) co_return failure("connect", ec);
    on_connected();
    stream.socket().set_option(tcp::no_delay(true), ec);

    if (conn.tls) {
        auto& tls = *conn.tls;
        if (o.verify_tls) {
            tls.set_verify_mode(ssl::verify_peer);
            tls.set_verify_callback(ssl::host_name_verification(t.host));
        } else {
            tls.set_verify_mode(ssl::verify_none);
        }
        // SNI takes host names only, never IP literals (RFC 6066). SSL_set_tlsext_host_name is a
        // macro with a C cast; this is its expansion (OpenSSL copies the name).
        if (!is_ip_literal(t.host)) {
            std::string sni = t.host;
            if (SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, sni.data()) !=
                1) {
                co_return failure("tls: cannot set SNI host name");
            }
        }
        co_await tls.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
        if (ec == beast::error::timeout) co_return failure("connect timed out (tls handshake)", true);
        if (ec) co_return failure("tls handshake", ec);
    }
    stream.expires_never();
    co_return std::nullopt;
}

// Runs on conn.strand: writes the request and reads the response within `timeout`.
template <class Stream>
asio::awaitable<Attempt> exchange(Stream& stream, Connection& conn, Request& req, bool reused, std::size_t max_body,
                                  std::chrono::milliseconds timeout) {
    Attempt out;
    error_code ec;
    conn.tcp().expires_after(timeout);
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout) {
        out.response = failure("request timed out", true);
        co_return out;
    }
    if (ec) {
        out.retry = reused && closed_by_peer(ec);
        out.response = failure("write", ec);
        co_return out;
    }

    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(static_cast<std::uint64_t>(max_body));
    if (req.method() == http::verb::head) parser.skip(true);
    // Header first, then the body: Beast 1.74's eager parse (what async_read does) loses the
    // body_limit error when the header and body arrive in one buffer, and goes on to read the body.
    co_await http::async_read_header(stream, conn.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
        const auto length = parser.content_length();
        if (length && *length > max_body) {
            ec = http::error::body_limit;
        } else if (!parser.is_done()) {
            co_await http::async_read(stream, conn.buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        }
    }
    if (ec == beast::error::timeout) {
        out.response = failure("request timed out", true);
        co_return out;
    }
    if (ec == http::error::body_limit) {
        out.response = failure("response too large");
        co_return out;
    }
    if (ec == http::error::header_limit) {
        out.response = failure("response headers too large");
        co_return out;
    }
    if (ec) {
        out.retry = reused && !parser.got_some() && conn.buffer.size() == 0 && closed_by_peer(ec);
        out.response = failure("read", ec);
        co_return out;
    }
    conn.tcp().expires_never();

    auto& msg = parser.get();
    out.response.status = static_cast<int>(msg.result_int());
    out.response.headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& field : msg) {
        out.response.headers.emplace_back(lower(to_std(field.name_string())), std::string(to_std(field.value())));
    }
    out.reusable = msg.keep_alive() && conn.buffer.size() == 0;
    out.response.body = std::move(msg.body());
    co_return out;
}

}  // namespace

struct HttpClient::Impl {
    Impl(asio::io_context& io, Options opts) : ioc(io), options(std::move(opts)), ssl_ctx(ssl::context::tls_client) {
        ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                            ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        error_code ec;
        ssl_ctx.set_default_verify_paths(ec);  // a missing system store only matters with verify_tls
        if (!options.ca_file.empty()) {
            ssl_ctx.load_verify_file(options.ca_file, ec);
            if (ec) throw std::runtime_error("HttpClient: cannot load ca_file: " + ec.message());
        }
        ssl_ctx.set_verify_mode(options.verify_tls ? ssl::verify_peer : ssl::verify_none);
    }

    ~Impl() { close_all(drain_idle()); }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    std::shared_ptr<Connection> take_idle(const std::string& key) {
        std::lock_guard lock(mu);
        auto it = idle.find(key);
        while (it != idle.end() && !it->second.empty()) {
            auto conn = std::move(it->second.back());  // most recently used: least likely closed by the server
            it->second.pop_back();
            if (it->second.empty()) idle.erase(it);
            if (conn->tcp().socket().is_open()) return conn;
            it = idle.find(key);
        }
        return nullptr;
    }

    void give_back(const std::string& key, std::shared_ptr<Connection> conn) {
        conn->buffer.clear();
        conn->buffer.shrink_to_fit();
        {
            std::lock_guard lock(mu);
            auto& list = idle[key];
            if (!closed && list.size() < options.max_idle_per_host) {
                list.push_back(std::move(conn));
                return;
            }
            if (list.empty()) idle.erase(key);
        }
        conn->close();
    }

    std::vector<std::shared_ptr<Connection>> drain_idle() {
        std::vector<std::shared_ptr<Connection>> out;
        std::lock_guard lock(mu);
        for (auto& [key, list] : idle) {
            for (auto& c : list) out.push_back(std::move(c));
        }
        idle.clear();
        return out;
    }

    static void close_all(const std::vector<std::shared_ptr<Connection>>& conns) {
        for (const auto& c : conns) c->close();
    }

    void count_opened() {
        std::lock_guard lock(mu);
        ++opened;
    }

    // Runs on conn->strand (co_spawned there).
    static asio::awaitable<Attempt> attempt(std::shared_ptr<Impl> self, std::shared_ptr<Connection> conn, bool reused,
                                            std::shared_ptr<const Target> target, std::shared_ptr<Request> req,
                                            std::chrono::milliseconds timeout) {
        Attempt out;
        try {
            if (!reused) {
                auto failed = co_await establish(*conn, *target, self->options, [&self] { self->count_opened(); });
                if (failed) {
                    out.response = std::move(*failed);
                    co_return out;
                }
            }
            const std::size_t max_body = self->options.max_response_bytes;
            if (conn->tls) {
                out = co_await exchange(*conn->tls, *conn, *req, reused, max_body, timeout);
            } else {
                out = co_await exchange(*conn->plain, *conn, *req, reused, max_body, timeout);
            }
        } catch (const std::exception& e) {
            out = Attempt{};
            out.response = failure(std::string("internal error: ") + e.what());
        }
        co_return out;
    }

    // Runs on the caller's executor; holds `self` so the client may be destroyed meanwhile.
    static asio::awaitable<ApiResponse> run(std::shared_ptr<Impl> self, ApiRequest request,
                                            std::optional<std::chrono::milliseconds> timeout_opt) {
        ApiResponse result;
        try {
            std::string error;
            auto parsed = parse_url(request.url, error);
            std::shared_ptr<Request> req;
            if (parsed) req = build_request(request, *parsed, error);
            if (!req) {
                result = failure(error);
            } else {
                auto target = std::make_shared<const Target>(std::move(*parsed));
                const auto timeout = timeout_opt.value_or(self->options.request_timeout);
                bool may_reuse = true;
                for (;;) {
                    std::shared_ptr<Connection> conn = may_reuse ? self->take_idle(target->pool_key) : nullptr;
                    const bool reused = conn != nullptr;
                    if (!conn) conn = std::make_shared<Connection>(self->ioc, target->tls, self->ssl_ctx);
                    Attempt a = co_await asio::co_spawn(conn->strand, attempt(self, conn, reused, target, req, timeout),
                                                        asio::use_awaitable);
                    if (a.reusable) self->give_back(target->pool_key, std::move(conn));
                    if (reused && a.retry) {
                        spdlog::debug("http {}: idle connection was closed by the server, retrying on a new one",
                                      request.log_label);
                        may_reuse = false;
                        continue;
                    }
                    result = std::move(a.response);
                    break;
                }
            }
        } catch (const std::exception& e) {
            result = failure(std::string("internal error: ") + e.what());
        }
        if (result.transport_failed()) spdlog::debug("http {}: {}", request.log_label, result.transport_error);
        co_return result;
    }

    asio::io_context& ioc;
    const Options options;
    ssl::context ssl_ctx;  // configured in the constructor, then only read

    mutable std::mutex mu;
    std::unordered_map<std::string, std::vector<std::shared_ptr<Connection>>> idle;  // guarded by mu
    std::size_t opened = 0;                                                          // guarded by mu
    bool closed = false;                                                             // guarded by mu
};

HttpClient::HttpClient(boost::asio::io_context& ioc, Options options)
    : impl_(std::make_shared<Impl>(ioc, std::move(options))) {}

HttpClient::~HttpClient() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->closed = true;  // requests still in flight hold impl_; they no longer pool connections
    }
    close_idle();
}

boost::asio::awaitable<ApiResponse> HttpClient::send(ApiRequest request,
                                                     std::optional<std::chrono::milliseconds> timeout) {
    // Not a coroutine itself: the coroutine owns a copy of impl_, not `this`.
    return Impl::run(impl_, std::move(request), timeout);
}

void HttpClient::close_idle() { Impl::close_all(impl_->drain_idle()); }

std::size_t HttpClient::idle_connections() const {
    std::lock_guard lock(impl_->mu);
    std::size_t n = 0;
    for (const auto& [key, list] : impl_->idle) n += list.size();
    return n;
}

std::size_t HttpClient::connections_opened() const {
    std::lock_guard lock(impl_->mu);
    return impl_->opened;
}

}  // namespace leadhatch::adapters::net
