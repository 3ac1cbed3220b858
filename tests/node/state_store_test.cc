#include "veil/node/state_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace veil::node {
namespace {

namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("veil-store-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(StateStoreTest, PutGetAllEraseSurviveReopen) {
  {
    auto store = StateStore::open(dir_ / "state.db");
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    ASSERT_TRUE((*store)->put(kJobDoc, "b", {{"name", "web"}}).ok());
    ASSERT_TRUE((*store)->put(kJobDoc, "a", {{"name", "db"}}).ok());
    ASSERT_TRUE((*store)->put(kJobDoc, "a", {{"name", "db2"}}).ok());
    ASSERT_TRUE((*store)->put(kAnchorDoc, "a/1", {{"state", "pending"}}).ok());
    ASSERT_TRUE((*store)->add_event("a", 5, "submitted").ok());
    ASSERT_TRUE((*store)->add_event("a", 6, "placed").ok());
  }
  auto store = StateStore::open(dir_ / "state.db");
  ASSERT_TRUE(store.ok());
  auto jobs = (*store)->all(kJobDoc);
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0]["name"], "db2");
  EXPECT_EQ((*jobs)[1]["name"], "web");
  auto missing = (*store)->get(kJobDoc, "zzz");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto events = (*store)->events("a");
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[1].message, "placed");
  ASSERT_TRUE((*store)->erase(kJobDoc, "a").ok());
  EXPECT_EQ((*store)->all(kJobDoc)->size(), 1u);
  EXPECT_EQ((*store)->all(kAnchorDoc)->size(), 1u);
}

TEST_F(StateStoreTest, RefusesAFileThatIsNotOurs) {
  {
    std::FILE* f = std::fopen((dir_ / "junk.db").c_str(), "w");
    std::fputs("this is not sqlite at all, just text that is long enough to look like a header", f);
    std::fclose(f);
  }
  auto store = StateStore::open(dir_ / "junk.db");
  EXPECT_FALSE(store.ok());
  EXPECT_FALSE(StateStore::open(dir_ / "no-such-dir" / "x.db").ok());
}

// A writer killed with SIGKILL right after put() returned loses nothing it was told was written.
TEST_F(StateStoreTest, WritesSurviveSigkill) {
  const fs::path file = dir_ / "state.db";
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipefd[0]);
    auto store = StateStore::open(file);
    if (!store.ok()) ::_exit(3);
    for (int i = 0;; ++i) {
      if (!(*store)->put(kJobDoc, std::to_string(1000000 + i), {{"i", i}}).ok()) ::_exit(4);
      if (::write(pipefd[1], &i, sizeof i) != sizeof i) ::_exit(5);
    }
  }
  ::close(pipefd[1]);
  int last = -1, value;
  while (last < 200 && ::read(pipefd[0], &value, sizeof value) == sizeof value) last = value;
  ::kill(child, SIGKILL);
  int status;
  ::waitpid(child, &status, 0);
  ::close(pipefd[0]);
  ASSERT_GE(last, 200);
  auto store = StateStore::open(file);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto jobs = (*store)->all(kJobDoc);
  ASSERT_TRUE(jobs.ok());
  EXPECT_GE(static_cast<int>(jobs->size()), last + 1) << "every acknowledged write must be durable";
  for (int i = 0; i <= last; ++i) EXPECT_TRUE((*store)->get(kJobDoc, std::to_string(1000000 + i)).ok()) << i;
}

}  // namespace
}  // namespace veil::node
