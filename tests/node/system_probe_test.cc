#include "veil/node/system_probe.h"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace veil::node {
namespace {

class FakeProc : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("veil-proc-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
    write_stat(1000, 0);
    write("meminfo", "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8388608 kB\n");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  void write(const std::string& name, const std::string& text) { std::ofstream(root_ / name) << text; }
  // Four CPUs; `idle` and `busy` are the aggregate jiffies.
  void write_stat(std::uint64_t idle, std::uint64_t busy) {
    write("stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) +
                      " 0 0 0 0 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\n"
                      "cpu2 1 0 0 1 0 0 0 0 0 0\ncpu3 1 0 0 1 0 0 0 0 0 0\nintr 0\n");
  }
  SystemProbe::Options options() {
    SystemProbe::Options o;
    o.proc_root = root_;
    o.disk_path = root_;
    o.nvidia_smi = "";
    return o;
  }

  std::filesystem::path root_;
};

TEST_F(FakeProc, CpuIsTheIdleShareSinceTheLastSampleTimesTheCpuCount) {
  SystemProbe probe(options());
  EXPECT_EQ(probe.cpu_count(), 4u);
  write_stat(1000 + 300, 100);  // 300 idle of 400 ticks: 75% of 4 CPUs
  auto free = probe.sample();
  ASSERT_TRUE(free.ok()) << free.status().to_string();
  EXPECT_EQ(free->cpu_millicores, 3000u);
  EXPECT_EQ(free->memory_mib, 8192u);
  EXPECT_GT(free->disk_mib, 0u);
  EXPECT_EQ(free->gpus, 0u);
  write_stat(1300, 500);  // fully busy since the last sample
  EXPECT_EQ(probe.sample()->cpu_millicores, 0u);
}

TEST_F(FakeProc, DeclaredCapacityCapsEveryMeasurement) {
  auto o = options();
  o.cap.cpu_millicores = 500;
  o.cap.memory_mib = 1024;
  o.cap.disk_mib = 10;
  o.cap.gpus = 0;
  SystemProbe probe(o);
  write_stat(2000, 0);
  auto free = probe.sample();
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(free->cpu_millicores, 500u);
  EXPECT_EQ(free->memory_mib, 1024u);
  EXPECT_EQ(free->disk_mib, 10u);
}

TEST_F(FakeProc, MissingOrMalformedFilesAreNamed) {
  SystemProbe probe(options());
  write("meminfo", "MemTotal: 1 kB\n");
  auto no_available = probe.sample();
  ASSERT_FALSE(no_available.ok());
  EXPECT_NE(no_available.status().message().find("MemAvailable"), std::string::npos);
  std::filesystem::remove(root_ / "stat");
  auto no_stat = probe.sample();
  ASSERT_FALSE(no_stat.ok());
  EXPECT_NE(no_stat.status().message().find("stat"), std::string::npos);
}

TEST_F(FakeProc, GpusAreCountedFromNvidiaSmiListing) {
  // A stand-in for nvidia-smi that lists two devices, as `nvidia-smi -L` does.
  const auto tool = root_ / "nvidia-smi";
  std::ofstream(tool) << "#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-1)'\necho 'GPU 1: NVIDIA H100 (UUID: GPU-2)'\n";
  std::filesystem::permissions(tool, std::filesystem::perms::owner_all);
  auto o = options();
  o.nvidia_smi = tool.string();
  SystemProbe probe(o);
  EXPECT_EQ(probe.sample()->gpus, 2u);
  o.nvidia_smi = (root_ / "absent").string();
  SystemProbe none(o);
  EXPECT_EQ(none.sample()->gpus, 0u);
}

TEST(SystemProbe, ReadsThisMachine) {
  SystemProbe probe({});
  ::usleep(50'000);
  auto free = probe.sample();
  ASSERT_TRUE(free.ok()) << free.status().to_string();
  EXPECT_GE(probe.cpu_count(), 1u);
  EXPECT_LE(free->cpu_millicores, probe.cpu_count() * 1000);
  EXPECT_GT(free->memory_mib, 0u);
  EXPECT_GT(free->disk_mib, 0u);
}

}  // namespace
}  // namespace veil::node
