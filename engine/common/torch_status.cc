#include "engine/common/torch_status.h"

#include <new>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "c10/util/Exception.h"

namespace videogen::engine {
namespace {

absl::string_view FirstLine(absl::string_view message) {
  return message.substr(0, message.find('\n'));
}

// LibTorch's CPU allocator reports exhaustion as a plain c10::Error (an enforce failure), unlike
// the CUDA caching allocator, which throws c10::OutOfMemoryError; recognise it by its message.
bool IsHostAllocationFailure(absl::string_view message) {
  return absl::StrContains(message, "DefaultCPUAllocator: can't allocate memory");
}

}  // namespace

absl::Status StatusFromCurrentException(absl::string_view context) {
  try {
    throw;
  } catch (const c10::OutOfMemoryError& e) {
    // Before c10::Error: it is a subclass.
    return absl::ResourceExhaustedError(
        absl::StrCat(context, ": out of memory: ", FirstLine(e.what_without_backtrace())));
  } catch (const c10::Error& e) {
    if (IsHostAllocationFailure(e.what_without_backtrace())) {
      return absl::ResourceExhaustedError(
          absl::StrCat(context, ": out of memory: ", FirstLine(e.what_without_backtrace())));
    }
    return absl::InternalError(absl::StrCat(context, ": ", FirstLine(e.what_without_backtrace())));
  } catch (const std::bad_alloc& e) {
    return absl::ResourceExhaustedError(absl::StrCat(context, ": out of memory: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(context, ": ", FirstLine(e.what())));
  } catch (...) {
    return absl::InternalError(absl::StrCat(context, ": unknown exception"));
  }
}

}  // namespace videogen::engine
