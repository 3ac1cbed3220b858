// The node's workers (worker.h): tasks run one at a time, in posting order within a lane, and
// post_first() tasks ahead of every post()ed task not yet started.
#include "worker.h"

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace veil::node {
namespace {

TEST(Worker, FirstTasksOvertakeQueuedOnesButNotTheRunningOne) {
  std::mutex mutex;
  std::vector<std::string> order;
  auto record = [&](std::string what) {
    return [&, what] {
      std::lock_guard lock(mutex);
      order.push_back(what);
    };
  };
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  {
    Worker worker("test");
    worker.post([&] {
      started.set_value();
      released.wait();  // a long evaluation, running when the rest is posted
      record("evaluation 1")();
    });
    started.get_future().wait();
    worker.post(record("evaluation 2"));
    worker.post(record("evaluation 3"));
    worker.post_first(record("decryption a"));
    worker.post_first(record("decryption b"));
    EXPECT_EQ(worker.pending(), 4u);
    release.set_value();
  }  // the destructor runs what is queued, then joins
  const std::vector<std::string> expected = {"evaluation 1", "decryption a", "decryption b", "evaluation 2", "evaluation 3"};
  EXPECT_EQ(order, expected);
}

TEST(Worker, ATaskThatThrowsDoesNotStopTheWorker) {
  std::promise<int> after;
  Worker worker("test");
  worker.post([] { throw std::runtime_error("boom"); });
  worker.post([&] { after.set_value(7); });
  EXPECT_EQ(after.get_future().get(), 7);
}

}  // namespace
}  // namespace veil::node
