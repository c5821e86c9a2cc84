// TensorBoard event files: CRC-32C against its published check value, and the
// TFRecord framing of what the writer leaves on disk, re-checked here with
// the masking written out independently of the writer. Decoding the events
// themselves is tests/train/read_tfevents.py's job (no shared code).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/crc32c.h"
#include "core/error.h"
#include "train/tensorboard_writer.h"

namespace sv {
namespace {

namespace fs = std::filesystem;

class TensorBoardWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("stepvideo_tb_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint64_t le(const std::string& bytes, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[at + static_cast<size_t>(i)]);
  return v;
}

uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// Splits a TFRecord file into payloads, failing the test on a bad CRC or a
// record that runs past the end.
std::vector<std::string> records(const std::string& bytes) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_LE(pos + 12, bytes.size()) << "truncated header at " << pos;
    if (pos + 12 > bytes.size()) break;
    const uint64_t length = le(bytes, pos, 8);
    EXPECT_EQ(le(bytes, pos + 8, 4), masked(crc32c(bytes.data() + pos, 8))) << "length CRC at " << pos;
    EXPECT_LE(pos + 12 + length + 4, bytes.size()) << "record at " << pos << " runs past the end";
    if (pos + 12 + length + 4 > bytes.size()) break;
    std::string data = bytes.substr(pos + 12, length);
    EXPECT_EQ(le(bytes, pos + 12 + length, 4), masked(crc32c(data))) << "data CRC at " << pos;
    out.push_back(std::move(data));
    pos += 12 + length + 4;
  }
  return out;
}

TEST(Crc32c, CheckValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720, B.4
  EXPECT_EQ(crc32c_extend(crc32c("12345"), "6789", 4), 0xE3069283u);  // in pieces
}

TEST_F(TensorBoardWriterTest, WritesTheVersionEventThenOneRecordPerScalar) {
  fs::path path;
  {
    train::TensorBoardWriter writer(dir_ / "nested");  // created on the way
    writer.add_scalar("loss", 0.75, 0, 1700000000.0);
    writer.add_scalar("loss", 0.0, 1, 1700000001.0);
    writer.add_scalar("train/lr", 1e-4, 2, 1700000002.0);
    writer.flush();
    path = writer.path();
  }
  EXPECT_EQ(path.parent_path(), dir_ / "nested");
  const std::string name = path.filename().string();
  EXPECT_TRUE(name.starts_with("events.out.tfevents.")) << name;
  EXPECT_TRUE(name.ends_with(fmt::format(".{}", ::getpid()))) << name;  // the first file: no suffix

  const std::string bytes = read_file(path);
  // The version event's 24 bytes give the header every event file starts with.
  ASSERT_GE(bytes.size(), 12u);
  EXPECT_EQ(le(bytes, 0, 8), 24u);
  EXPECT_EQ(le(bytes, 8, 4), 0x224b7fa3u);
  const std::vector<std::string> payloads = records(bytes);
  ASSERT_EQ(payloads.size(), 4u);
  EXPECT_NE(payloads[0].find("brain.Event:2"), std::string::npos);
  EXPECT_NE(payloads[1].find("loss"), std::string::npos);
  EXPECT_NE(payloads[3].find("train/lr"), std::string::npos);
}

TEST_F(TensorBoardWriterTest, EveryStartGetsItsOwnFile) {
  train::TensorBoardWriter first(dir_);
  train::TensorBoardWriter second(dir_);
  EXPECT_NE(first.path(), second.path());
  first.add_scalar("a", 1.0, 0, 1.0);
  first.flush();
  EXPECT_EQ(records(read_file(first.path())).size(), 2u);
  EXPECT_EQ(records(read_file(second.path())).size(), 1u);
}

TEST_F(TensorBoardWriterTest, AnUnusableDirectoryIsAnInputError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "not a directory";
  try {
    train::TensorBoardWriter writer(dir_ / "file" / "logs");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find((dir_ / "file" / "logs").string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sv
