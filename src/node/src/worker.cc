#include "worker.h"

#include <exception>

#include "veil/common/log.h"

namespace veil::node {

Worker::Worker(std::string name) : name_(std::move(name)), thread_([this] { loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void Worker::post_first(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    first_.push_back(std::move(task));
  }
  cv_.notify_one();
}

std::size_t Worker::pending() const {
  std::lock_guard lock(mutex_);
  return first_.size() + queue_.size();
}

void Worker::loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !first_.empty() || !queue_.empty(); });
      auto& lane = !first_.empty() ? first_ : queue_;
      if (lane.empty()) return;
      task = std::move(lane.front());
      lane.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      log::get("node")->error("{} worker: task failed: {}", name_, e.what());
    }
  }
}

}  // namespace veil::node
