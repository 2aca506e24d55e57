// qlite — the one way qlite uses threads.
//
// `parallel_for(n, fn, threads)` splits the index range [0, n) into `threads` contiguous,
// nearly equal chunks and calls `fn(begin, end)` once per non-empty chunk, the calling
// thread taking the first. Chunk boundaries depend only on n and threads, and callers make
// each output element depend on its own index only, so results are bitwise identical for
// any thread count. Workers live in one process-wide pool, started on first use; a nested
// call (from inside a chunk) runs serially on its caller. Exceptions thrown by `fn` are
// rethrown on the calling thread (the first one; the others are dropped).
//
// Waking a sleeping worker costs tens of microseconds, a large part of a decode GEMV
// (≈ 100 µs), so workers spin for up to `spin_window` after a job before they sleep, and
// the caller spins briefly for the last chunk to finish: back-to-back calls (the matmuls
// of a forward pass) find the workers awake. Spinning is bounded; idle workers sleep.
//
// The default thread count is the environment variable QLITE_NUM_THREADS if set, else
// std::thread::hardware_concurrency(); `set_default_threads` changes it for the process.
//
//   qlite::parallel_for(rows, [&](std::size_t r0, std::size_t r1) {
//     for (std::size_t r = r0; r < r1; ++r) process_row(r);
//   });                                   // threads = qlite::default_threads()
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qlite {

namespace detail {

inline std::atomic<unsigned>& default_threads_storage() {
  static std::atomic<unsigned> n{[] {
    if (const char* env = std::getenv("QLITE_NUM_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v > 0) return static_cast<unsigned>(std::min(v, 1024L));
    }
    return std::max(1U, std::thread::hardware_concurrency());
  }()};
  return n;
}

inline thread_local bool in_parallel_region = false;

/// How long a worker (or the caller) busy-waits for the next job (for the last chunk)
/// before blocking.
inline constexpr std::chrono::microseconds spin_window{200};

/// Busy-waits until ready() or spin_window has passed; returns ready().
template <class Ready>
bool spin_until(Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + spin_window;
  for (unsigned i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63) {
      if (std::chrono::steady_clock::now() > deadline) return ready();
      // On an oversubscribed machine the thread we wait for may share this core: let it run.
      std::this_thread::yield();
    }
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
}

/// A fixed pool of sleeping workers; one job at a time (jobs from different user threads
/// are serialized by `submit_mutex_`).
class thread_pool {
 public:
  static thread_pool& instance() {
    static thread_pool pool;
    return pool;
  }

  /// Runs task(i) for i in [1, n_tasks) on workers and task(0) on the caller; returns when
  /// all are done.
  void run(unsigned n_tasks, const std::function<void(unsigned)>& task) {
    std::lock_guard submit(submit_mutex_);
    ensure_workers(n_tasks - 1);
    {
      std::lock_guard lk(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      next_ = 1;
      pending_ = n_tasks - 1;
      error_ = nullptr;
      generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }
    wake_.notify_all();
    run_one(0);
    spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
    std::unique_lock lk(mutex_);
    done_.wait(lk, [&] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
  }

  ~thread_pool() {
    {
      std::lock_guard lk(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

 private:
  thread_pool() = default;

  void ensure_workers(unsigned n) {
    while (workers_.size() < n) workers_.emplace_back([this] { worker_loop(); });
  }

  void run_one(unsigned i) {
    in_parallel_region = true;
    try {
      (*task_)(i);
    } catch (...) {
      std::lock_guard lk(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    in_parallel_region = false;
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock lk(mutex_);
        wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      for (;;) {
        unsigned i = 0;
        {
          // Claim a task of this generation's job only: a job that ended may be replaced.
          std::lock_guard lk(mutex_);
          if (generation_ != seen || next_ >= n_tasks_) break;
          i = next_++;
        }
        run_one(i);
        std::lock_guard lk(mutex_);
        if (--pending_ == 0) done_.notify_all();
      }
    }
  }

  std::mutex submit_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(unsigned)>* task_ = nullptr;
  unsigned n_tasks_ = 0;
  unsigned next_ = 0;
  // Written under mutex_; atomic so that spinning threads may read them without it.
  std::atomic<unsigned> pending_ = 0;
  std::atomic<std::uint64_t> generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace detail

/// The thread count used when a call does not name one (≥ 1).
inline unsigned default_threads() noexcept { return detail::default_threads_storage().load(); }

/// Sets the process-wide default thread count; 0 restores hardware_concurrency().
inline void set_default_threads(unsigned n) noexcept {
  detail::default_threads_storage().store(n ? n : std::max(1U, std::thread::hardware_concurrency()));
}

/// Calls fn(begin, end) over `threads` contiguous chunks of [0, n); see the file comment.
template <class F>
void parallel_for(std::size_t n, F&& fn, unsigned threads = default_threads()) {
  if (n == 0) return;
  const std::size_t t = std::min<std::size_t>(std::max(1U, threads), n);
  if (t == 1 || detail::in_parallel_region) {
    fn(std::size_t{0}, n);
    return;
  }
  const std::size_t base = n / t, extra = n % t;
  auto chunk_begin = [&](std::size_t i) { return i * base + std::min(i, extra); };
  const std::function<void(unsigned)> task = [&](unsigned i) { fn(chunk_begin(i), chunk_begin(i + 1)); };
  detail::thread_pool::instance().run(static_cast<unsigned>(t), task);
}

}  // namespace qlite
