// safetensors reading/writing, sharded checkpoints, and the errors a user sees
// for broken weight files: each must be a CheckpointError naming the file and,
// where one is at fault, the tensor.
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;
using sv::CheckpointError;
using sv::DType;
using sv::Shape;
using sv::Tensor;
using sv::io::Checkpoint;
using sv::io::SafetensorsFile;
using sv::io::write_safetensors;

namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("sv_safetensors_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

// A file with a hand-written header, for inputs write_safetensors refuses to make.
void write_raw(const fs::path& path, const std::string& header, size_t data_bytes,
               uint64_t declared_len = UINT64_MAX) {
  const uint64_t len = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
  out << header << std::string(data_bytes, '\0');
}

// Expects open() to throw a CheckpointError whose message contains every part.
template <class F>
void expect_checkpoint_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL() << "no CheckpointError thrown";
  } catch (const CheckpointError& e) {
    for (const auto& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' lacks '" << part << "'";
    }
  }
}

Tensor bool_tensor(const std::vector<uint8_t>& v) {
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(v.size())}, DType::Bool);
  std::memcpy(t.raw_data(), v.data(), v.size());
  return t;
}

}  // namespace

TEST_F(SafetensorsTest, RoundTripAllDtypes) {
  const fs::path p = dir_ / "model.safetensors";
  const Tensor f = Tensor::from_vector<float>({1.f, -2.5f, 3.f, 4.f, 5.f, 6.f}, Shape{2, 3});
  const Tensor bf = Tensor::from_vector<float>({0.5f, -1.f, 3.f}, Shape{3}).to(DType::BF16);
  const Tensor i = Tensor::from_vector<int64_t>({7, -8, int64_t{1} << 40}, Shape{3, 1});
  const Tensor b = bool_tensor({1, 0, 1});
  const Tensor scalar = Tensor::from_vector<float>({42.f}, Shape{1});
  const Tensor empty = Tensor::empty(Shape{0, 4}, DType::F32);
  // A transposed view: the writer must store it row-major.
  const Tensor strided = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3}).slice(1, 1, 3);
  write_safetensors(p,
                    {{"w.f32", f}, {"w.bf16", bf}, {"w.i64", i}, {"mask", b}, {"s", scalar},
                     {"empty", empty}, {"strided", strided}},
                    {{"format", "pt"}});
  EXPECT_FALSE(fs::exists(p.string() + ".tmp." + std::to_string(::getpid())));

  const auto file = SafetensorsFile::open(p);
  EXPECT_EQ(file->path(), p);
  EXPECT_EQ(file->tensors().size(), 7u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->file_size(), fs::file_size(p));
  EXPECT_EQ((file->header_json().size()) % 8, 0u);
  EXPECT_EQ(file->find("nope"), nullptr);
  for (size_t k = 1; k < file->tensors().size(); ++k) {
    EXPECT_LE(file->tensors()[k - 1].data_begin, file->tensors()[k].data_begin);
  }

  const Tensor f2 = file->tensor("w.f32");
  EXPECT_EQ(f2.shape(), (Shape{2, 3}));
  EXPECT_EQ(f2.dtype(), DType::F32);
  EXPECT_EQ(std::memcmp(f2.raw_data(), f.raw_data(), f.nbytes()), 0);
  const Tensor bf2 = file->tensor("w.bf16");
  EXPECT_EQ(bf2.dtype(), DType::BF16);
  EXPECT_EQ(bf2.to(DType::F32).data<float>()[1], -1.f);
  const Tensor i2 = file->tensor("w.i64");
  EXPECT_EQ(i2.shape(), (Shape{3, 1}));
  EXPECT_EQ(i2.data<int64_t>()[2], int64_t{1} << 40);
  const Tensor b2 = file->tensor("mask");
  EXPECT_EQ(b2.dtype(), DType::Bool);
  EXPECT_EQ(static_cast<const uint8_t*>(b2.raw_data())[1], 0);
  EXPECT_EQ(static_cast<const uint8_t*>(b2.raw_data())[2], 1);
  EXPECT_EQ(file->tensor("s").data<float>()[0], 42.f);
  EXPECT_EQ(file->tensor("empty").shape(), (Shape{0, 4}));
  const Tensor s2 = file->tensor("strided");
  EXPECT_EQ(s2.shape(), (Shape{2, 2}));
  EXPECT_EQ(s2.data<float>()[0], 2.f);
  EXPECT_EQ(s2.data<float>()[3], 6.f);
  expect_checkpoint_error([&] { file->tensor("nope"); }, {p.string(), "'nope'"});
}

TEST_F(SafetensorsTest, ViewOutlivesFileObject) {
  const fs::path p = dir_ / "a.safetensors";
  write_safetensors(p, {{"x", Tensor::full(Shape{4}, 1.5f)}});
  Tensor view;
  {
    const auto file = SafetensorsFile::open(p);
    view = file->tensor("x");
  }
  EXPECT_EQ(view.data<float>()[3], 1.5f);
}

TEST_F(SafetensorsTest, NonExistentPath) {
  const fs::path p = dir_ / "missing.safetensors";
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string() + ": no such file"});
  expect_checkpoint_error([&] { Checkpoint::open(p); }, {p.string(), "no such file"});
}

TEST_F(SafetensorsTest, TruncatedData) {
  const fs::path p = dir_ / "model.safetensors";
  write_safetensors(p, {{"a", Tensor::full(Shape{4}, 1.f)}, {"x.weight", Tensor::full(Shape{8}, 2.f)}});
  fs::resize_file(p, fs::file_size(p) - 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "'x.weight'", "[16, 48]", "44 bytes", "truncated"});
}

TEST_F(SafetensorsTest, TruncatedHeader) {
  const fs::path p = dir_ / "model.safetensors";
  write_safetensors(p, {{"x.weight", Tensor::full(Shape{8}, 2.f)}});
  fs::resize_file(p, 20);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "exceeds the file size", "truncated"});
  fs::resize_file(p, 5);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "too short"});
}

TEST_F(SafetensorsTest, OffsetsOutsideFile) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, R"({"x.weight":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})", 64);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "'x.weight'", "[0, 100]", "data region is 64 bytes"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, R"({"q":{"dtype":"Q8","shape":[4],"data_offsets":[0,4]}})", 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "'q'", "unknown dtype \"Q8\""});
}

TEST_F(SafetensorsTest, SizeMismatch) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,24]}})", 24);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "'w'", "BF16[2, 3] = 12 bytes", "span 24 bytes"});
}

TEST_F(SafetensorsTest, BadShapeAndOffsets) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "'w'", "shape"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "'w'", "begin after end"});
  write_raw(p, R"({"w":{"dtype":"F32","shape":[1]}})", 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "'w'", "data_offsets"});
  write_raw(p, R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "'w'", "dtype"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p,
            R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
            R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
            24);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsTest, HeaderLengthBeyondFile) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, R"({})", 0, 1000);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); },
                          {p.string(), "header length 1000", "exceeds the file size"});
  write_raw(p, R"({})", 0, uint64_t{1} << 40);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "implausible"});
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  const fs::path p = dir_ / "bad.safetensors";
  write_raw(p, "{\"a\": nope}", 0);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "not valid JSON"});
  write_raw(p, "[1, 2]  ", 0);
  expect_checkpoint_error([&] { SafetensorsFile::open(p); }, {p.string(), "JSON object"});
}

TEST_F(SafetensorsTest, WriterRefusesDuplicates) {
  const fs::path p = dir_ / "out.safetensors";
  EXPECT_THROW(write_safetensors(p, {{"x", Tensor::full(Shape{1}, 1.f)},
                                     {"x", Tensor::full(Shape{1}, 2.f)}}),
               sv::InputError);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_THROW(write_safetensors(dir_ / "no_dir" / "out.safetensors",
                                 {{"x", Tensor::full(Shape{1}, 1.f)}}),
               sv::InputError);
}

// The upstream layout: shards plus an index mapping each tensor to its shard.
void write_sharded(const fs::path& dir) {
  write_safetensors(dir / "m-00001-of-00002.safetensors",
                    {{"a.weight", Tensor::full(Shape{2, 2}, 1.f)},
                     {"a.bias", Tensor::full(Shape{2}, 2.f)}});
  write_safetensors(dir / "m-00002-of-00002.safetensors",
                    {{"b.weight", Tensor::full(Shape{3}, 3.f)},
                     {"unlisted", Tensor::full(Shape{1}, 9.f)}});
  std::ofstream(dir / "m.safetensors.index.json")
      << R"({"metadata": {"total_size": 36}, "weight_map": {)"
      << R"("a.weight": "m-00001-of-00002.safetensors", "a.bias": "m-00001-of-00002.safetensors",)"
      << R"("b.weight": "m-00002-of-00002.safetensors"}})";
}

TEST_F(SafetensorsTest, ShardedIndexRoundTrip) {
  write_sharded(dir_);
  for (const fs::path& p : {dir_ / "m.safetensors.index.json", dir_}) {
    const Checkpoint c = Checkpoint::open(p);
    EXPECT_EQ(c.names(), (std::vector<std::string>{"a.bias", "a.weight", "b.weight"}));
    EXPECT_EQ(c.files().size(), 2u);
    EXPECT_EQ(c.find("unlisted"), nullptr);
    EXPECT_EQ(c.tensor("b.weight").data<float>()[2], 3.f);
    EXPECT_EQ(c.tensor("a.weight").shape(), (Shape{2, 2}));
    EXPECT_EQ(c.file_of("a.bias").path().filename(), "m-00001-of-00002.safetensors");
    expect_checkpoint_error([&] { c.tensor("nope"); }, {p.string(), "'nope'"});
  }
}

TEST_F(SafetensorsTest, IndexWithMissingShard) {
  write_sharded(dir_);
  fs::remove(dir_ / "m-00002-of-00002.safetensors");
  const fs::path index = dir_ / "m.safetensors.index.json";
  expect_checkpoint_error([&] { Checkpoint::open(index); },
                          {index.string(), "m-00002-of-00002.safetensors", "'b.weight'",
                           "not found"});
}

TEST_F(SafetensorsTest, IndexListsTensorNotInShard) {
  write_sharded(dir_);
  std::ofstream(dir_ / "m.safetensors.index.json")
      << R"({"weight_map": {"ghost": "m-00001-of-00002.safetensors"}})";
  expect_checkpoint_error([&] { Checkpoint::open(dir_ / "m.safetensors.index.json"); },
                          {"m.safetensors.index.json", "'ghost'", "m-00001-of-00002.safetensors"});
}

TEST_F(SafetensorsTest, DirectoryOfFiles) {
  write_safetensors(dir_ / "b.safetensors", {{"y", Tensor::full(Shape{1}, 2.f)}});
  write_safetensors(dir_ / "a.safetensors", {{"x", Tensor::full(Shape{1}, 1.f)}});
  const Checkpoint c = Checkpoint::open(dir_);
  ASSERT_EQ(c.files().size(), 2u);
  EXPECT_EQ(c.files()[0]->path().filename(), "a.safetensors");
  EXPECT_EQ(c.tensor("y").data<float>()[0], 2.f);
}

TEST_F(SafetensorsTest, DirectoryWithDuplicateTensor) {
  write_safetensors(dir_ / "a.safetensors", {{"x.weight", Tensor::full(Shape{1}, 1.f)}});
  write_safetensors(dir_ / "b.safetensors", {{"x.weight", Tensor::full(Shape{1}, 2.f)}});
  expect_checkpoint_error([&] { Checkpoint::open(dir_); },
                          {"'x.weight'", "a.safetensors", "b.safetensors"});
}

TEST_F(SafetensorsTest, EmptyDirectory) {
  expect_checkpoint_error([&] { Checkpoint::open(dir_); }, {dir_.string(), "no *.safetensors"});
}

TEST_F(SafetensorsTest, JsonConfigAccessors) {
  const fs::path p = dir_ / "config.json";
  std::ofstream(p) << R"({"num_layers": 48, "name": "abc", "eps": 1e-6, "dims": [1, 2],
                          "big": 10000000000, "neg": -1, "nothing": null})";
  const auto cfg = sv::io::read_json_file(p);
  EXPECT_EQ(sv::io::json_require<int>(cfg, "num_layers", p), 48);
  EXPECT_EQ(sv::io::json_require<std::string>(cfg, "name", p), "abc");
  EXPECT_DOUBLE_EQ(sv::io::json_require<double>(cfg, "eps", p), 1e-6);
  EXPECT_EQ(sv::io::json_require<std::vector<int>>(cfg, "dims", p), (std::vector<int>{1, 2}));
  EXPECT_EQ(sv::io::json_optional<int>(cfg, "absent", p, 7), 7);
  EXPECT_EQ(sv::io::json_optional<int>(cfg, "nothing", p, 8), 8);
  auto config_error = [](auto&& f, const std::string& want) {
    try {
      f();
      ADD_FAILURE() << "no ConfigError";
    } catch (const sv::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), want);
    }
  };
  const std::string ps = p.string();
  config_error([&] { sv::io::json_require<int>(cfg, "layers", p); }, ps + ": missing key 'layers'");
  config_error([&] { sv::io::json_require<int>(cfg, "name", p); },
               ps + ": key 'name' should be an integer, got \"abc\"");
  config_error([&] { sv::io::json_require<int>(cfg, "big", p); },
               ps + ": key 'big' should be an integer between -2147483648 and 2147483647, got "
                    "10000000000");
  config_error([&] { sv::io::json_require<unsigned>(cfg, "neg", p); },
               ps + ": key 'neg' should be a non-negative integer, got -1");
  config_error([&] { sv::io::json_optional<bool>(cfg, "eps", p, false); },
               ps + ": key 'eps' should be a boolean, got 1e-06");
  config_error([&] { sv::io::read_json_file(dir_ / "none.json"); },
               (dir_ / "none.json").string() + ": no such file");
  std::ofstream(dir_ / "broken.json") << "{\"a\": 1,\n \"b\": }";
  EXPECT_THROW(sv::io::read_json_file(dir_ / "broken.json"), sv::ConfigError);
}
