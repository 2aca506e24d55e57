// qlite — owning, cache-line aligned arrays.
//
// `aligned_buffer<T>` owns `size()` elements of a trivially copyable T at a 64-byte aligned
// address (one cache line; an AVX-512 register), so kernels may use aligned loads from
// `data()`. Move-only; the contents start zeroed unless `qlite::uninitialized` is passed.
//
//   qlite::aligned_buffer<float> y(4096);   // 4096 zeros, 64-byte aligned
//   kernel(y.data(), y.size());
#pragma once

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

namespace qlite {

inline constexpr std::size_t cache_line = 64;

/// Tag: allocate without zeroing (the caller writes every element before reading it).
struct uninitialized_t {
  explicit uninitialized_t() = default;
};
inline constexpr uninitialized_t uninitialized{};

template <class T>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "qlite::aligned_buffer holds trivially copyable types only");

 public:
  aligned_buffer() noexcept = default;
  explicit aligned_buffer(std::size_t n) : size_(n) {
    if (n == 0) return;
    data_ = static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{cache_line}));
    std::memset(static_cast<void*>(data_), 0, n * sizeof(T));
  }
  /// n elements left uninitialized: for buffers the caller overwrites completely.
  aligned_buffer(std::size_t n, uninitialized_t) : size_(n) {
    if (n) data_ = static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{cache_line}));
  }
  aligned_buffer(aligned_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  ~aligned_buffer() { release(); }

  /// An explicit deep copy ("make costs visible").
  [[nodiscard]] aligned_buffer clone() const {
    aligned_buffer c(size_);
    if (size_) std::memcpy(static_cast<void*>(c.data_), data_, size_ * sizeof(T));
    return c;
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  [[nodiscard]] T* begin() noexcept { return data_; }
  [[nodiscard]] T* end() noexcept { return data_ + size_; }
  [[nodiscard]] const T* begin() const noexcept { return data_; }
  [[nodiscard]] const T* end() const noexcept { return data_ + size_; }
  [[nodiscard]] std::span<T> span() noexcept { return {data_, size_}; }
  [[nodiscard]] std::span<const T> span() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept {
    if (data_) ::operator delete (static_cast<void*>(data_), std::align_val_t{cache_line});
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace qlite
