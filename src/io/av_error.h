// libav error codes as readable text for our error messages.
#pragma once

#include <string>

namespace sv::io {

std::string av_error_text(int code);

// libav prints its own warnings and per-encode statistics on stderr; stepvideo
// reports failures itself (one line, with the file), so libav stays quiet.
void quiet_libav_logging();

}  // namespace sv::io
