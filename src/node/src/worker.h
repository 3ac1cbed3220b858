// A thread that runs posted functions one at a time: the node's blocking worker (chain RPC,
// container driver) and its FHE worker (encryption, evaluation, partial decryption).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace veil::node {

class Worker {
 public:
  explicit Worker(std::string name);
  ~Worker();  // runs what is queued, then joins
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues `task` behind every task posted before it.
  void post(std::function<void()> task);
  // Queues `task` ahead of every post()ed task not yet started, behind earlier post_first()
  // tasks: short work someone waits on (a committee member's decryption shares) must not wait
  // for every queued decision evaluation, each of which may take seconds. It does not interrupt
  // the task that is running.
  void post_first(std::function<void()> task);
  std::size_t pending() const;

 private:
  void loop();
  std::string name_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> first_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace veil::node
