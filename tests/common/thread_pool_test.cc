#include "veil/common/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(ThreadPool, SubmitReturnsResults) {
  ThreadPool pool(2);
  auto a = pool.submit([] { return 6 * 7; });
  auto b = pool.submit([] { return std::string("veil"); });
  EXPECT_EQ(a.get(), 42);
  EXPECT_EQ(b.get(), "veil");
}

TEST(ThreadPool, SubmitPropagatesExceptions) {
  ThreadPool pool(1);
  auto f = pool.submit([]() -> int { throw std::runtime_error("boom"); });
  EXPECT_THROW(f.get(), std::runtime_error);
}

TEST(ThreadPool, ParallelForVisitsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(0, hits.size(), [&](std::size_t i) { hits[i].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, ParallelForEmptyAndSingleRanges) {
  ThreadPool pool(2);
  int calls = 0;
  pool.parallel_for(5, 5, [&](std::size_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  pool.parallel_for(5, 6, [&](std::size_t i) { calls += static_cast<int>(i); });
  EXPECT_EQ(calls, 5);
}

// A pool's size is the number of threads that compute a parallel_for, the caller among them:
// --threads T / VEIL_THREADS=T must mean T, not T + 1.
TEST(ThreadPool, ParallelForComputesOnAtMostSizeThreads) {
  for (std::size_t size : {1u, 2u, 3u}) {
    ThreadPool pool(size);
    std::atomic<int> running{0}, most{0};
    std::mutex mutex;
    std::set<std::thread::id> threads;
    pool.parallel_for(0, 48, [&](std::size_t) {
      const int now = running.fetch_add(1) + 1;
      for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
      }
      {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      running.fetch_sub(1);
    });
    EXPECT_LE(most.load(), static_cast<int>(size)) << "pool of " << size;
    EXPECT_LE(threads.size(), size) << "pool of " << size;
    if (size == 1) {
      EXPECT_EQ(*threads.begin(), std::this_thread::get_id());
    }
  }
}

TEST(ThreadPool, NestedParallelForOnASingleWorkerDoesNotDeadlock) {
  ThreadPool pool(1);
  std::atomic<int> total{0};
  pool.parallel_for(0, 4, [&](std::size_t) {
    pool.parallel_for(0, 10, [&](std::size_t) { total.fetch_add(1); });
  });
  EXPECT_EQ(total.load(), 40);
}

TEST(ThreadPool, ParallelForRethrowsAfterAllFinish) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  EXPECT_THROW(pool.parallel_for(0, 100,
                                 [&](std::size_t i) {
                                   done.fetch_add(1);
                                   if (i == 50) throw std::logic_error("bad index");
                                 }),
               std::logic_error);
  EXPECT_EQ(done.load(), 100);
}

TEST(ThreadPool, DestructorDrainsQueuedWork) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 50; ++i) (void)pool.submit([&] { done.fetch_add(1); });
  }
  EXPECT_EQ(done.load(), 50);
}

TEST(ThreadPool, SharedSizeFollowsVeilThreads) {
  const char* saved = std::getenv("VEIL_THREADS");
  const std::string restore = saved ? saved : "";
  auto size_for = [](const char* value) {
    setenv("VEIL_THREADS", value, 1);
    return ThreadPool::shared_size_from_environment();
  };
  EXPECT_EQ(size_for("4"), 4u);
  EXPECT_EQ(size_for("1"), 1u);
  for (const char* bad : {"", "0", "-2", "4x", "1025", "99999999999999999999999"}) EXPECT_EQ(size_for(bad), 0u) << bad;
  unsetenv("VEIL_THREADS");
  EXPECT_EQ(ThreadPool::shared_size_from_environment(), 0u);
  if (saved) setenv("VEIL_THREADS", restore.c_str(), 1);
}

}  // namespace
}  // namespace veil
