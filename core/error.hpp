#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace leadhatch::core {

// A user-facing problem: a code for machines, a message for people, and the field it is about.
struct Error {
    std::string code;
    std::string message;
    std::string field;
};

// The small subset of std::expected (C++23) that we need on g++ 12.
template <class T>
class Expected {
public:
    Expected(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
    Expected(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

enum class StorageErrorKind {
    kUnavailable,  // connection refused/lost, server gone: retry later, answer 503
    kConflict,     // unique constraint or deadlock: the transaction may be retried
    kInvalid,      // the statement was wrong for the data (a bug or bad input)
    kInternal,
};

// Storage backends translate their own errors (sqlite codes, sql::SQLException) into this.
class StorageError : public std::runtime_error {
public:
    StorageError(StorageErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    StorageErrorKind kind() const { return kind_; }

private:
    StorageErrorKind kind_;
};

}  // namespace leadhatch::core
