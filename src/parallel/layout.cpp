#include "parallel/layout.h"

#include <charconv>

#include <fmt/format.h>

#include "core/error.h"

namespace sv {

Layout Layout::parse(std::string_view text) {
  Layout l;
  bool seen[5] = {false, false, false, false, false};
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t eq = item.find('=');
    SV_CHECK_AS(ConfigError, eq != std::string_view::npos,
                "layout item '{}' should be key=value (keys: tp, sp, pp, cfg, dp)", item);
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    int v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    SV_CHECK_AS(ConfigError, ec == std::errc() && end == value.data() + value.size() && v >= 1,
                "layout value '{}' for {} should be a positive integer", value, key);
    int* slot = nullptr;
    int index = 0;
    if (key == "tp") slot = &l.tp, index = 0;
    else if (key == "sp") slot = &l.sp, index = 1;
    else if (key == "pp") slot = &l.pp, index = 2;
    else if (key == "cfg") slot = &l.cfg, index = 3;
    else if (key == "dp") slot = &l.dp, index = 4;
    SV_CHECK_AS(ConfigError, slot, "unknown layout key '{}' (keys: tp, sp, pp, cfg, dp)", key);
    SV_CHECK_AS(ConfigError, !seen[index], "layout key '{}' given twice", key);
    seen[index] = true;
    *slot = v;
  }
  return l;
}

std::string Layout::str() const { return fmt::format("tp={},sp={},pp={},cfg={}", tp, sp, pp, cfg); }

void validate_layout(const Layout& l, int world_size, int64_t heads, int64_t layers) {
  SV_CHECK_AS(ConfigError, world_size % l.model_parallel_size() == 0,
              "layout {} needs a multiple of tp*sp*pp*cfg = {} ranks, the world has {}", l.str(),
              l.model_parallel_size(), world_size);
  SV_CHECK_AS(ConfigError, heads % (static_cast<int64_t>(l.tp) * l.sp) == 0,
              "layout {}: tp x sp = {} must divide the {} attention heads", l.str(), l.tp * l.sp,
              heads);
  SV_CHECK_AS(ConfigError, l.pp <= layers, "layout {}: pp = {} exceeds the {} transformer layers",
              l.str(), l.pp, layers);
  SV_CHECK_AS(ConfigError, l.cfg == 1 || l.cfg == 2,
              "layout {}: cfg must be 1 or 2 (the prompt and negative branches)", l.str());
}

int data_parallel_size(const Layout& l, int world_size) {
  return world_size / l.model_parallel_size();
}

void check_data_parallel(const Layout& l, int world_size) {
  if (l.dp == 0) return;
  SV_CHECK_AS(ConfigError, static_cast<int64_t>(l.dp) * l.model_parallel_size() == world_size,
              "layout {},dp={}: dp must be world / (tp*sp*pp*cfg) = {} / {} ranks{}", l.str(), l.dp, world_size,
              l.model_parallel_size(),
              world_size % l.model_parallel_size() == 0
                  ? fmt::format(" = {} (or leave dp out)", world_size / l.model_parallel_size())
                  : std::string(", which does not divide"));
}

RankCoords rank_coords(const Layout& l, int world_size, int rank) {
  SV_CHECK(rank >= 0 && rank < world_size && world_size % l.model_parallel_size() == 0,
           "rank {} of {} does not fit layout {}", rank, world_size, l.str());
  RankCoords c;
  c.tp = rank % l.tp;
  rank /= l.tp;
  c.sp = rank % l.sp;
  rank /= l.sp;
  c.pp = rank % l.pp;
  rank /= l.pp;
  c.cfg = rank % l.cfg;
  c.dp = rank / l.cfg;
  return c;
}

int rank_of(const Layout& l, int world_size, const RankCoords& c) {
  SV_CHECK(world_size % l.model_parallel_size() == 0, "world {} does not fit layout {}",
           world_size, l.str());
  return (((c.dp * l.cfg + c.cfg) * l.pp + c.pp) * l.sp + c.sp) * l.tp + c.tp;
}

}  // namespace sv
