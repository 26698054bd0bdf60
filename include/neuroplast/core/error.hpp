#pragma once
/// \file
/// The one exception family of neuroplast, and the helpers that build its messages.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace neuroplast {

/// Every error neuroplast reports. The message names what went wrong, where (layer, shape, file,
/// epoch) and how to fix it. An operation that throws leaves the objects it was given as they were
/// before the call, unless its documentation says otherwise.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A NaN or infinity appeared in inputs, parameters or the loss. Derived from Error so one catch
/// covers everything; a separate type so a trainer can roll back on it and rethrow anything else.
class NumericError : public Error {
 public:
  using Error::Error;
};

/// A file could not be read or written, or its content is not what it claims to be.
class FileError : public Error {
 public:
  using Error::Error;
};

namespace detail {

/// Streams all parts into one message; keeps call sites to one readable line.
template <class... Parts>
std::string message(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

/// Throws `E` with the concatenated parts. Marked cold so the happy path stays tight.
template <class E = Error, class... Parts>
[[noreturn, gnu::cold, gnu::noinline]] void fail(Parts&&... parts) {
  throw E(message(std::forward<Parts>(parts)...));
}

}  // namespace detail
}  // namespace neuroplast
