#include "io/av_error.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace sv::io {

std::string av_error_text(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

void quiet_libav_logging() { av_log_set_level(AV_LOG_FATAL); }

}  // namespace sv::io
