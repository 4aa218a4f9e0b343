// The directory where finished jobs' results live, owned by the server: one file per job, named
// by the job id (clients never supply paths), written atomically (temp file + rename) and read
// back in chunks for FetchVideo.
//
// Thread-safe: no shared mutable state; concurrent writers of one job id are the caller's bug.
#ifndef VIDEOGEN_SERVER_RESULT_STORE_H_
#define VIDEOGEN_SERVER_RESULT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/video_job.pb.h"

namespace videogen::server {

class ResultStore {
 public:
  // Uses (and creates, mode 0700) the directory `dir`. FAILED_PRECONDITION if it cannot be
  // created or is not a directory.
  static absl::StatusOr<std::unique_ptr<ResultStore>> Open(const std::string& dir);

  // The file of job `id`'s result in `format` (".mp4" or ".rgb"). INVALID_ARGUMENT unless `id`
  // is a job id (32 lowercase hex characters) and `format` is set. Writers write here through a
  // temporary file (e.g. video::WriteMp4) or use WriteAtomically().
  absl::StatusOr<std::string> PathOf(const std::string& id,
                                     videogen::v1::OutputFormat format) const;
  // Stores `bytes` as the result of `id` (temp file + fsync + rename). INTERNAL on I/O errors.
  absl::Status WriteAtomically(const std::string& id, videogen::v1::OutputFormat format,
                               const std::string& bytes) const;
  // Format, content type, size and SHA-256 of a stored result (expire_time unset). NOT_FOUND if
  // there is none.
  absl::StatusOr<videogen::v1::VideoOutput> Describe(const std::string& id,
                                                     videogen::v1::OutputFormat format) const;
  // Up to `max_bytes` of the result from `offset` (empty at the end). NOT_FOUND if absent,
  // OUT_OF_RANGE if `offset` is past the end or negative.
  absl::StatusOr<std::string> Read(const std::string& id, videogen::v1::OutputFormat format,
                                   int64_t offset, int64_t max_bytes) const;
  // Removes the result; OK if there is none.
  absl::Status Remove(const std::string& id, videogen::v1::OutputFormat format) const;

 private:
  explicit ResultStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_RESULT_STORE_H_
