// The parallel layout of a run, --layout tp=T,sp=S,pp=P,cfg=C[,dp=D], and the pure
// function placing a world rank in it (DESIGN.md section 5). World ranks are
// ordered dp x cfg x pp x sp x tp with tp innermost, so tensor-parallel ranks
// are neighbours (the same node under a block rank mapping).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sv {

struct Layout {
  int tp = 1, sp = 1, pp = 1, cfg = 1;
  // Data-parallel replicas as the user wrote them; 0 (not given): whatever the
  // world leaves, world / (tp*sp*pp*cfg). Only check_data_parallel reads it.
  int dp = 0;

  // "tp=2,sp=2" (any order, each key at most once, missing keys are 1, a
  // missing dp is 0); "" is all ones.
  static Layout parse(std::string_view text);
  int model_parallel_size() const { return tp * sp * pp * cfg; }
  std::string str() const;  // "tp=2,sp=1,pp=1,cfg=1"
  bool operator==(const Layout&) const = default;
};

struct RankCoords {
  int dp = 0, cfg = 0, pp = 0, sp = 0, tp = 0;
  bool operator==(const RankCoords&) const = default;
};

// Throws ConfigError naming the violated rule: world divisible by the
// model-parallel size, tp x sp divides the head count, pp <= layers, cfg in {1, 2}.
void validate_layout(const Layout& layout, int world_size, int64_t heads, int64_t layers);
int data_parallel_size(const Layout& layout, int world_size);
// A given dp must be exactly world / (tp*sp*pp*cfg): ConfigError naming both
// otherwise (the commands report it as a usage error).
void check_data_parallel(const Layout& layout, int world_size);
RankCoords rank_coords(const Layout& layout, int world_size, int rank);
int rank_of(const Layout& layout, int world_size, const RankCoords& coords);

}  // namespace sv
