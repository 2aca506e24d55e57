// qlite — non-owning row-major matrix views.
//
// A `matrix_view<T>` is `rows × cols` elements of T, row i starting at `data + i * stride`
// (stride ≥ cols, in elements). Weights follow the torch `Linear` convention: N × K,
// one output channel per row. Views never own or allocate; `matrix_view<const T>` is built
// implicitly from `matrix_view<T>`.
//
//   std::vector<float> w(4096 * 4096);
//   qlite::matrix_view<const float> W(w.data(), 4096, 4096);
//   std::span<const float> row7 = W.row(7);
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

#include "qlite/config.hpp"

namespace qlite {

template <class T>
class matrix_view {
 public:
  using element_type = T;

  constexpr matrix_view() noexcept = default;
  /// `rows × cols` elements, rows `stride` elements apart (stride 0 means `cols`).
  constexpr matrix_view(T* data, std::size_t rows, std::size_t cols, std::size_t stride = 0) noexcept
      : data_(data), rows_(rows), cols_(cols), stride_(stride == 0 ? cols : stride) {
    QLITE_ASSERT(stride_ >= cols_);
  }
  /// matrix_view<T> → matrix_view<const T>.
  template <class U>
  requires std::is_convertible_v<U (*)[], T (*)[]>
  constexpr matrix_view(const matrix_view<U>& other) noexcept
      : data_(other.data()), rows_(other.rows()), cols_(other.cols()), stride_(other.stride()) {}

  [[nodiscard]] constexpr T* data() const noexcept { return data_; }
  [[nodiscard]] constexpr std::size_t rows() const noexcept { return rows_; }
  [[nodiscard]] constexpr std::size_t cols() const noexcept { return cols_; }
  [[nodiscard]] constexpr std::size_t stride() const noexcept { return stride_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return rows_ * cols_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return rows_ == 0 || cols_ == 0; }
  [[nodiscard]] constexpr bool contiguous() const noexcept { return stride_ == cols_; }

  [[nodiscard]] constexpr std::span<T> row(std::size_t i) const noexcept {
    QLITE_ASSERT(i < rows_);
    return {data_ + i * stride_, cols_};
  }
  [[nodiscard]] constexpr T& operator()(std::size_t i, std::size_t j) const noexcept {
    QLITE_ASSERT(i < rows_ && j < cols_);
    return data_[i * stride_ + j];
  }
  /// Rows [first, first + count).
  [[nodiscard]] constexpr matrix_view row_range(std::size_t first, std::size_t count) const noexcept {
    QLITE_ASSERT(first + count <= rows_);
    return {data_ + first * stride_, count, cols_, stride_};
  }

 private:
  T* data_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::size_t stride_ = 0;
};

}  // namespace qlite
