#include "train/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/durable_file.h"

namespace sv::train {

namespace fs = std::filesystem;
using nlohmann::json;

MetricsLog::MetricsLog(fs::path path, int64_t next_step) : path_(std::move(path)) {
  // Keep the complete records of earlier steps; drop later ones and a torn tail.
  std::string kept;
  if (std::ifstream in(path_); in) {
    std::string line;
    while (std::getline(in, line)) {
      if (in.eof()) break;  // no newline: torn
      json r = json::parse(line, nullptr, false);
      if (!r.is_object() || !r.contains("step") || r["step"].get<int64_t>() >= next_step) continue;
      auto number = [&](const char* key) { return r.contains(key) && r[key].is_number() ? r[key].get<double>() : NAN; };
      points_.push_back({r["step"].get<int64_t>(), number("loss"), number("lr")});
      kept += line + "\n";
    }
  }
  io::write_text_atomic(path_, kept);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  SV_CHECK_AS(InputError, fd_ >= 0, "{}: cannot open for appending: {}", path_.string(), std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::append(const json& record) {
  const std::string line = record.dump() + "\n";
  // One write: a crash leaves the line whole or absent (a torn tail is dropped on resume).
  const ssize_t n = ::write(fd_, line.data(), line.size());
  SV_CHECK_AS(InputError, n == static_cast<ssize_t>(line.size()), "{}: cannot append a metrics line: {}",
              path_.string(), n < 0 ? std::strerror(errno) : "short write");
  auto number = [&](const char* key) { return record.at(key).is_number() ? record.at(key).get<double>() : NAN; };
  points_.push_back({record.at("step").get<int64_t>(), number("loss"), number("lr")});
}

namespace {

struct Axis {
  double lo, hi;
  bool log;
  double map(double v, double top, double height) const {
    const double a = log ? std::log10(std::max(v, lo)) : v, l = log ? std::log10(lo) : lo, h = log ? std::log10(hi) : hi;
    return top + height * (1.0 - (a - l) / std::max(h - l, 1e-300));
  }
};

Axis axis_for(const std::vector<double>& values, bool allow_log) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) return {0.0, 1.0, false};
  if (hi <= lo) hi = lo + (lo == 0 ? 1.0 : std::fabs(lo) * 0.1);
  return {lo, hi, allow_log && lo > 0 && hi / lo > 10.0};
}

std::string polyline(const std::vector<MetricPoint>& pts, double MetricPoint::*field, const Axis& y, double x0,
                     double width, int64_t first, int64_t last, const char* colour) {
  std::ostringstream s;
  s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
  for (const MetricPoint& p : pts) {
    const double v = p.*field;
    if (!std::isfinite(v)) continue;
    const double x = x0 + width * static_cast<double>(p.step - first) / static_cast<double>(std::max<int64_t>(last - first, 1));
    s << fmt::format("{:.1f},{:.1f} ", x, y.map(v, 30.0, 300.0));
  }
  s << "\"/>\n";
  return s.str();
}

}  // namespace

void write_loss_svg(const fs::path& path, const std::vector<MetricPoint>& points) {
  std::vector<double> losses, lrs;
  for (const MetricPoint& p : points) {
    losses.push_back(p.loss);
    lrs.push_back(p.lr);
  }
  const Axis loss_axis = axis_for(losses, true), lr_axis = axis_for(lrs, false);
  const int64_t first = points.empty() ? 0 : points.front().step, last = points.empty() ? 1 : points.back().step;
  const double x0 = 70, width = 560;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"380\" font-family=\"sans-serif\" "
         "font-size=\"12\">\n<rect width=\"720\" height=\"380\" fill=\"white\"/>\n";
  svg << fmt::format("<rect x=\"{}\" y=\"30\" width=\"{}\" height=\"300\" fill=\"none\" stroke=\"#888\"/>\n", x0, width);
  svg << fmt::format("<text x=\"{}\" y=\"20\" fill=\"#1f77b4\">loss{} ({:.4g} .. {:.4g})</text>\n", x0,
                     loss_axis.log ? ", log scale" : "", loss_axis.lo, loss_axis.hi);
  svg << fmt::format("<text x=\"{}\" y=\"20\" fill=\"#d62728\" text-anchor=\"end\">learning rate ({:.3g} .. {:.3g})</text>\n",
                     x0 + width, lr_axis.lo, lr_axis.hi);
  svg << fmt::format("<text x=\"{}\" y=\"350\">step {}</text>\n", x0, first);
  svg << fmt::format("<text x=\"{}\" y=\"350\" text-anchor=\"end\">step {}</text>\n", x0 + width, last);
  svg << polyline(points, &MetricPoint::loss, loss_axis, x0, width, first, last, "#1f77b4");
  svg << polyline(points, &MetricPoint::lr, lr_axis, x0, width, first, last, "#d62728");
  svg << "</svg>\n";
  io::write_text_atomic(path, svg.str());
}

}  // namespace sv::train
