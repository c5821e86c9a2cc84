#include "io/video_writer.h"

#include <cstring>
#include <memory>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include "core/error.h"
#include "io/durable_file.h"
#include "io/av_error.h"

namespace sv::io {

namespace {

namespace fs = std::filesystem;

// Owns every libav object of one encode so early returns and exceptions free them.
struct Encoder {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  SwsContext* sws = nullptr;
  AVStream* stream = nullptr;

  ~Encoder() {
    sws_freeContext(sws);
    av_packet_free(&packet);
    av_frame_free(&frame);
    avcodec_free_context(&codec);
    if (format) {
      if (format->pb) avio_closep(&format->pb);
      avformat_free_context(format);
    }
  }
};

void check(int code, const fs::path& path, const char* what) {
  SV_CHECK_AS(InputError, code >= 0, "{}: {} failed: {}", path.string(), what, av_error_text(code));
}

// Sends one frame (or nullptr to flush) and writes every packet it yields.
void encode(Encoder& e, AVFrame* frame, const fs::path& path) {
  check(avcodec_send_frame(e.codec, frame), path, "encoding a frame");
  for (;;) {
    const int r = avcodec_receive_packet(e.codec, e.packet);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    check(r, path, "receiving an encoded packet");
    // libx264 leaves the duration 0; the MP4 muxer would then drop the last
    // frame. One frame lasts one tick of the codec's 1/fps time base.
    if (e.packet->duration == 0) e.packet->duration = 1;
    av_packet_rescale_ts(e.packet, e.codec->time_base, e.stream->time_base);
    e.packet->stream_index = e.stream->index;
    check(av_interleaved_write_frame(e.format, e.packet), path, "writing a packet");
  }
}

void encode_to(const fs::path& tmp, const fs::path& path, const Tensor& rgb,
               const VideoWriteOptions& options) {
  const int frames = static_cast<int>(rgb.dim(0)), h = static_cast<int>(rgb.dim(1)),
            w = static_cast<int>(rgb.dim(2));
  const bool h264 = options.codec == VideoCodec::H264;
  Encoder e;
  check(avformat_alloc_output_context2(&e.format, nullptr, h264 ? "mp4" : "matroska",
                                       tmp.c_str()),
        path, "creating the container");
  const AVCodec* codec = avcodec_find_encoder_by_name(h264 ? "libx264" : "ffv1");
  SV_CHECK_AS(NotSupported, codec, "{}: this libavcodec has no {} encoder", path.string(),
              h264 ? "libx264" : "ffv1");
  e.stream = avformat_new_stream(e.format, nullptr);
  e.codec = avcodec_alloc_context3(codec);
  e.frame = av_frame_alloc();
  e.packet = av_packet_alloc();
  SV_CHECK(e.stream && e.codec && e.frame && e.packet, "libav allocation failed");
  e.codec->width = w;
  e.codec->height = h;
  e.codec->pix_fmt = h264 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_BGR0;
  e.codec->time_base = AVRational{1, options.fps};
  e.codec->framerate = AVRational{options.fps, 1};
  if (e.format->oformat->flags & AVFMT_GLOBALHEADER) e.codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (h264) {
    // One encoder thread: libx264's frame threads made repeated encodes of the
    // same frames differ here, and the same seed must give the same file.
    e.codec->thread_count = 1;
    av_opt_set(e.codec->priv_data, "crf", std::to_string(options.crf).c_str(), 0);
    av_opt_set(e.codec->priv_data, "preset", "medium", 0);
  }
  check(avcodec_open2(e.codec, codec, nullptr), path, "opening the encoder");
  check(avcodec_parameters_from_context(e.stream->codecpar, e.codec), path, "stream parameters");
  e.stream->time_base = e.codec->time_base;
  check(avio_open(&e.format->pb, tmp.c_str(), AVIO_FLAG_WRITE), path, "opening the file");
  check(avformat_write_header(e.format, nullptr), path, "writing the header");

  e.frame->format = e.codec->pix_fmt;
  e.frame->width = w;
  e.frame->height = h;
  check(av_frame_get_buffer(e.frame, 0), path, "allocating a frame");
  // Zero the padding beyond each row: the encoder may read it, and
  // uninitialised bytes there made repeated encodes of one video differ.
  for (int p = 0; p < AV_NUM_DATA_POINTERS && e.frame->buf[p]; ++p) {
    std::memset(e.frame->buf[p]->data, 0, e.frame->buf[p]->size);
  }
  e.sws = sws_getContext(w, h, AV_PIX_FMT_RGB24, w, h, e.codec->pix_fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                         nullptr, nullptr, nullptr);
  SV_CHECK(e.sws, "no swscale conversion from RGB24 to the encoder's pixel format");
  const uint8_t* base = rgb.data<uint8_t>();
  for (int i = 0; i < frames; ++i) {
    check(av_frame_make_writable(e.frame), path, "making a frame writable");
    const uint8_t* src[1] = {base + static_cast<size_t>(i) * h * w * 3};
    const int stride[1] = {3 * w};
    sws_scale(e.sws, src, stride, 0, h, e.frame->data, e.frame->linesize);
    e.frame->pts = i;
    encode(e, e.frame, path);
  }
  encode(e, nullptr, path);
  check(av_write_trailer(e.format), path, "writing the trailer");
  avio_closep(&e.format->pb);
}

}  // namespace

void write_video(const fs::path& path, const Tensor& rgb, const VideoWriteOptions& options) {
  SV_CHECK_AS(InputError, rgb.dtype() == DType::U8 && rgb.rank() == 4 && rgb.dim(3) == 3,
              "{}: frames are {}, expected u8 [T, H, W, 3]", path.string(), rgb.describe());
  SV_CHECK_AS(InputError, rgb.dim(0) >= 1 && rgb.dim(1) >= 2 && rgb.dim(2) >= 2,
              "{}: no frames to write ({})", path.string(), rgb.describe());
  SV_CHECK_AS(InputError, options.fps >= 1, "{}: fps must be positive, got {}", path.string(),
              options.fps);
  if (options.codec == VideoCodec::H264) {
    SV_CHECK_AS(InputError, rgb.dim(1) % 2 == 0 && rgb.dim(2) % 2 == 0,
                "{}: H.264 (yuv420p) needs even width and height, got {}x{}", path.string(),
                rgb.dim(2), rgb.dim(1));
  }
  quiet_libav_logging();
  const Tensor frames = rgb.contiguous();
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  SV_CHECK_AS(InputError, fs::is_directory(dir), "{}: directory {} does not exist",
              path.string(), dir.string());
  // Keep the extension: libav and players look at it.
  const fs::path tmp = temporary_path_for(path);
  try {
    encode_to(tmp, path, frames, options);
    fsync_file(tmp);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    SV_CHECK_AS(InputError, !ec, "{}: cannot rename the finished video into place: {}",
                path.string(), ec.message());
    fsync_directory(dir);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

}  // namespace sv::io
