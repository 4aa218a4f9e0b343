// H.264 video in an MP4 container from generated frames, with FFmpeg's libraries (libx264).
#ifndef VIDEOGEN_ENGINE_VIDEO_MP4_WRITER_H_
#define VIDEOGEN_ENGINE_VIDEO_MP4_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace videogen::engine::video {

// Frames of one video: `frames` images of `height` x `width` 8-bit RGB pixels, row-major, back to
// back (the layout of the pipeline's uint8 frames). Not owned.
struct RgbVideo {
  const uint8_t* data = nullptr;
  int64_t frames = 0, height = 0, width = 0;
};

struct Mp4Options {
  double fps = 16;                // Playback rate, (0, 240]; Wan2.1's native rate is 16.
  int crf = 18;                   // x264 constant rate factor, [0, 51]; lower is better.
  std::string preset = "medium";  // x264 speed/size preset ("ultrafast" ... "veryslow").
};

// Encodes `video` as H.264 (yuv420p, BT.709, limited range) in an MP4 with its index first
// ("faststart", playable while streaming) and writes it to `path`, replacing it atomically
// (written to `path`.tmp, then renamed; nothing is left behind on failure). Errors:
// INVALID_ARGUMENT naming the field for bad dimensions (frames >= 1, even height and width >= 2)
// or options; UNAVAILABLE if FFmpeg has no libx264; INTERNAL with FFmpeg's message otherwise.
// Thread-safe (no shared state).
absl::Status WriteMp4(const RgbVideo& video, const Mp4Options& options, const std::string& path);

}  // namespace videogen::engine::video

#endif  // VIDEOGEN_ENGINE_VIDEO_MP4_WRITER_H_
