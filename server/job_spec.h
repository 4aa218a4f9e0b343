// Admission checks for a client's video job: every field of a videogen.v1.VideoJobSpec validated
// against the server's configuration, and every default filled in (the result is what
// `VideoJob.spec` records, so a stored job is reproducible).
#ifndef VIDEOGEN_SERVER_JOB_SPEC_H_
#define VIDEOGEN_SERVER_JOB_SPEC_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "proto/server_config.pb.h"
#include "proto/video_job.pb.h"

namespace videogen::server {

// Returns `spec` with its defaults applied (model, size, frames, fps, steps, guidance, budget,
// output format; `random_seed` if the seed is unset; an acceleration with all its settings). `config` must have its defaults applied
// (ParseServerConfig does). INVALID_ARGUMENT naming the field and its allowed values for a bad
// field (prompts must be valid UTF-8 within the prompt limit; idempotency keys printable ASCII);
// NOT_FOUND for a model the server does not serve.
absl::StatusOr<videogen::v1::VideoJobSpec> NormalizeJobSpec(
    const videogen::v1::VideoJobSpec& spec, const videogen::v1::ServerConfig& config,
    uint64_t random_seed);

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_JOB_SPEC_H_
