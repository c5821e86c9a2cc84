#include "io/video_reader.h"

#include <cstring>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
}

#include "core/error.h"
#include "io/av_error.h"

namespace sv::io {

namespace {

namespace fs = std::filesystem;

struct Decoder {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* sws = nullptr;

  ~Decoder() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }
};

void check(int code, const fs::path& path, const char* what) {
  SV_CHECK_AS(InputError, code >= 0, "{}: {} failed: {}", path.string(), what, av_error_text(code));
}

}  // namespace

Tensor read_video(const fs::path& path, VideoInfo* info) {
  SV_CHECK_AS(InputError, fs::is_regular_file(path), "{}: no such video file", path.string());
  quiet_libav_logging();
  Decoder d;
  check(avformat_open_input(&d.format, path.c_str(), nullptr, nullptr), path, "opening the video");
  check(avformat_find_stream_info(d.format, nullptr), path, "reading stream information");
  const AVCodec* codec = nullptr;
  const int stream = av_find_best_stream(d.format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  check(stream, path, "finding a video stream");
  d.codec = avcodec_alloc_context3(codec);
  d.frame = av_frame_alloc();
  d.packet = av_packet_alloc();
  SV_CHECK(d.codec && d.frame && d.packet, "libav allocation failed");
  check(avcodec_parameters_to_context(d.codec, d.format->streams[stream]->codecpar), path,
        "reading codec parameters");
  check(avcodec_open2(d.codec, codec, nullptr), path, "opening the decoder");
  const int w = d.codec->width, h = d.codec->height;
  SV_CHECK_AS(InputError, w > 0 && h > 0, "{}: video stream has no size", path.string());

  std::vector<uint8_t> pixels;
  int64_t frames = 0;
  auto drain = [&]() {
    for (;;) {
      const int r = avcodec_receive_frame(d.codec, d.frame);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      check(r, path, "decoding a frame");
      SV_CHECK_AS(InputError, d.frame->width == w && d.frame->height == h,
                  "{}: frame {} is {}x{}, the stream is {}x{}", path.string(), frames,
                  d.frame->width, d.frame->height, w, h);
      d.sws = sws_getCachedContext(d.sws, w, h, static_cast<AVPixelFormat>(d.frame->format), w, h,
                                   AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                   nullptr, nullptr, nullptr);
      SV_CHECK(d.sws, "no swscale conversion to RGB24");
      pixels.resize(static_cast<size_t>(frames + 1) * h * w * 3);
      uint8_t* dst[1] = {pixels.data() + static_cast<size_t>(frames) * h * w * 3};
      const int stride[1] = {3 * w};
      sws_scale(d.sws, d.frame->data, d.frame->linesize, 0, h, dst, stride);
      ++frames;
    }
  };
  for (;;) {
    const int r = av_read_frame(d.format, d.packet);
    if (r == AVERROR_EOF) break;
    check(r, path, "reading a packet");
    if (d.packet->stream_index == stream) {
      check(avcodec_send_packet(d.codec, d.packet), path, "decoding a packet");
      drain();
    }
    av_packet_unref(d.packet);
  }
  check(avcodec_send_packet(d.codec, nullptr), path, "flushing the decoder");
  drain();
  SV_CHECK_AS(InputError, frames > 0, "{}: the video has no decodable frames", path.string());
  if (info) {
    const AVRational rate = d.format->streams[stream]->avg_frame_rate;
    *info = VideoInfo{frames, h, w, rate.den ? av_q2d(rate) : 0.0};
  }
  Tensor out = Tensor::empty(Shape{frames, h, w, 3}, DType::U8);
  std::memcpy(out.data<uint8_t>(), pixels.data(), pixels.size());
  return out;
}

}  // namespace sv::io
