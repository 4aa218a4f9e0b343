#include "server/result_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/sha256.h"

namespace videogen::server {
namespace {

using ::videogen::v1::OutputFormat;

bool IsJobId(const std::string& id) {
  if (id.size() != 32) return false;
  for (const char c : id) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
  }
  return true;
}

const char* ContentType(OutputFormat format) {
  return format == videogen::v1::OUTPUT_FORMAT_MP4_H264 ? "video/mp4" : "application/octet-stream";
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ResultStore>> ResultStore::Open(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create the results directory ", dir, ": ", std::strerror(errno)));
  }
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  }
  return std::unique_ptr<ResultStore>(new ResultStore(dir));
}

absl::StatusOr<std::string> ResultStore::PathOf(const std::string& id, OutputFormat format) const {
  if (!IsJobId(id)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", id, "\" is not a job id"));
  }
  switch (format) {
    case videogen::v1::OUTPUT_FORMAT_MP4_H264:
      return absl::StrCat(dir_, "/", id, ".mp4");
    case videogen::v1::OUTPUT_FORMAT_RAW_FRAMES:
      return absl::StrCat(dir_, "/", id, ".rgb");
    default:
      return absl::InvalidArgumentError(absl::StrCat("output format ", format, " has no file"));
  }
}

absl::Status ResultStore::WriteAtomically(const std::string& id, OutputFormat format,
                                          const std::string& bytes) const {
  absl::StatusOr<std::string> path = PathOf(id, format);
  if (!path.ok()) return path.status();
  const std::string temp = *path + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", temp);
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status status = Errno("cannot write", temp);
      close(fd);
      unlink(temp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  // Durable before it becomes visible: a crash leaves either no result or the whole one.
  if (fsync(fd) != 0 || close(fd) != 0) {
    const absl::Status status = Errno("cannot flush", temp);
    unlink(temp.c_str());
    return status;
  }
  if (std::rename(temp.c_str(), path->c_str()) != 0) {
    const absl::Status status = Errno("cannot rename", temp);
    unlink(temp.c_str());
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<videogen::v1::VideoOutput> ResultStore::Describe(const std::string& id,
                                                                OutputFormat format) const {
  absl::StatusOr<std::string> path = PathOf(id, format);
  if (!path.ok()) return path.status();
  std::ifstream file(*path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("no result for job ", id));
  absl::StatusOr<Sha256> sha = Sha256::Create();
  if (!sha.ok()) return sha.status();
  int64_t size = 0;
  char buffer[1 << 16];
  while (file.read(buffer, sizeof(buffer)) || file.gcount() > 0) {
    sha->Update(absl::string_view(buffer, static_cast<size_t>(file.gcount())));
    size += file.gcount();
  }
  if (file.bad()) return Errno("cannot read", *path);
  videogen::v1::VideoOutput output;
  output.set_format(format);
  output.set_content_type(ContentType(format));
  output.set_size_bytes(size);
  output.set_sha256(sha->HexDigest());
  return output;
}

absl::StatusOr<std::string> ResultStore::Read(const std::string& id, OutputFormat format,
                                              int64_t offset, int64_t max_bytes) const {
  absl::StatusOr<std::string> path = PathOf(id, format);
  if (!path.ok()) return path.status();
  std::ifstream file(*path, std::ios::binary | std::ios::ate);
  if (!file) return absl::NotFoundError(absl::StrCat("no result for job ", id));
  const int64_t size = file.tellg();
  if (offset < 0 || offset > size) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is outside the result's ", size, " bytes"));
  }
  std::string chunk(static_cast<size_t>(std::min(std::max<int64_t>(max_bytes, 0), size - offset)),
                    '\0');
  file.seekg(offset);
  file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  if (!file && !chunk.empty()) return Errno("cannot read", *path);
  return chunk;
}

absl::Status ResultStore::Remove(const std::string& id, OutputFormat format) const {
  absl::StatusOr<std::string> path = PathOf(id, format);
  if (!path.ok()) return path.status();
  if (unlink(path->c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", *path);
  return absl::OkStatus();
}

}  // namespace videogen::server
