// Status propagation helpers. Debian's abseil (20220623) ships no status_macros.h; these are the only
// definitions in the project. Library boundaries return absl::Status / absl::StatusOr<T>.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TPUSIM_CONCAT_INNER_(a, b) a##b
#define TPUSIM_CONCAT_(a, b) TPUSIM_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if it is not OK.
#define TPUSIM_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status tpusim_status_ = (expr);           \
    if (!tpusim_status_.ok()) return tpusim_status_;  \
  } while (0)

// `lhs = value of rexpr` where rexpr is an absl::StatusOr<T>; returns the error status otherwise.
#define TPUSIM_ASSIGN_OR_RETURN(lhs, rexpr) \
  TPUSIM_ASSIGN_OR_RETURN_IMPL_(TPUSIM_CONCAT_(tpusim_statusor_, __LINE__), lhs, rexpr)
#define TPUSIM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

// Internal invariant: aborts with file, line and message when `cond` is false (never for user input).
#define TPUSIM_CHECK(cond, msg)                                                       \
  do {                                                                                \
    if (!(cond)) ::tpusim::detail::CheckFailed(__FILE__, __LINE__, #cond, (msg));     \
  } while (0)
#define TPUSIM_UNREACHABLE() ::tpusim::detail::CheckFailed(__FILE__, __LINE__, "unreachable", "")

namespace tpusim::detail {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const char* msg);
}  // namespace tpusim::detail
