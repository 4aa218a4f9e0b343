#include "engine/video/mp4_writer.h"

#include <cstdio>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace videogen::engine::video {
namespace {

std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof(text));
  return text;
}

absl::Status Internal(absl::string_view what, int code) {
  return absl::InternalError(absl::StrCat("mp4: ", what, ": ", AvError(code)));
}

struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
// The muxer, with its output file closed on destruction.
struct FormatFree {
  void operator()(AVFormatContext* f) const {
    if (f->pb != nullptr) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};

absl::Status Validate(const RgbVideo& video, const Mp4Options& options) {
  if (video.data == nullptr) return absl::InvalidArgumentError("mp4: no frame data");
  if (video.frames < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("mp4: frames = ", video.frames, " must be >= 1"));
  }
  for (const auto& [name, size] :
       {std::pair<const char*, int64_t>{"height", video.height}, {"width", video.width}}) {
    if (size < 2 || size % 2 != 0 || size > 16384) {
      return absl::InvalidArgumentError(
          absl::StrCat("mp4: ", name, " = ", size, " must be even and in [2, 16384]"));
    }
  }
  if (!(options.fps > 0 && options.fps <= 240)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mp4: fps = ", options.fps, " is outside (0, 240]"));
  }
  if (options.crf < 0 || options.crf > 51) {
    return absl::InvalidArgumentError(
        absl::StrCat("mp4: crf = ", options.crf, " is outside [0, 51]"));
  }
  return absl::OkStatus();
}

// Sends `frame` (nullptr: flush) and writes every packet the encoder has ready.
absl::Status Encode(AVCodecContext* codec, AVStream* stream, AVFormatContext* format,
                    AVFrame* frame, AVPacket* packet) {
  if (const int error = avcodec_send_frame(codec, frame); error < 0) {
    return Internal("sending a frame to the encoder", error);
  }
  while (true) {
    const int error = avcodec_receive_packet(codec, packet);
    if (error == AVERROR(EAGAIN) || error == AVERROR_EOF) return absl::OkStatus();
    if (error < 0) return Internal("encoding", error);
    av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
    packet->stream_index = stream->index;
    if (const int write = av_interleaved_write_frame(format, packet); write < 0) {
      return Internal("writing a packet", write);
    }
  }
}

absl::Status WriteFile(const RgbVideo& video, const Mp4Options& options, const std::string& path) {
  const AVCodec* encoder = avcodec_find_encoder_by_name("libx264");
  if (encoder == nullptr) {
    return absl::UnavailableError("mp4: this FFmpeg build has no libx264 encoder");
  }
  AVFormatContext* raw_format = nullptr;
  if (const int error = avformat_alloc_output_context2(&raw_format, nullptr, "mp4", path.c_str());
      error < 0) {
    return Internal("creating the MP4 muxer", error);
  }
  const std::unique_ptr<AVFormatContext, FormatFree> format(raw_format);
  const std::unique_ptr<AVCodecContext, CodecContextFree> codec(avcodec_alloc_context3(encoder));
  AVStream* stream = avformat_new_stream(format.get(), nullptr);
  if (codec == nullptr || stream == nullptr)
    return absl::ResourceExhaustedError("mp4: out of memory");

  const AVRational rate = av_d2q(options.fps, 100000);
  codec->width = static_cast<int>(video.width);
  codec->height = static_cast<int>(video.height);
  codec->pix_fmt = AV_PIX_FMT_YUV420P;
  codec->time_base = av_inv_q(rate);
  codec->framerate = rate;
  codec->color_range = AVCOL_RANGE_MPEG;
  codec->colorspace = AVCOL_SPC_BT709;
  codec->color_primaries = AVCOL_PRI_BT709;
  codec->color_trc = AVCOL_TRC_BT709;
  if (format->oformat->flags & AVFMT_GLOBALHEADER) codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  av_opt_set(codec->priv_data, "preset", options.preset.c_str(), 0);
  av_opt_set_int(codec->priv_data, "crf", options.crf, 0);
  if (const int error = avcodec_open2(codec.get(), encoder, nullptr); error < 0) {
    return Internal("opening libx264 (check the preset)", error);
  }
  if (const int error = avcodec_parameters_from_context(stream->codecpar, codec.get()); error < 0) {
    return Internal("setting the stream parameters", error);
  }
  stream->time_base = codec->time_base;
  stream->avg_frame_rate = rate;

  if (const int error = avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE); error < 0) {
    return Internal(absl::StrCat("opening ", path), error);
  }
  AVDictionary* muxer_options = nullptr;
  av_dict_set(&muxer_options, "movflags", "+faststart", 0);
  const int header = avformat_write_header(format.get(), &muxer_options);
  av_dict_free(&muxer_options);
  if (header < 0) return Internal("writing the MP4 header", header);

  const std::unique_ptr<AVFrame, FrameFree> frame(av_frame_alloc());
  const std::unique_ptr<AVPacket, PacketFree> packet(av_packet_alloc());
  const std::unique_ptr<SwsContext, SwsFree> convert(
      sws_getContext(codec->width, codec->height, AV_PIX_FMT_RGB24, codec->width, codec->height,
                     AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (frame == nullptr || packet == nullptr || convert == nullptr) {
    return absl::ResourceExhaustedError("mp4: out of memory");
  }
  // RGB in [0, 255] (full range) to BT.709 limited-range YUV.
  sws_setColorspaceDetails(convert.get(), sws_getCoefficients(SWS_CS_ITU709), /*srcRange=*/1,
                           sws_getCoefficients(SWS_CS_ITU709), /*dstRange=*/0, 0, 1 << 16, 1 << 16);
  frame->format = codec->pix_fmt;
  frame->width = codec->width;
  frame->height = codec->height;
  if (const int error = av_frame_get_buffer(frame.get(), 0); error < 0) {
    return Internal("allocating a frame", error);
  }
  const int64_t frame_bytes = video.height * video.width * 3;
  for (int64_t i = 0; i < video.frames; ++i) {
    if (const int error = av_frame_make_writable(frame.get()); error < 0) {
      return Internal("reusing the frame", error);
    }
    const uint8_t* rgb = video.data + i * frame_bytes;
    const int stride = static_cast<int>(video.width * 3);
    sws_scale(convert.get(), &rgb, &stride, 0, codec->height, frame->data, frame->linesize);
    frame->pts = i;
    if (absl::Status s = Encode(codec.get(), stream, format.get(), frame.get(), packet.get());
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = Encode(codec.get(), stream, format.get(), nullptr, packet.get()); !s.ok()) {
    return s;
  }
  if (const int error = av_write_trailer(format.get()); error < 0) {
    return Internal("writing the MP4 index", error);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteMp4(const RgbVideo& video, const Mp4Options& options, const std::string& path) {
  if (absl::Status s = Validate(video, options); !s.ok()) return s;
  // libx264 reports its settings and statistics at info level; errors come back as statuses.
  static std::once_flag quiet;
  std::call_once(quiet, [] { av_log_set_level(AV_LOG_ERROR); });
  const std::string temp = path + ".tmp";
  absl::Status status = WriteFile(video, options, temp);
  if (status.ok() && std::rename(temp.c_str(), path.c_str()) != 0) {
    status = absl::InternalError(absl::StrCat("mp4: cannot rename ", temp, " to ", path));
  }
  if (!status.ok()) std::remove(temp.c_str());
  return status;
}

}  // namespace videogen::engine::video
