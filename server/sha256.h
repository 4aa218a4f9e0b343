// SHA-256 (OpenSSL) with a lowercase hex digest, whole or incremental. Thread-compatible.
#ifndef VIDEOGEN_SERVER_SHA256_H_
#define VIDEOGEN_SERVER_SHA256_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct evp_md_ctx_st;

namespace videogen::server {

class Sha256 {
 public:
  // INTERNAL if OpenSSL cannot set SHA-256 up.
  static absl::StatusOr<Sha256> Create();

  void Update(absl::string_view data);
  // The digest of everything updated so far, 64 hex characters; ends the hash.
  std::string HexDigest();

 private:
  struct Free {
    void operator()(evp_md_ctx_st* context) const;
  };
  explicit Sha256(evp_md_ctx_st* context) : context_(context) {}
  std::unique_ptr<evp_md_ctx_st, Free> context_;
};

// The hex SHA-256 of `data`. INTERNAL as Sha256::Create().
absl::StatusOr<std::string> Sha256Hex(absl::string_view data);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_SHA256_H_
