// Version of this build: the project version and `git describe` at configure
// time (recorded in sidecar files so every output names the code that made it).
#pragma once

namespace sv {

const char* version();        // "0.1.0"
const char* git_describe();   // "v0.1.0-12-gabc1234-dirty", or "unknown" outside git

}  // namespace sv
