#pragma once

#include "adapters/net/asio.hpp"

namespace leadhatch::bot {

namespace asio = boost::asio;

template <class T>
using Task = boost::asio::awaitable<T>;

// Runs a blocking call (a database query) on `pool` and resumes the caller on its own executor.
// Exceptions travel back to the caller.
template <class Fn>
auto offload(asio::thread_pool& pool, Fn fn) -> Task<decltype(fn())> {
    using R = decltype(fn());
    co_return co_await asio::co_spawn(
        pool.get_executor(), [f = std::move(fn)]() mutable -> Task<R> { co_return f(); }, asio::use_awaitable);
}

}  // namespace leadhatch::bot
