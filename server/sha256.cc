#include "server/sha256.h"

#include <openssl/evp.h>

#include "absl/strings/escaping.h"
#include "engine/common/status_macros.h"

namespace videogen::server {

void Sha256::Free::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

absl::StatusOr<Sha256> Sha256::Create() {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  if (context == nullptr || EVP_DigestInit_ex(context, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(context);
    return absl::InternalError("cannot set up SHA-256 (OpenSSL)");
  }
  return Sha256(context);
}

void Sha256::Update(absl::string_view data) {
  EVP_DigestUpdate(context_.get(), data.data(), data.size());
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context_.get(), digest, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::StatusOr<std::string> Sha256Hex(absl::string_view data) {
  VG_ASSIGN_OR_RETURN(Sha256 sha, Sha256::Create());
  sha.Update(data);
  return sha.HexDigest();
}

}  // namespace videogen::server
