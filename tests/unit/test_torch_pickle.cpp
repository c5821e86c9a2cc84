// The restricted unpickler on hand-assembled pickles: a minimal state dict in
// the shape torch.save writes, and the things it must refuse.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "io/torch_pickle.h"

namespace sv::io {
namespace {

using namespace std::string_literals;  // pickles hold NUL bytes

std::string u(const std::string& s) {  // BINUNICODE
  std::string out = "X";
  const auto n = static_cast<uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return out + s;
}

// {name: _rebuild_tensor_v2(storage('0', FloatStorage, numel 6), 1, (2, 2), (3, 1), False,
// OrderedDict())} with the memo use torch.save makes.
std::string state_dict_pickle(const std::string& storage_global = "torch\nFloatStorage\n") {
  std::string p = "\x80\x02";
  p += "ccollections\nOrderedDict\nq\x00)Rq\x01("s;
  p += u("w");
  p += "ctorch._utils\n_rebuild_tensor_v2\nq\x02((";
  p += u("storage") + "c" + storage_global + u("0") + u("cpu") + "K\x06tQ";
  p += "K\x01K\x02K\x02\x86K\x03K\x01\x86\x89h\x00)Rt"s;
  p += "R";
  p += "u.";
  return p;
}

TEST(TorchPickle, ReadsAStateDict) {
  const auto out = unpickle_state_dict(state_dict_pickle(), "test.bin");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].first, "w");
  const TorchTensorRecord& t = out[0].second;
  EXPECT_EQ(t.storage_key, "0");
  EXPECT_EQ(t.dtype, DType::F32);
  EXPECT_EQ(t.storage_numel, 6);
  EXPECT_EQ(t.storage_offset, 1);
  EXPECT_EQ(t.sizes, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.strides, (std::vector<int64_t>{3, 1}));
}

TEST(TorchPickle, BFloat16Storage) {
  const auto out = unpickle_state_dict(state_dict_pickle("torch\nBFloat16Storage\n"), "t.bin");
  EXPECT_EQ(out.at(0).second.dtype, DType::BF16);
}

void expect_refused(const std::string& pickle, const std::string& needle) {
  try {
    (void)unpickle_state_dict(pickle, "evil.bin");
    FAIL() << "accepted a pickle that should be refused (" << needle << ")";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("evil.bin"), std::string::npos) << e.what();
  }
}

TEST(TorchPickle, RefusesForeignGlobals) {
  expect_refused("\x80\x02" "cbuiltins\neval\n" + u("1") + "\x85R.", "'builtins.eval'");
  expect_refused("\x80\x02" "cos\nsystem\n" + u("true") + "\x85R.", "'os.system'");
  expect_refused("\x80\x02" + u("subprocess") + u("call") + "\x93.", "'subprocess.call'");
  expect_refused("\x80\x02" "ctorch\nload\n.", "'torch.load'");
}

TEST(TorchPickle, RefusesObjectBuildingOpcodes) {
  expect_refused("\x80\x02(cbuiltins\nobject\n" "o.", "'builtins.object'");
  expect_refused("\x80\x02(i__main__\nX\n.", "opcode 0x69");
  expect_refused("\x80\x02\x82\x01.", "opcode 0x82");  // EXT1
}

TEST(TorchPickle, RefusesNonStateDicts) {
  // A state dict whose value is a string, not a tensor.
  EXPECT_THROW((void)unpickle_state_dict("\x80\x02}" + u("a") + u("b") + "s.", "x.bin"),
               CheckpointError);
  // A list at the top level.
  EXPECT_THROW((void)unpickle_state_dict("\x80\x02]." , "x.bin"), CheckpointError);
  // Truncated.
  const std::string good = state_dict_pickle();
  EXPECT_THROW((void)unpickle_state_dict(good.substr(0, good.size() / 2), "x.bin"),
               CheckpointError);
  // Float64 storages have no dtype here: refused by name.
  expect_refused(state_dict_pickle("torch\nDoubleStorage\n"), "DoubleStorage");
}

TEST(TorchPickle, RefusesUnboundedNesting) {
  std::string p = "\x80\x02";
  for (int i = 0; i < 200; ++i) p += "]";
  for (int i = 0; i < 199; ++i) p += "a";
  p += ".";
  expect_refused(p, "nesting");
}

}  // namespace
}  // namespace sv::io
