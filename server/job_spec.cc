#include "server/job_spec.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/accel/policies.h"

namespace videogen::server {
namespace {

using ::videogen::v1::VideoJobSpec;

// Default values of the fields whose zero means "default" (proto/video_job.proto).
constexpr int32_t kDefaultHeight = 480;
constexpr int32_t kDefaultWidth = 832;
constexpr int32_t kDefaultFrames = 81;
constexpr int32_t kDefaultFps = 16;
constexpr int32_t kDefaultSteps = 50;
constexpr float kDefaultGuidance = 5.0f;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, " ", what));
}

// True if `text` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    int length = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (int j = 1; j < length; ++j) {
      const unsigned char next = static_cast<unsigned char>(text[i + j]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

absl::Status CheckText(absl::string_view field, absl::string_view text, int32_t max_bytes,
                       bool required) {
  if (required && text.empty()) return Invalid(field, "is required");
  if (static_cast<int64_t>(text.size()) > max_bytes) {
    return Invalid(field, absl::StrCat("has ", text.size(), " bytes; at most ", max_bytes));
  }
  if (!IsUtf8(text)) return Invalid(field, "is not valid UTF-8");
  return absl::OkStatus();
}

// A positive multiple of `multiple` up to `max`, `fallback` if zero.
absl::Status CheckMultiple(absl::string_view field, int32_t fallback, int32_t multiple, int32_t max,
                           int32_t& value) {
  if (value == 0) value = fallback;
  if (value < multiple || value % multiple != 0 || value > max) {
    return Invalid(field, absl::StrCat("= ", value, " must be a positive multiple of ", multiple,
                                       " up to ", max));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view field, int32_t low, int32_t high, int32_t value) {
  if (value < low || value > high) {
    return Invalid(field, absl::StrCat("= ", value, " is outside [", low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VideoJobSpec> NormalizeJobSpec(const VideoJobSpec& spec,
                                              const videogen::v1::ServerConfig& config,
                                              uint64_t random_seed) {
  const videogen::v1::RequestLimits& limits = config.limits();
  VideoJobSpec out = spec;
  if (absl::Status s = CheckText("prompt", out.prompt(), limits.max_prompt_bytes(), true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckText("negative_prompt", out.negative_prompt(), limits.max_prompt_bytes(), false);
      !s.ok()) {
    return s;
  }

  if (out.model().empty()) out.set_model(config.default_model());
  bool served = false;
  for (const auto& model : config.models()) served = served || model.name() == out.model();
  if (!served) {
    return absl::NotFoundError(absl::StrCat("model \"", out.model(), "\" is not served here"));
  }

  int32_t height = out.height(), width = out.width();
  if (absl::Status s = CheckMultiple("height", kDefaultHeight, 16, limits.max_height(), height);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckMultiple("width", kDefaultWidth, 16, limits.max_width(), width);
      !s.ok()) {
    return s;
  }
  out.set_height(height);
  out.set_width(width);
  if (out.frames() == 0) out.set_frames(kDefaultFrames);
  if (out.frames() < 1 || (out.frames() - 1) % 4 != 0 || out.frames() > limits.max_frames()) {
    return Invalid("frames", absl::StrCat("= ", out.frames(), " must be of the form 4k + 1 up to ",
                                          limits.max_frames()));
  }
  if (out.fps() == 0) out.set_fps(kDefaultFps);
  if (absl::Status s = CheckRange("fps", 1, 120, out.fps()); !s.ok()) return s;
  if (out.steps() == 0) out.set_steps(kDefaultSteps);
  if (absl::Status s = CheckRange("steps", 1, limits.max_steps(), out.steps()); !s.ok()) return s;
  if (out.guidance_scale() == 0) out.set_guidance_scale(kDefaultGuidance);
  if (!(out.guidance_scale() >= 1 && out.guidance_scale() <= 20)) {
    return Invalid("guidance_scale",
                   absl::StrCat("= ", out.guidance_scale(), " is outside [1, 20]"));
  }
  if (!out.has_seed()) out.set_seed(random_seed);
  if (out.budget() == 0) out.set_budget(1.0f);
  if (!(out.budget() > 0 && out.budget() <= 1)) {
    return Invalid("budget", absl::StrCat("= ", out.budget(), " is outside (0, 1]"));
  }
  if (out.budget() < limits.min_budget()) {
    return Invalid("budget", absl::StrCat("= ", out.budget(), " is below this server's minimum ",
                                          limits.min_budget()));
  }
  if (!out.acceleration().empty()) {
    absl::StatusOr<std::shared_ptr<const engine::accel::Policy>> policy =
        engine::accel::ParsePolicy(out.acceleration());
    if (!policy.ok()) return Invalid("acceleration", policy.status().message());
    if (out.budget() != 1.0f) {
      return Invalid(
          "acceleration",
          absl::StrCat("replaces the token budget: budget must be 1, got ", out.budget()));
    }
    out.set_acceleration((*policy)->Describe());
  }
  if (absl::Status s = CheckRange("priority", -10, 10, out.priority()); !s.ok()) return s;
  if (out.output_format() == videogen::v1::OUTPUT_FORMAT_UNSPECIFIED) {
    out.set_output_format(videogen::v1::OUTPUT_FORMAT_MP4_H264);
  }
  if (!videogen::v1::OutputFormat_IsValid(out.output_format())) {
    return Invalid("output_format",
                   absl::StrCat("= ", out.output_format(), " is not a known format"));
  }
  const std::string& key = out.idempotency_key();
  if (key.size() > 128) {
    return Invalid("idempotency_key", absl::StrCat("has ", key.size(), " bytes; at most 128"));
  }
  for (const char c : key) {
    if (c < 0x20 || c > 0x7E) return Invalid("idempotency_key", "must be printable ASCII");
  }
  return out;
}

}  // namespace videogen::server
