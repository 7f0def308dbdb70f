#include "tests/support/tcp_proxy.hpp"

#include <utility>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "adapters/net/asio.hpp"

namespace leadhatch::testing {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// As in FakePlatform, the coroutines hold no reference to Impl (that was a cycle through the
// io_context, which leaked): ~TcpProxy stops and joins the thread before Impl goes.
struct TcpProxy::Impl {
    net::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::uint16_t target = 0;
    std::atomic<bool> cut{false};
    std::mutex mu;
    std::set<std::shared_ptr<tcp::socket>> sockets;
    std::thread thread;

    net::awaitable<void> pipe(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
        char buf[16384];
        for (;;) {
            boost::system::error_code ec;
            const auto n = co_await from->async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
            if (ec) break;
            co_await net::async_write(*to, net::buffer(buf, n), net::redirect_error(net::use_awaitable, ec));
            if (ec) break;
        }
        boost::system::error_code ignored;
        from->close(ignored);
        to->close(ignored);
    }

    net::awaitable<void> accept() {
        for (;;) {
            auto client = std::make_shared<tcp::socket>(ioc);
            boost::system::error_code ec;
            co_await acceptor.async_accept(*client, net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return;
            if (cut) {
                client->close(ec);
                continue;
            }
            auto server = std::make_shared<tcp::socket>(ioc);
            co_await server->async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), target),
                                           net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                client->close(ec);
                continue;
            }
            {
                std::lock_guard lk(mu);
                sockets.insert(client);
                sockets.insert(server);
            }
            net::co_spawn(ioc, pipe(client, server), net::detached);
            net::co_spawn(ioc, pipe(server, client), net::detached);
        }
    }
};

TcpProxy::TcpProxy(std::uint16_t target_port) : impl_(std::make_shared<Impl>()) {
    impl_->target = target_port;
    tcp::endpoint ep{net::ip::make_address("127.0.0.1"), 0};
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
    net::co_spawn(impl_->ioc, impl_->accept(), net::detached);
    impl_->thread = std::thread([impl = impl_] { impl->ioc.run(); });
}

TcpProxy::~TcpProxy() {
    impl_->ioc.stop();
    impl_->thread.join();
}

std::uint16_t TcpProxy::port() const { return impl_->acceptor.local_endpoint().port(); }

void TcpProxy::cut() {
    impl_->cut = true;
    net::post(impl_->ioc, [impl = impl_] {
        std::lock_guard lk(impl->mu);
        for (auto& s : impl->sockets) {
            boost::system::error_code ec;
            s->close(ec);
        }
        impl->sockets.clear();
    });
}

void TcpProxy::restore() { impl_->cut = false; }

}  // namespace leadhatch::testing
