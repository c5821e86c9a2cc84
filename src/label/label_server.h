// The local web server of `stepvideo label` (cpp-httplib): the page, a small
// JSON API over a LabelSession, and the candidate videos. Videos are served
// by their index in the candidate list, never by a path from the request, so
// nothing outside the run directory can be reached (any other URL is a 404).
//   GET  /                 the page (label_page.h)
//   GET  /api/next?tab=T   {"pair": {id, prompt, left: {id, url}, right}, "progress"}; "pair": null when done
//   POST /api/judge        {"tab", "pair", "choice": left|right|tie|skip}: 200, 409 when already decided
//   POST /api/undo         {"tab", "pair"}: 200, 409 when the pair is not decided
//   GET  /video/N          candidate N's MP4 (byte ranges, for seeking)
#pragma once

#include <memory>
#include <string>

#include "label/label_session.h"

namespace sv::label {

class LabelServer {
 public:
  explicit LabelServer(LabelSession& session);
  ~LabelServer();
  LabelServer(const LabelServer&) = delete;
  LabelServer& operator=(const LabelServer&) = delete;

  // Binds host:port (port 0: any free one) and returns the port; ConfigError
  // when the address cannot be bound.
  int bind(const std::string& host, int port);
  // Serves until stop() (from another thread).
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sv::label
