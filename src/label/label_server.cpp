#include "label/label_server.h"

#include <fstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "label/label_page.h"

namespace sv::label {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/json");
}

json progress_json(const Progress& p) {
  return json{{"total", p.total}, {"judged", p.judged}, {"skipped", p.skipped}, {"open", p.open()}};
}

json pair_json(const CandidateSet& set, size_t pair) {
  const CandidatePair& p = set.pairs[pair];
  auto side = [&](size_t k) {
    return json{{"id", set.candidates[k].id}, {"url", fmt::format("/video/{}", k)}};
  };
  return json{{"id", p.id}, {"prompt", set.candidates[p.left].prompt}, {"left", side(p.left)},
              {"right", side(p.right)}};
}

std::optional<Choice> parse_choice(const std::string& name) {
  if (name == "left") return Choice::Left;
  if (name == "right") return Choice::Right;
  if (name == "tie") return Choice::Tie;
  if (name == "skip") return Choice::Skip;
  return std::nullopt;
}

// {"tab", "pair"[, "choice"]} of a POST, or nothing (400 already replied).
std::optional<json> request_body(const httplib::Request& req, httplib::Response& res, bool with_choice) {
  const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  const bool ok = body.is_object() && body.contains("tab") && body["tab"].is_string() && body.contains("pair") &&
                  body["pair"].is_string() &&
                  (!with_choice || (body.contains("choice") && body["choice"].is_string() &&
                                    parse_choice(body["choice"].get<std::string>())));
  if (ok) return body;
  reply(res, 400, json{{"error", with_choice ? "expected {\"tab\", \"pair\", \"choice\": left|right|tie|skip}"
                                             : "expected {\"tab\", \"pair\"}"}});
  return std::nullopt;
}

void serve_video(const fs::path& video, httplib::Response& res) {
  std::error_code ec;
  const auto size = fs::file_size(video, ec);
  if (ec) {
    reply(res, 404, json{{"error", "the video is gone"}});
    return;
  }
  auto file = std::make_shared<std::ifstream>(video, std::ios::binary);
  res.set_content_provider(static_cast<size_t>(size), "video/mp4",
                           [file](size_t offset, size_t length, httplib::DataSink& sink) {
                             std::vector<char> buffer(std::min<size_t>(length, 1 << 20));
                             file->seekg(static_cast<std::streamoff>(offset));
                             file->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
                             const auto got = file->gcount();
                             return got > 0 && sink.write(buffer.data(), static_cast<size_t>(got));
                           });
}

}  // namespace

struct LabelServer::Impl {
  LabelSession& session;
  httplib::Server server;

  explicit Impl(LabelSession& s) : session(s) { routes(); }

  void routes() {
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(label_page_html(), "text/html; charset=utf-8");
    });
    server.Get("/api/next", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string tab = req.get_param_value("tab");
      if (tab.empty()) return reply(res, 400, json{{"error", "give ?tab=<id of this browser tab>"}});
      const std::optional<size_t> pair = session.next(tab);
      reply(res, 200, json{{"pair", pair ? pair_json(session.candidates(), *pair) : json()},
                           {"progress", progress_json(session.progress())}});
    });
    server.Post("/api/judge", [this](const httplib::Request& req, httplib::Response& res) { judge(req, res); });
    server.Post("/api/undo", [this](const httplib::Request& req, httplib::Response& res) { undo(req, res); });
    server.Get(R"(/video/(\d{1,9}))", [this](const httplib::Request& req, httplib::Response& res) {
      const size_t k = std::stoul(req.matches[1].str());
      if (k >= session.candidates().candidates.size()) return reply(res, 404, json{{"error", "no such video"}});
      serve_video(session.candidates().candidates[k].video, res);
    });
    server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) res.set_content(fmt::format("{}\n", res.status), "text/plain");
    });
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      }
      log_warn("label: a request failed: {}", what);
      reply(res, 500, json{{"error", what}});
    });
  }

  void judge(const httplib::Request& req, httplib::Response& res) {
    const std::optional<json> body = request_body(req, res, /*with_choice=*/true);
    if (!body) return;
    const std::string pair = (*body)["pair"], choice = (*body)["choice"];
    switch (session.judge((*body)["tab"], pair, *parse_choice(choice))) {
      case Outcome::Recorded: {
        const Progress p = session.progress();
        log_info("label: {}: {} ({} / {} judged, {} skipped)", pair, session.decision_of(pair), p.judged, p.total,
                 p.skipped);
        return reply(res, 200, json{{"progress", progress_json(p)}});
      }
      case Outcome::AlreadyDecided:
        return reply(res, 409, json{{"error", fmt::format("{} was already judged ({}), perhaps in another tab",
                                                          pair, session.decision_of(pair))}});
      case Outcome::UnknownPair:
      case Outcome::NotDecided: break;
    }
    reply(res, 404, json{{"error", fmt::format("no pair {} in this run directory", pair)}});
  }

  void undo(const httplib::Request& req, httplib::Response& res) {
    const std::optional<json> body = request_body(req, res, /*with_choice=*/false);
    if (!body) return;
    const std::string pair = (*body)["pair"];
    switch (session.undo((*body)["tab"], pair)) {
      case Outcome::Recorded:
        log_info("label: {}: undone", pair);
        return reply(res, 200, json{{"progress", progress_json(session.progress())}});
      case Outcome::NotDecided:
        return reply(res, 409, json{{"error", fmt::format("{} is not judged (undone in another tab?)", pair)}});
      case Outcome::UnknownPair:
      case Outcome::AlreadyDecided: break;
    }
    reply(res, 404, json{{"error", fmt::format("no pair {} in this run directory", pair)}});
  }
};

LabelServer::LabelServer(LabelSession& session) : impl_(std::make_unique<Impl>(session)) {}
LabelServer::~LabelServer() = default;

int LabelServer::bind(const std::string& host, int port) {
  const int bound = port == 0 ? impl_->server.bind_to_any_port(host)
                              : (impl_->server.bind_to_port(host, port) ? port : -1);
  SV_CHECK_AS(ConfigError, bound > 0, "cannot listen on {}:{} (in use, or not an address of this machine): pick "
              "another --port or --host", host, port);
  return bound;
}

void LabelServer::serve() { impl_->server.listen_after_bind(); }
void LabelServer::stop() { impl_->server.stop(); }

}  // namespace sv::label
