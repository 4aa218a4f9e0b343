// Identifiers the server hands out (jobs, searches, schedules): 128 random bits as 32 lowercase
// hex characters. Thread-safe (one generator per thread).
#ifndef VIDEOGEN_SERVER_RANDOM_ID_H_
#define VIDEOGEN_SERVER_RANDOM_ID_H_

#include <random>
#include <string>

#include "absl/strings/str_format.h"

namespace videogen::server {

inline std::string RandomHexId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  const uint64_t high = generator(), low = generator();
  return absl::StrFormat("%016x%016x", high, low);
}

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_RANDOM_ID_H_
