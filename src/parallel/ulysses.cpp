#include "parallel/ulysses.h"

#include <cstring>
#include <vector>

#include "core/error.h"

namespace sv {

namespace {

void copy_floats(float* dst, const float* src, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

}  // namespace

Tensor ulysses_tokens_to_heads(const Tensor& x, const TokenSplit& split, Communicator& sp) {
  const int n = sp.size(), me = sp.rank();
  SV_CHECK(x.rank() == 4 && x.is_contiguous() && x.dim(1) == split.counts[static_cast<size_t>(me)],
           "ulysses: input {} for {} local tokens", x.describe(), split.counts[static_cast<size_t>(me)]);
  if (n == 1) return x;
  const int64_t b = x.dim(0), sr = x.dim(1), h = x.dim(2), d = x.dim(3);
  SV_CHECK(h % n == 0, "ulysses: {} heads do not split over sp={}", h, n);
  const int64_t hs = h / n;
  // Send block j = this rank's tokens of head block j, laid out [B, S_r, hs, d].
  std::vector<float> send(static_cast<size_t>(x.numel()));
  std::vector<int64_t> send_counts(static_cast<size_t>(n)), recv_counts(static_cast<size_t>(n));
  const float* xp = x.data<float>();
  for (int j = 0; j < n; ++j) {
    float* block = send.data() + static_cast<int64_t>(j) * b * sr * hs * d;
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t s = 0; s < sr; ++s) {
        copy_floats(block + (bi * sr + s) * hs * d, xp + ((bi * sr + s) * h + j * hs) * d, hs * d);
      }
    }
    send_counts[static_cast<size_t>(j)] = b * sr * hs * d;
    recv_counts[static_cast<size_t>(j)] = b * split.counts[static_cast<size_t>(j)] * hs * d;
  }
  const int64_t total = split.total();
  std::vector<float> recv(static_cast<size_t>(b * total * hs * d));
  sp.all_to_allv(send.data(), send_counts, recv.data(), recv_counts);
  Tensor out = Tensor::empty(Shape{b, total, hs, d}, DType::F32);
  float* op = out.data<float>();
  int64_t offset = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t si = split.counts[static_cast<size_t>(i)], first = split.offsets[static_cast<size_t>(i)];
    for (int64_t bi = 0; bi < b; ++bi) {
      copy_floats(op + (bi * total + first) * hs * d, recv.data() + offset + bi * si * hs * d, si * hs * d);
    }
    offset += b * si * hs * d;
  }
  return out;
}

Tensor ulysses_heads_to_tokens(const Tensor& y, const TokenSplit& split, Communicator& sp) {
  const int n = sp.size(), me = sp.rank();
  if (n == 1) return y;
  SV_CHECK(y.rank() == 4 && y.is_contiguous() && y.dim(1) == split.total(),
           "ulysses: input {} for {} tokens", y.describe(), split.total());
  const int64_t b = y.dim(0), total = y.dim(1), hs = y.dim(2), d = y.dim(3);
  const int64_t sr = split.counts[static_cast<size_t>(me)];
  // Send block i = rank i's tokens of this rank's head block, [B, S_i, hs, d].
  std::vector<float> send(static_cast<size_t>(y.numel()));
  std::vector<int64_t> send_counts(static_cast<size_t>(n)), recv_counts(static_cast<size_t>(n));
  const float* yp = y.data<float>();
  int64_t offset = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t si = split.counts[static_cast<size_t>(i)], first = split.offsets[static_cast<size_t>(i)];
    for (int64_t bi = 0; bi < b; ++bi) {
      copy_floats(send.data() + offset + bi * si * hs * d, yp + (bi * total + first) * hs * d, si * hs * d);
    }
    send_counts[static_cast<size_t>(i)] = b * si * hs * d;
    recv_counts[static_cast<size_t>(i)] = b * sr * hs * d;
    offset += b * si * hs * d;
  }
  std::vector<float> recv(static_cast<size_t>(n * b * sr * hs * d));
  sp.all_to_allv(send.data(), send_counts, recv.data(), recv_counts);
  Tensor out = Tensor::empty(Shape{b, sr, hs * n, d}, DType::F32);
  float* op = out.data<float>();
  for (int j = 0; j < n; ++j) {
    const float* block = recv.data() + static_cast<int64_t>(j) * b * sr * hs * d;
    for (int64_t bi = 0; bi < b; ++bi) {
      for (int64_t s = 0; s < sr; ++s) {
        copy_floats(op + ((bi * sr + s) * hs * n + j * hs) * d, block + (bi * sr + s) * hs * d, hs * d);
      }
    }
  }
  return out;
}

Tensor gather_tokens(const Tensor& tokens, const TokenSplit& split, Communicator& sp) {
  const int n = sp.size();
  if (n == 1) return tokens;
  SV_CHECK(tokens.rank() == 3 && tokens.is_contiguous(), "gather_tokens: {}", tokens.describe());
  const int64_t b = tokens.dim(0), f = tokens.dim(2), total = split.total();
  std::vector<int64_t> counts;
  for (int64_t c : split.counts) counts.push_back(b * c * f);
  std::vector<float> recv(static_cast<size_t>(b * total * f));
  sp.all_gatherv(tokens.data<float>(), recv.data(), counts);
  Tensor out = Tensor::empty(Shape{b, total, f}, DType::F32);
  int64_t offset = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t si = split.counts[static_cast<size_t>(i)], first = split.offsets[static_cast<size_t>(i)];
    for (int64_t bi = 0; bi < b; ++bi) {
      copy_floats(out.data<float>() + (bi * total + first) * f, recv.data() + offset + bi * si * f, si * f);
    }
    offset += b * si * f;
  }
  return out;
}

}  // namespace sv
