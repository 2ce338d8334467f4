// SPDX-License-Identifier: Apache-2.0
// loom's exception hierarchy: one type per Keras error category, all catchable as loom::Error.
#pragma once

#include <stdexcept>
#include <string>

#include "loom/core/export.hpp"

namespace loom LOOM_API {

/// Base of every exception loom throws. Derives from `std::runtime_error`, so callers can catch
/// loom's errors as a group (`catch (const loom::Error&)`) or as standard exceptions.
/// A call that throws a loom::Error has changed nothing: arguments are checked before any mutation.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Bad value of an argument: a shape, rank, size, mask, option or index (Keras `ValueError`).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// Wrong dtype for an argument (Python's `TypeError`).
class TypeError : public Error {
 public:
  using Error::Error;
};

/// A call made in the wrong state or order: a consumed tape, a stateful layer fed another batch size.
class StateError : public Error {
 public:
  using Error::Error;
};

/// A malformed file, header or config.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A request for more memory than can be had: a shape whose size overflows, an allocation the
/// system refuses (Python's `MemoryError`). The message names the size asked for.
class ResourceError : public Error {
 public:
  using Error::Error;
};

/// A file or directory that cannot be created, written or read (Python's `OSError`).
class IOError : public Error {
 public:
  using Error::Error;
};

/// A data-parallel run that cannot go on as one: replicas whose weights differ, ranks that disagree on
/// the shape of a collective, a collective that fails.
class DistributedError : public Error {
 public:
  using Error::Error;
};

/// A feature that exists in Keras but not (yet) in loom.
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

}  // namespace loom
