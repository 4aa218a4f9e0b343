// Early-return helpers for absl::Status and absl::StatusOr.
//
// abseil 20220623 (Debian 12) has no public RETURN_IF_ERROR / ASSIGN_OR_RETURN, so the project
// defines its own, prefixed to avoid clashes:
//
//   VG_RETURN_IF_ERROR(WriteHeader(file));
//   VG_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel(path));
//
// Both evaluate their argument exactly once and return the error unchanged.
#ifndef VIDEOGEN_ENGINE_COMMON_STATUS_MACROS_H_
#define VIDEOGEN_ENGINE_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VG_RETURN_IF_ERROR(expr)                                 \
  do {                                                           \
    const ::absl::Status vg_status_ = (expr);                    \
    if (ABSL_PREDICT_FALSE(!vg_status_.ok())) return vg_status_; \
  } while (false)

#define VG_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define VG_STATUS_MACROS_CONCAT_(a, b) VG_STATUS_MACROS_CONCAT_INNER_(a, b)

#define VG_ASSIGN_OR_RETURN(lhs, expr) \
  VG_ASSIGN_OR_RETURN_IMPL_(VG_STATUS_MACROS_CONCAT_(vg_statusor_, __LINE__), lhs, expr)

#define VG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)              \
  auto statusor = (expr);                                           \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) return statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // VIDEOGEN_ENGINE_COMMON_STATUS_MACROS_H_
