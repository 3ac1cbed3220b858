// A fixed-size pool of worker threads for CPU-bound work (FHE bootstraps, signature checks).
//
// Tasks run in submission order across the workers. parallel_for() is the main entry: it
// splits an index range across the calling thread and at most size() - 1 workers, so a pool
// of size T computes on T threads (the number a benchmark's --threads names), and a pool of
// size 1 still makes progress when called from inside one of its own tasks (no deadlock on
// nested use). Exceptions thrown by a task are captured in its future.
//
// Thread safety: all methods may be called from any thread. The destructor finishes the
// queued tasks, then joins the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace veil {

class ThreadPool {
 public:
  // threads == 0 means std::thread::hardware_concurrency() (at least 1). The pool starts that
  // many workers: parallel_for() uses the caller and threads - 1 of them, submit() all.
  explicit ThreadPool(std::size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const { return workers_.size(); }

  // Queues fn and returns a future for its result.
  template <typename Fn>
  auto submit(Fn fn) -> std::future<std::invoke_result_t<Fn>> {
    using R = std::invoke_result_t<Fn>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::move(fn));
    std::future<R> result = task->get_future();
    enqueue([task] { (*task)(); });
    return result;
  }

  // Calls fn(i) for every i in [begin, end) and returns when all calls are done. The calling
  // thread takes part, with at most size() - 1 workers beside it. If calls throw, the first
  // exception is rethrown after all finish.
  void parallel_for(std::size_t begin, std::size_t end, const std::function<void(std::size_t)>& fn);

  // A process-wide pool, created on first use: VEIL_THREADS computing threads when that
  // variable holds a number 1..kMaxSharedThreads (to measure a run at 1, 2, 4... threads),
  // otherwise one per hardware thread. The variable is read once, at that first use.
  static ThreadPool& shared();
  static constexpr std::size_t kMaxSharedThreads = 1024;
  // VEIL_THREADS as shared() reads it: 0 (one per hardware thread) when unset or invalid.
  static std::size_t shared_size_from_environment();

 private:
  void enqueue(std::function<void()> job);
  void worker_loop();

  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace veil
