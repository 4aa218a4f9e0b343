#include "engine/video/mp4_writer.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

namespace videogen::engine::video {
namespace {

using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

bool Exists(const std::string& path) { return std::ifstream(path).good(); }

int64_t FileSize(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  return file ? static_cast<int64_t>(file.tellg()) : -1;
}

// A moving box over a diagonal gradient: smooth areas, edges and motion.
std::vector<uint8_t> Pattern(int64_t frames, int64_t height, int64_t width) {
  std::vector<uint8_t> rgb(frames * height * width * 3);
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        uint8_t* p = &rgb[((f * height + y) * width + x) * 3];
        const bool box = x >= 4 + 3 * f && x < 20 + 3 * f && y >= 16 && y < 40;
        p[0] = box ? 230 : static_cast<uint8_t>(2 * x);
        p[1] = box ? 40 : static_cast<uint8_t>(3 * y);
        p[2] = static_cast<uint8_t>((x + y + 8 * f) % 256);
      }
    }
  }
  return rgb;
}

struct Decoded {
  std::string codec;
  int width = 0, height = 0;
  double fps = 0;
  std::vector<std::vector<uint8_t>> frames;  // RGB.
};

// Reads the MP4 back with FFmpeg and converts every frame to RGB.
Decoded Decode(const std::string& path) {
  Decoded out;
  AVFormatContext* format = nullptr;
  if (avformat_open_input(&format, path.c_str(), nullptr, nullptr) < 0) return out;
  avformat_find_stream_info(format, nullptr);
  const int index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  AVStream* stream = format->streams[index];
  const AVCodec* decoder = avcodec_find_decoder(stream->codecpar->codec_id);
  AVCodecContext* codec = avcodec_alloc_context3(decoder);
  avcodec_parameters_to_context(codec, stream->codecpar);
  avcodec_open2(codec, decoder, nullptr);
  out.codec = decoder->name;
  out.width = codec->width;
  out.height = codec->height;
  out.fps = av_q2d(stream->avg_frame_rate);
  SwsContext* convert =
      sws_getContext(codec->width, codec->height, codec->pix_fmt, codec->width, codec->height,
                     AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr);
  sws_setColorspaceDetails(convert, sws_getCoefficients(SWS_CS_ITU709), 0,
                           sws_getCoefficients(SWS_CS_ITU709), 1, 0, 1 << 16, 1 << 16);
  AVPacket* packet = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  auto drain = [&] {
    while (avcodec_receive_frame(codec, frame) == 0) {
      std::vector<uint8_t> rgb(out.width * out.height * 3);
      uint8_t* dst[] = {rgb.data()};
      const int stride[] = {out.width * 3};
      sws_scale(convert, frame->data, frame->linesize, 0, out.height, dst, stride);
      out.frames.push_back(std::move(rgb));
    }
  };
  while (av_read_frame(format, packet) >= 0) {
    if (packet->stream_index == index) {
      avcodec_send_packet(codec, packet);
      drain();
    }
    av_packet_unref(packet);
  }
  avcodec_send_packet(codec, nullptr);
  drain();
  av_frame_free(&frame);
  av_packet_free(&packet);
  sws_freeContext(convert);
  avcodec_free_context(&codec);
  avformat_close_input(&format);
  return out;
}

double Psnr(const uint8_t* a, const uint8_t* b, size_t n) {
  double squared = 0;
  for (size_t i = 0; i < n; ++i) squared += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return 10 * std::log10(255.0 * 255.0 / std::max(squared / n, 1e-12));
}

TEST(WriteMp4Test, RoundTripsThroughFfmpeg) {
  constexpr int64_t kFrames = 17, kHeight = 64, kWidth = 96;
  const std::vector<uint8_t> rgb = Pattern(kFrames, kHeight, kWidth);
  for (const double fps : {16.0, 24.0}) {
    SCOPED_TRACE(fps);
    const std::string path = TempPath("round_trip.mp4");
    Mp4Options options;
    options.fps = fps;
    ASSERT_OK(WriteMp4({rgb.data(), kFrames, kHeight, kWidth}, options, path));
    EXPECT_FALSE(Exists(path + ".tmp"));
    const Decoded decoded = Decode(path);
    EXPECT_EQ(decoded.codec, "h264");
    EXPECT_EQ(decoded.width, kWidth);
    EXPECT_EQ(decoded.height, kHeight);
    EXPECT_NEAR(decoded.fps, fps, 1e-6);
    ASSERT_EQ(decoded.frames.size(), static_cast<size_t>(kFrames));
    const size_t frame_bytes = kHeight * kWidth * 3;
    for (int64_t f = 0; f < kFrames; ++f) {
      EXPECT_GT(Psnr(decoded.frames[f].data(), &rgb[f * frame_bytes], frame_bytes), 30.0)
          << "frame " << f;
    }
  }
}

TEST(WriteMp4Test, LowerCrfMeansLargerFiles) {
  const std::vector<uint8_t> rgb = Pattern(9, 64, 96);
  Mp4Options fine, coarse;
  fine.crf = 10;
  coarse.crf = 40;
  ASSERT_OK(WriteMp4({rgb.data(), 9, 64, 96}, fine, TempPath("fine.mp4")));
  ASSERT_OK(WriteMp4({rgb.data(), 9, 64, 96}, coarse, TempPath("coarse.mp4")));
  EXPECT_GT(FileSize(TempPath("fine.mp4")), FileSize(TempPath("coarse.mp4")));
}

TEST(WriteMp4Test, RejectsBadInputWithoutWritingAnything) {
  const std::vector<uint8_t> rgb = Pattern(1, 64, 96);
  const std::string path = TempPath("bad.mp4");
  Mp4Options bad_fps, bad_crf, bad_preset;
  bad_fps.fps = 0;
  bad_crf.crf = 60;
  bad_preset.preset = "warp-speed";
  EXPECT_THAT(WriteMp4({rgb.data(), 1, 64, 95}, {}, path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("width = 95")));
  EXPECT_THAT(WriteMp4({rgb.data(), 0, 64, 96}, {}, path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("frames = 0")));
  EXPECT_THAT(WriteMp4({nullptr, 1, 64, 96}, {}, path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no frame data")));
  EXPECT_THAT(WriteMp4({rgb.data(), 1, 64, 96}, bad_fps, path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fps = 0")));
  EXPECT_THAT(WriteMp4({rgb.data(), 1, 64, 96}, bad_crf, path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("crf = 60")));
  EXPECT_THAT(WriteMp4({rgb.data(), 1, 64, 96}, bad_preset, path),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("preset")));
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + ".tmp"));
}

TEST(WriteMp4Test, UnwritableDirectoryIsAnErrorNotACrash) {
  const std::vector<uint8_t> rgb = Pattern(1, 64, 96);
  EXPECT_THAT(WriteMp4({rgb.data(), 1, 64, 96}, {}, TempPath("missing/dir/out.mp4")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("missing/dir/out.mp4.tmp")));
}

}  // namespace
}  // namespace videogen::engine::video
