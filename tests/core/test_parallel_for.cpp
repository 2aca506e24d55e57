#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include <qlite/core/parallel_for.hpp>

TEST_SUITE("core") {
  TEST_CASE("parallel_for covers every index exactly once for any thread count") {
    for (unsigned threads = 1; threads <= 5; ++threads) {
      for (std::size_t n : {0UL, 1UL, 2UL, 7UL, 1000UL}) {
        std::vector<int> hits(n, 0);
        qlite::parallel_for(
            n,
            [&](std::size_t b, std::size_t e) {
              for (std::size_t i = b; i < e; ++i) ++hits[i];
            },
            threads);
        CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
      }
    }
  }

  TEST_CASE("parallel_for reaches workers that spin and workers that sleep") {
    // Back-to-back jobs find the workers inside their spin window; jobs 2 ms apart find
    // them asleep on the condition variable (the window is 200 µs). Both must run every chunk.
    for (const auto gap : {std::chrono::microseconds(0), std::chrono::microseconds(2000)}) {
      for (int job = 0; job < 20; ++job) {
        std::vector<int> hits(6, 0);
        qlite::parallel_for(
            hits.size(),
            [&](std::size_t b, std::size_t e) {
              for (std::size_t i = b; i < e; ++i) hits[i] += job + 1;
            },
            3);
        CHECK(std::all_of(hits.begin(), hits.end(), [&](int h) { return h == job + 1; }));
        std::this_thread::sleep_for(gap);
      }
    }
  }

  TEST_CASE("parallel_for rethrows and nested calls run serially") {
    CHECK_THROWS_AS(qlite::parallel_for(
                        8,
                        [](std::size_t b, std::size_t) {
                          if (b > 0) throw std::runtime_error("boom");
                        },
                        4),
                    std::runtime_error);
    std::atomic<int> total{0};
    qlite::parallel_for(
        4,
        [&](std::size_t b, std::size_t e) {
          qlite::parallel_for(
              10, [&](std::size_t bb, std::size_t ee) { total += int(ee - bb); }, 3);
          (void)b;
          (void)e;
        },
        2);
    CHECK(total == 20);
  }

  TEST_CASE("default thread count is settable") {
    const unsigned saved = qlite::default_threads();
    qlite::set_default_threads(3);
    CHECK(qlite::default_threads() == 3);
    qlite::set_default_threads(saved);
  }
}
