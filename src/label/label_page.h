// The labelling page: one self-contained HTML document (styles and script
// inline) that asks the server (label_server.h) for a pair, shows both
// videos looping side by side, and sends the keyboard's verdicts.
#pragma once

namespace sv::label {

const char* label_page_html();

}  // namespace sv::label
