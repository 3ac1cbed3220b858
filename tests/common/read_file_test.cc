#include "veil/common/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>

namespace veil {
namespace {

constexpr FileLimit kSmall{"test file", 16};

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("veil-read-file-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& bytes) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(ReadFileTest, ReadsAWholeFileUpToTheLimit) {
  const std::string bytes("exactly 16 bytes");
  ASSERT_EQ(bytes.size(), kSmall.max_bytes);
  auto text = read_file(write("ok", bytes), kSmall);
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  EXPECT_EQ(*text, bytes);
  auto raw = read_file_bytes(write("bin", std::string("\0\xff\x01", 3)), kSmall);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, (Bytes{0x00, 0xff, 0x01}));
  auto empty = read_file(write("empty", ""), kSmall);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(ReadFileTest, RefusesAFileOverTheLimitNamingFileAndLimit) {
  const auto path = write("big", std::string(17, 'x'));
  auto text = read_file(path, kSmall);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(text.status().message().find("test file " + path.string()), std::string::npos)
      << text.status().message();
  EXPECT_NE(text.status().message().find("at most 16 bytes"), std::string::npos) << text.status().message();
}

// /proc files say they are empty: the limit must hold without trusting the size fstat gives.
TEST_F(ReadFileTest, ReadsFilesThatUnderstateTheirSizeAndStillStopsAtTheLimit) {
  auto status = read_file("/proc/self/status", {"proc file", 1 * kMiB});
  ASSERT_TRUE(status.ok()) << status.status().to_string();
  EXPECT_NE(status->find("Name:"), std::string::npos);
  auto small = read_file("/proc/self/status", kSmall);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), StatusCode::kOutOfRange);
}

TEST_F(ReadFileTest, RefusesDevicesWithoutReadingThem) {
  // /dev/zero never ends: reading it whole would grow until memory runs out.
  auto zero = read_file("/dev/zero", kSmall);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(zero.status().message().find("/dev/zero is a character device"), std::string::npos)
      << zero.status().message();
}

TEST_F(ReadFileTest, RefusesAFifoWithoutBlockingOnIt) {
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // No writer ever opens it: a plain open() for reading would block here forever.
  auto text = read_file(fifo, kSmall);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("is a FIFO"), std::string::npos) << text.status().message();
}

TEST_F(ReadFileTest, RefusesADirectory) {
  auto text = read_file(dir_, kSmall);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("is a directory"), std::string::npos) << text.status().message();
}

TEST_F(ReadFileTest, MissingFileIsNotFound) {
  auto text = read_file(dir_ / "absent", kSmall);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kNotFound);
  EXPECT_NE(text.status().message().find("test file " + (dir_ / "absent").string()), std::string::npos);
}

TEST_F(ReadFileTest, NamesThePathEscaped) {
  auto text = read_file(dir_ / "bad\x1b[2Jname", kSmall);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().message().find('\x1b'), std::string::npos) << text.status().message();
  EXPECT_NE(text.status().message().find("bad\\x1b[2Jname"), std::string::npos) << text.status().message();
}

TEST(FormatByteSize, UsesTheLargestWholeUnit) {
  EXPECT_EQ(format_byte_size(kMiB), "1 MiB");
  EXPECT_EQ(format_byte_size(64 * kKiB), "64 KiB");
  EXPECT_EQ(format_byte_size(4 * kGiB), "4 GiB");
  EXPECT_EQ(format_byte_size(100 * kMiB), "100 MiB");
  EXPECT_EQ(format_byte_size(1000), "1000 bytes");
}

}  // namespace
}  // namespace veil
