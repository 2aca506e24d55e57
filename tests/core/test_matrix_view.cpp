#include <doctest/doctest.h>

#include <vector>

#include <qlite/core/aligned_buffer.hpp>
#include <qlite/core/error.hpp>
#include <qlite/core/matrix_view.hpp>

TEST_SUITE("core") {
  TEST_CASE("matrix_view addresses rows with a stride") {
    std::vector<float> v(3 * 5);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i);
    qlite::matrix_view<float> m(v.data(), 3, 4, 5);
    CHECK(m(2, 3) == 13.0f);
    CHECK(m.row(1).size() == 4);
    CHECK(m.row(1)[0] == 5.0f);
    qlite::matrix_view<const float> c = m;
    CHECK(c.row_range(1, 2)(0, 0) == 5.0f);
    CHECK(!m.contiguous());
  }

  TEST_CASE("aligned_buffer is aligned, zeroed and movable") {
    qlite::aligned_buffer<float> b(100);
    CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % qlite::cache_line == 0);
    CHECK(b[99] == 0.0f);
    b[5] = 2.0f;
    auto c = b.clone();
    qlite::aligned_buffer<float> d = std::move(b);
    CHECK(d[5] == 2.0f);
    CHECK(c[5] == 2.0f);
    CHECK(b.empty());
  }

  TEST_CASE("qlite::error carries its category") {
    qlite::error e(qlite::errc::format, "file x: offset 4: bad magic");
    CHECK(e.category() == qlite::errc::format);
    CHECK(std::string(e.what()) == "qlite: file x: offset 4: bad magic");
  }
}
