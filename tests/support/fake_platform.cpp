#include "tests/support/fake_platform.hpp"

#include <utility>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <mutex>
#include <thread>

#include "adapters/net/asio.hpp"

namespace leadhatch::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// The coroutines hold no reference to Impl: ~FakePlatform stops and joins the threads first, then
// Impl goes, its io_context last, which destroys the coroutines still waiting. (Each used to hold a
// shared_ptr to Impl, which holds the io_context, which held them: a cycle that leaked them all.)
struct FakePlatform::Impl {
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::vector<std::thread> threads;
    mutable std::mutex mu;
    Handler handler;
    std::vector<RecordedRequest> recorded;

    net::awaitable<void> accept() {
        for (;;) {
            beast::error_code ec;
            tcp::socket s(ioc);
            co_await acceptor.async_accept(s, net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            net::co_spawn(ioc, serve(std::move(s)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket socket) {
        beast::tcp_stream stream(std::move(socket));
        beast::flat_buffer buf;
        for (;;) {
            beast::error_code ec;
            http::request<http::string_body> req;
            co_await http::async_read(stream, buf, req, net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            RecordedRequest r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            for (const auto& f : req) {
                std::string name(f.name_string());
                for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                r.headers.emplace_back(name, std::string(f.value()));
            }
            r.body = req.body();
            r.at = std::chrono::steady_clock::now();
            Handler h;
            {
                std::lock_guard lk(mu);
                recorded.push_back(r);
                h = handler;
            }
            FakeReply reply = h ? h(r) : telegram_replies::answer(r);
            if (reply.hang) {
                net::steady_timer t(ioc, std::chrono::hours(1));
                co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
                co_return;
            }
            if (reply.delay.count() > 0) {
                net::steady_timer t(ioc, reply.delay);
                co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
            }
            http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
            res.set(http::field::content_type, reply.content_type);
            res.keep_alive(req.keep_alive());
            res.body() = reply.body;
            res.prepare_payload();
            co_await http::async_write(stream, res, net::redirect_error(net::use_awaitable, ec));
            if (ec || !req.keep_alive()) co_return;
        }
    }
};

FakePlatform::FakePlatform(Handler handler) : impl_(std::make_shared<Impl>()) {
    impl_->handler = std::move(handler);
    tcp::endpoint ep{net::ip::make_address("127.0.0.1"), 0};
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    net::co_spawn(impl_->ioc, impl_->accept(), net::detached);
    for (int i = 0; i < 2; ++i) impl_->threads.emplace_back([impl = impl_] { impl->ioc.run(); });
}

FakePlatform::~FakePlatform() {
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
}

std::uint16_t FakePlatform::port() const { return impl_->acceptor.local_endpoint().port(); }

void FakePlatform::set_handler(Handler handler) {
    std::lock_guard lk(impl_->mu);
    impl_->handler = std::move(handler);
}

std::vector<RecordedRequest> FakePlatform::requests() const {
    std::lock_guard lk(impl_->mu);
    return impl_->recorded;
}

std::size_t FakePlatform::count() const {
    std::lock_guard lk(impl_->mu);
    return impl_->recorded.size();
}

void FakePlatform::clear() {
    std::lock_guard lk(impl_->mu);
    impl_->recorded.clear();
}

bool FakePlatform::wait_for(const std::function<bool(const std::vector<RecordedRequest>&)>& pred,
                            std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred(requests())) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool FakePlatform::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait_for([n](const auto& r) { return r.size() >= n; }, timeout);
}

std::set<std::string> FakePlatform::idempotency_keys() const {
    std::set<std::string> keys;
    for (const auto& r : requests()) keys.insert(r.header("idempotency-key"));
    return keys;
}

namespace telegram_replies {

using nlohmann::json;

FakeReply ok_message(const RecordedRequest& request) {
    static std::atomic<int> message_id{1000};
    json in = json::parse(request.body, nullptr, false);
    json chat_id = in.is_object() && in.contains("chat_id") ? in["chat_id"] : json(0);
    json result{{"message_id", message_id++},
                {"from", {{"id", 7012345678LL}, {"is_bot", true}, {"first_name", "Hatch"}, {"username", "YourBot"}}},
                {"chat", {{"id", chat_id}, {"type", "private"}}},
                {"date", 1732350000},
                {"text", in.is_object() ? in.value("text", "") : ""}};
    return FakeReply{200, json{{"ok", true}, {"result", result}}.dump()};
}

FakeReply ok_true() { return FakeReply{200, R"({"ok":true,"result":true})"}; }

FakeReply too_many_requests(int retry_after) {
    json body{{"ok", false},
              {"error_code", 429},
              {"description", "Too Many Requests: retry after " + std::to_string(retry_after)},
              {"parameters", {{"retry_after", retry_after}}}};
    return FakeReply{429, body.dump()};
}

FakeReply server_error(int status) {
    return FakeReply{status, R"({"ok":false,"error_code":)" + std::to_string(status) +
                                 R"(,"description":"Internal Server Error"})"};
}

FakeReply blocked() {
    return FakeReply{403, R"({"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"})"};
}

FakeReply chat_not_found() {
    return FakeReply{400, R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})"};
}

FakeReply answer(const RecordedRequest& request) {
    if (request.target.find("/answerCallbackQuery") != std::string::npos) return ok_true();
    return ok_message(request);
}

}  // namespace telegram_replies
}  // namespace leadhatch::testing
