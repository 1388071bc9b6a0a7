// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr.
#ifndef DFLOW_COMMON_STATUS_MACROS_H_
#define DFLOW_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DFLOW_CONCAT_INNER(a, b) a##b
#define DFLOW_CONCAT(a, b) DFLOW_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                     \
  do {                                            \
    if (auto _st = (expr); !_st.ok()) return _st; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(DFLOW_CONCAT(_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#endif  // DFLOW_COMMON_STATUS_MACROS_H_
