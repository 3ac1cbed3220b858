#include "veil/common/thread_pool.h"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace veil {

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::enqueue(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void ThreadPool::worker_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

void ThreadPool::parallel_for(std::size_t begin, std::size_t end,
                              const std::function<void(std::size_t)>& fn) {
  if (begin >= end) return;
  // Helpers that have not started when the caller finishes are told to do nothing, so a
  // nested call from a busy pool never waits on a worker that is itself. The state is shared
  // because such a late helper still runs after this frame is gone (and then only reads
  // `closed`).
  struct Shared {
    explicit Shared(std::size_t first) : next(first) {}
    std::atomic<std::size_t> next;
    std::mutex mutex;
    std::condition_variable idle;
    std::size_t running = 0;
    bool closed = false;
    std::exception_ptr error;
  };
  auto shared = std::make_shared<Shared>(begin);
  const auto* body = &fn;

  auto drain = [shared, body, end] {
    for (std::size_t i; (i = shared->next.fetch_add(1)) < end;) {
      try {
        (*body)(i);
      } catch (...) {
        std::lock_guard lock(shared->mutex);
        if (!shared->error) shared->error = std::current_exception();
      }
    }
  };

  // The caller is one of the size() computing threads (also when it is a worker of this pool).
  const std::size_t helpers = std::min(workers_.size() - 1, end - begin - 1);
  for (std::size_t h = 0; h < helpers; ++h) {
    enqueue([shared, drain] {
      {
        std::lock_guard lock(shared->mutex);
        if (shared->closed) return;
        ++shared->running;
      }
      drain();
      std::lock_guard lock(shared->mutex);
      if (--shared->running == 0) shared->idle.notify_all();
    });
  }
  drain();
  std::unique_lock lock(shared->mutex);
  shared->closed = true;
  shared->idle.wait(lock, [&] { return shared->running == 0; });
  if (shared->error) std::rethrow_exception(shared->error);
}

std::size_t ThreadPool::shared_size_from_environment() {
  const char* text = std::getenv("VEIL_THREADS");
  if (text == nullptr) return 0;
  std::size_t threads = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, threads);
  return error == std::errc() && stop == end && threads <= kMaxSharedThreads ? threads : 0;
}

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool(shared_size_from_environment());
  return pool;
}

}  // namespace veil
