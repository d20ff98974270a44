// banshi/result.h — expected failures as cheap values.
//
// A Result<T> holds either a T or an Error (or another error type E). Errors that a caller can expect
// (bad input, a missing row, a conflict) travel as values; exceptions and
// asserts are kept for bugs. Result is a plain value type: copyable when T is,
// never throws on its own except from value() on an error (a bug in the caller).
#pragma once

#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace banshi {

// A failure a caller can act on. `code` is stable and machine-readable
// (e.g. "BS101" or "not-found"); `message` is one plain sentence for people.
struct Error {
  std::string code;
  std::string message;

  friend bool operator==(const Error&, const Error&) = default;
};

template <typename T, typename E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error) : data_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  const T& value() const& { check(); return std::get<0>(data_); }
  T& value() & { check(); return std::get<0>(data_); }
  T&& value() && { check(); return std::get<0>(std::move(data_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const E& error() const {
    assert(!ok());
    return std::get<1>(data_);
  }

 private:
  void check() const {
    if (!ok()) throw std::logic_error("Result::value() on an error");
  }
  std::variant<T, E> data_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void, Error> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace banshi
