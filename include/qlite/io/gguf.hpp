// qlite — GGUF (v3, also v2) files: a validated, memory-mapped reader and a writer.
//
// Layout (little-endian; ggml's docs/gguf.md):
//
//   "GGUF" | version:u32 | n_tensors:u64 | n_kv:u64
//   n_kv × { key:string | value_type:u32 | value }            string = len:u64 + bytes
//             value_type 0 u8 1 i8 2 u16 3 i16 4 u32 5 i32 6 f32 7 bool 8 string
//                        9 array (= elem_type:u32 + count:u64 + count × elem) 10 u64 11 i64 12 f64
//   n_tensors × { name:string | n_dims:u32 | ne[n_dims]:u64 | ggml_type:u32 | offset:u64 }
//   zero padding to a multiple of general.alignment (u32 KV, default 32)
//   data section: tensor t occupies [offset_t, offset_t + bytes_t) relative to its start
//
//   ne[0] is the contiguous dimension (a row's length); the row-major shape, outermost first,
//   is ne reversed: shape() of a llama.cpp "blk.0.ffn_down.weight" with ne = [172, 64] is
//   {64, 172}. A tensor of a block type (Q8_0 …) stores each row as ne[0]/block_size blocks.
//
// Contract (reader)
//   gguf_file validates everything before it is used: magic, version (2 or 3), counts
//   against the bytes that could hold them, every string length, value type, bool value,
//   array count and nesting depth (≤ 8), duplicate keys, general.alignment (a power of two,
//   type u32), tensor names (unique), n_dims ≤ 4, each ne and the element/byte counts
//   (overflow-checked), the type (a known ggml type, ne[0] a multiple of its block size), each
//   offset (aligned, inside the file, tensors not overlapping). Any violation throws
//   qlite::error(errc::format) "<file>: offset <n>: <field>: expected …, found …".
//   Tensor bytes are views into the mapping; dequantize() converts F32, F16, BF16, Q8_0, Q4_0,
//   Q4_1, Q4_K and Q6_K tensors to fp32 (other types: errc::unsupported).
//
// Contract (writer)
//   gguf_writer collects metadata (in insertion order; setting a key again replaces its
//   value) and tensors — fp32 data converted on write to F32, F16, BF16, Q8_0, Q4_0 or Q4_1
//   with ggml's reference rounding (blocks byte-identical to ggml's quantize_row_*_ref), or
//   bytes already encoded in any known type. It writes general.alignment when it is not 32,
//   pads the data section and every tensor to the alignment, and writes through
//   qlite::atomic_file (temporary + rename; never over a mapped input). Spans given to
//   add_tensor must stay valid until write() returns. Names must be unique and shorter than
//   64 bytes (llama.cpp's GGML_MAX_NAME); block types need ne[0] % block_size == 0.
//
// Cost: reading is O(header size); tensor data is touched only when asked for.
// Writing converts and streams one row at a time.
//
//   qlite::gguf_file in("stories260K.gguf");
//   auto heads = in.get<std::uint32_t>("llama.attention.head_count");        // 8
//   const auto& t = in.tensor("blk.0.attn_q.weight");                         // t.shape() == {64, 64}
//   std::vector<float> w = in.dequantize(t);
//   qlite::gguf_writer out;
//   out.set("general.architecture", std::string("llama"));
//   out.add_tensor("blk.0.attn_q.weight", {64, 64}, qlite::ggml_type::q8_0, w);
//   out.write("stories260K-q8_0.gguf");
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "qlite/config.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/error.hpp"
#include "qlite/io/atomic_file.hpp"
#include "qlite/io/binary.hpp"
#include "qlite/io/mmap.hpp"
#include "qlite/quant/block_formats.hpp"

namespace qlite {

/// ggml's tensor types (enum ggml_type values; removed ids are absent).
enum class ggml_type : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

/// Name, block size and bytes per block of a ggml type.
struct ggml_type_info {
  std::string_view name;
  std::uint32_t block_size = 0;  ///< elements per block (1 for plain types)
  std::uint32_t type_size = 0;   ///< bytes per block
};

/// Facts about a ggml type id, or nullopt for an id qlite does not know.
constexpr std::optional<ggml_type_info> ggml_type_traits(std::uint32_t id) noexcept {
  switch (id) {
    case 0:
      return ggml_type_info{"f32", 1, 4};
    case 1:
      return ggml_type_info{"f16", 1, 2};
    case 2:
      return ggml_type_info{"q4_0", 32, 18};
    case 3:
      return ggml_type_info{"q4_1", 32, 20};
    case 6:
      return ggml_type_info{"q5_0", 32, 22};
    case 7:
      return ggml_type_info{"q5_1", 32, 24};
    case 8:
      return ggml_type_info{"q8_0", 32, 34};
    case 9:
      return ggml_type_info{"q8_1", 32, 36};
    case 10:
      return ggml_type_info{"q2_K", 256, 84};
    case 11:
      return ggml_type_info{"q3_K", 256, 110};
    case 12:
      return ggml_type_info{"q4_K", 256, 144};
    case 13:
      return ggml_type_info{"q5_K", 256, 176};
    case 14:
      return ggml_type_info{"q6_K", 256, 210};
    case 15:
      return ggml_type_info{"q8_K", 256, 292};
    case 16:
      return ggml_type_info{"iq2_xxs", 256, 66};
    case 17:
      return ggml_type_info{"iq2_xs", 256, 74};
    case 18:
      return ggml_type_info{"iq3_xxs", 256, 98};
    case 19:
      return ggml_type_info{"iq1_s", 256, 50};
    case 20:
      return ggml_type_info{"iq4_nl", 32, 18};
    case 21:
      return ggml_type_info{"iq3_s", 256, 110};
    case 22:
      return ggml_type_info{"iq2_s", 256, 82};
    case 23:
      return ggml_type_info{"iq4_xs", 256, 136};
    case 24:
      return ggml_type_info{"i8", 1, 1};
    case 25:
      return ggml_type_info{"i16", 1, 2};
    case 26:
      return ggml_type_info{"i32", 1, 4};
    case 27:
      return ggml_type_info{"i64", 1, 8};
    case 28:
      return ggml_type_info{"f64", 1, 8};
    case 29:
      return ggml_type_info{"iq1_m", 256, 56};
    case 30:
      return ggml_type_info{"bf16", 1, 2};
    case 34:
      return ggml_type_info{"tq1_0", 256, 54};
    case 35:
      return ggml_type_info{"tq2_0", 256, 66};
    case 39:
      return ggml_type_info{"mxfp4", 32, 17};
    default:
      return std::nullopt;
  }
}
constexpr std::optional<ggml_type_info> ggml_type_traits(ggml_type t) noexcept {
  return ggml_type_traits(static_cast<std::uint32_t>(t));
}
static_assert(ggml_type_traits(ggml_type::q8_0)->type_size == block_traits<block_q8_0>::bytes);
static_assert(ggml_type_traits(ggml_type::q4_0)->type_size == block_traits<block_q4_0>::bytes);
static_assert(ggml_type_traits(ggml_type::q4_1)->type_size == block_traits<block_q4_1>::bytes);
static_assert(ggml_type_traits(ggml_type::q4_k)->type_size == block_traits<block_q4_k>::bytes);
static_assert(ggml_type_traits(ggml_type::q6_k)->type_size == block_traits<block_q6_k>::bytes);

/// The type of a GGUF metadata value (the u32 written before it).
enum class gguf_type : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

constexpr std::string_view to_string(gguf_type t) noexcept {
  constexpr std::string_view names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                        "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < 13 ? names[i] : std::string_view("unknown");
}

class gguf_value;

/// Bytes per element of a scalar GGUF type (0 for string and array).
constexpr std::size_t gguf_scalar_size(gguf_type t) noexcept {
  switch (t) {
    case gguf_type::u8:
    case gguf_type::i8:
    case gguf_type::boolean:
      return 1;
    case gguf_type::u16:
    case gguf_type::i16:
      return 2;
    case gguf_type::u32:
    case gguf_type::i32:
    case gguf_type::f32:
      return 4;
    case gguf_type::u64:
    case gguf_type::i64:
    case gguf_type::f64:
      return 8;
    default:
      return 0;
  }
}

/// A GGUF array: an element type and the elements, all of that type. Numbers and bools are
/// kept packed as in the file (little-endian, `packed`), strings and nested arrays as values
/// (`items`): a hostile file cannot make qlite allocate much more than its own size.
struct gguf_array {
  gguf_type element_type = gguf_type::u8;
  std::vector<gguf_value> items;  ///< elements when element_type is string or array
  std::vector<std::byte> packed;  ///< elements when element_type is a number or bool

  /// Number of elements.
  [[nodiscard]] std::size_t size() const noexcept;
  /// Element i of a numeric/bool array as T (T must match element_type's size).
  template <class T>
  [[nodiscard]] T scalar(std::size_t i) const noexcept {
    T v;
    std::memcpy(&v, packed.data() + i * sizeof(T), sizeof(T));
    return v;
  }
};

/// One metadata value. The variant's alternative index equals the gguf_type value.
class gguf_value {
 public:
  using storage =
      std::variant<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t, std::uint32_t, std::int32_t, float,
                   bool, std::string, gguf_array, std::uint64_t, std::int64_t, double>;

  gguf_value() = default;
  template <class T>
  requires std::is_constructible_v<storage, T&&> &&
      (!std::is_same_v<std::decay_t<T>, const char*>)gguf_value(T&& v)
      : v_(std::forward<T>(v)) {}  // NOLINT: implicit by design
  gguf_value(const char* s) : v_(std::string(s)) {}

  /// An array value from a vector of numbers, bools or strings.
  template <class T>
  static gguf_value array(const std::vector<T>& values) {
    gguf_array a;
    a.element_type = gguf_value(T{}).type();
    if constexpr (std::is_same_v<T, std::string>) {
      a.items.reserve(values.size());
      for (const auto& x : values) a.items.emplace_back(x);
    } else {
      static_assert(std::is_arithmetic_v<T>, "GGUF arrays hold numbers, bools or strings");
      a.packed.resize(values.size() * sizeof(T));
      for (std::size_t i = 0; i < values.size(); ++i) {
        const T x = values[i];
        std::memcpy(a.packed.data() + i * sizeof(T), &x, sizeof(T));
      }
    }
    return gguf_value(std::move(a));
  }

  [[nodiscard]] gguf_type type() const noexcept { return static_cast<gguf_type>(v_.index()); }
  [[nodiscard]] const storage& get() const noexcept { return v_; }
  template <class T>
  [[nodiscard]] const T* get_if() const noexcept {
    return std::get_if<T>(&v_);
  }

 private:
  storage v_{std::uint8_t{0}};
};

inline std::size_t gguf_array::size() const noexcept {
  const std::size_t es = gguf_scalar_size(element_type);
  return es == 0 ? items.size() : packed.size() / es;
}

/// One tensor's entry in the header.
struct gguf_tensor_info {
  std::string name;
  ggml_type type = ggml_type::f32;
  std::uint32_t n_dims = 0;
  std::array<std::uint64_t, 4> ne{1, 1, 1, 1};  ///< ne[0] = contiguous dimension
  std::uint64_t offset = 0;                     ///< relative to the data section
  std::uint64_t n_elements = 0;
  std::uint64_t n_bytes = 0;
  std::uint64_t info_offset = 0;  ///< where this entry starts in the file (for messages)

  /// Row-major shape, outermost first (ne reversed, n_dims entries).
  [[nodiscard]] std::vector<std::size_t> shape() const {
    std::vector<std::size_t> s;
    for (std::uint32_t i = n_dims; i-- > 0;) s.push_back(static_cast<std::size_t>(ne[i]));
    return s;
  }
  /// Elements per row (ne[0]) and number of rows (the product of the other dims).
  [[nodiscard]] std::uint64_t row_length() const noexcept { return ne[0]; }
  [[nodiscard]] std::uint64_t n_rows() const noexcept { return ne[1] * ne[2] * ne[3]; }
};

namespace detail {

inline constexpr std::uint32_t gguf_magic = 0x46554747u;  // "GGUF" read as a LE u32
inline constexpr int gguf_max_depth = 8;

inline std::uint64_t gguf_min_value_size(std::uint32_t t) noexcept {
  switch (t) {
    case 0:
    case 1:
    case 7:
      return 1;
    case 2:
    case 3:
      return 2;
    case 4:
    case 5:
    case 6:
      return 4;
    case 8:
      return 8;
    case 9:
      return 12;
    default:
      return 8;
  }
}

inline gguf_value gguf_read_value(byte_reader& r, std::uint32_t type, const std::string& field, int depth) {
  const std::uint64_t at = r.offset();
  switch (type) {
    case 0:
      return r.read<std::uint8_t>(field);
    case 1:
      return r.read<std::int8_t>(field);
    case 2:
      return r.read<std::uint16_t>(field);
    case 3:
      return r.read<std::int16_t>(field);
    case 4:
      return r.read<std::uint32_t>(field);
    case 5:
      return r.read<std::int32_t>(field);
    case 6:
      return r.read<float>(field);
    case 7: {
      const auto b = r.read<std::uint8_t>(field);
      if (b > 1) r.fail_at(at, field, "expected a bool (0 or 1), found " + std::to_string(b));
      return b == 1;
    }
    case 8: {
      const auto len = r.read<std::uint64_t>(field + ".length");
      return r.string(len, field);
    }
    case 9: {
      if (depth >= gguf_max_depth) {
        r.fail_at(at, field, "expected arrays nested at most " + std::to_string(gguf_max_depth) + " deep");
      }
      const auto et = r.read<std::uint32_t>(field + ".element_type");
      if (et > 12)
        r.fail_at(at, field + ".element_type", "expected a value type 0..12, found " + std::to_string(et));
      const std::uint64_t count_at = r.offset();
      const auto count = r.read<std::uint64_t>(field + ".count");
      if (count > r.remaining() / gguf_min_value_size(et)) {
        r.fail_at(count_at, field + ".count",
                  "expected at most " + std::to_string(r.remaining() / gguf_min_value_size(et)) +
                      " elements of type " + std::string(to_string(static_cast<gguf_type>(et))) +
                      " in the remaining bytes, found " + std::to_string(count));
      }
      gguf_array a;
      a.element_type = static_cast<gguf_type>(et);
      if (const std::size_t es = gguf_scalar_size(a.element_type); es != 0) {
        const std::uint64_t elems_at = r.offset();
        const auto b = r.bytes(count * es, field);  // count ≤ remaining / es: no overflow
        a.packed.assign(b.begin(), b.end());
        if (a.element_type == gguf_type::boolean) {
          for (std::size_t i = 0; i < a.packed.size(); ++i) {
            if (a.packed[i] > std::byte{1}) {
              r.fail_at(elems_at + i, field + "[" + std::to_string(i) + "]",
                        "expected a bool (0 or 1), found " + std::to_string(static_cast<int>(a.packed[i])));
            }
          }
        }
      } else {
        a.items.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i) {
          a.items.push_back(gguf_read_value(r, et, field + "[" + std::to_string(i) + "]", depth + 1));
        }
      }
      return gguf_value(std::move(a));
    }
    case 10:
      return r.read<std::uint64_t>(field);
    case 11:
      return r.read<std::int64_t>(field);
    case 12:
      return r.read<double>(field);
    default:
      r.fail_at(at, field, "expected a value type 0..12, found " + std::to_string(type));
  }
}

inline std::uint64_t align_up(std::uint64_t v, std::uint64_t a, std::string_view file,
                              std::string_view field) {
  const std::uint64_t r = v % a;
  return r == 0 ? v : checked_add(v, a - r, file, v, field);
}

// Dequantizes one row of `n` elements from raw (possibly unaligned) block bytes.
template <class Block>
void dequantize_blocks(const std::byte* src, std::size_t n, float* dst) {
  std::vector<Block> tmp(blocks_for<Block>(n));
  std::memcpy(tmp.data(), src, tmp.size() * sizeof(Block));
  ref::dequantize_row(std::span<const Block>(tmp), std::span<float>(dst, n));
}

}  // namespace detail

/// A validated GGUF file. Construct from a path (mapped) or from bytes the caller keeps alive.
class gguf_file {
 public:
  explicit gguf_file(std::string path) : owned_(std::in_place, std::move(path)) {
    bytes_ = owned_->bytes();
    name_ = owned_->path();
    parse();
  }
  /// Parses `bytes` (which must outlive this object); `name` is used in error messages.
  gguf_file(std::span<const std::byte> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {
    parse();
  }
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;
  gguf_file(gguf_file&&) = default;
  gguf_file& operator=(gguf_file&&) = default;

  [[nodiscard]] std::uint32_t version() const noexcept { return version_; }
  [[nodiscard]] std::uint32_t alignment() const noexcept { return alignment_; }
  /// Offset of the data section in the file.
  [[nodiscard]] std::uint64_t data_offset() const noexcept { return data_offset_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// All metadata, in file order.
  [[nodiscard]] const std::vector<std::pair<std::string, gguf_value>>& metadata() const noexcept {
    return kv_;
  }
  /// The value of `key`, or nullptr.
  [[nodiscard]] const gguf_value* find(std::string_view key) const {
    const auto it = kv_index_.find(std::string(key));
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
  }
  /// The value of `key` as T (exact GGUF type); throws qlite::error naming the key otherwise.
  template <class T>
  [[nodiscard]] const T& get(std::string_view key) const {
    const gguf_value* v = find(key);
    if (v == nullptr)
      throw error(errc::format, name_ + ": metadata key '" + std::string(key) + "' is missing");
    const T* p = v->get_if<T>();
    if (p == nullptr) {
      throw error(errc::format, name_ + ": metadata key '" + std::string(key) + "': expected type " +
                                    std::string(to_string(gguf_value(T{}).type())) + ", found " +
                                    std::string(to_string(v->type())));
    }
    return *p;
  }
  /// The elements of array `key` as std::vector<T> (element type must be T's exactly).
  template <class T>
  [[nodiscard]] std::vector<T> get_array(std::string_view key) const {
    const auto& a = get<gguf_array>(key);
    const gguf_type want = gguf_value(T{}).type();
    if (a.element_type != want) {
      throw error(errc::format, name_ + ": metadata key '" + std::string(key) + "': expected an array of " +
                                    std::string(to_string(want)) + ", found an array of " +
                                    std::string(to_string(a.element_type)));
    }
    std::vector<T> out;
    out.reserve(a.size());
    if constexpr (std::is_same_v<T, std::string>) {
      for (const auto& item : a.items) out.push_back(*item.get_if<std::string>());
    } else if constexpr (std::is_same_v<T, bool>) {
      for (std::size_t i = 0; i < a.size(); ++i) out.push_back(a.packed[i] != std::byte{0});
    } else {
      for (std::size_t i = 0; i < a.size(); ++i) out.push_back(a.scalar<T>(i));
    }
    return out;
  }

  [[nodiscard]] const std::vector<gguf_tensor_info>& tensors() const noexcept { return tensors_; }
  [[nodiscard]] const gguf_tensor_info* find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(std::string(name));
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }
  [[nodiscard]] const gguf_tensor_info& tensor(std::string_view name) const {
    if (const auto* t = find_tensor(name)) return *t;
    throw error(errc::invalid_argument, name_ + ": no tensor named '" + std::string(name) + "'");
  }

  /// The raw bytes of a tensor (validated to lie inside the file).
  [[nodiscard]] std::span<const std::byte> tensor_data(const gguf_tensor_info& t) const noexcept {
    return bytes_.subspan(static_cast<std::size_t>(data_offset_ + t.offset),
                          static_cast<std::size_t>(t.n_bytes));
  }

  /// An F32 tensor viewed in place; throws if the type is not F32 or the data is not 4-byte aligned.
  [[nodiscard]] std::span<const float> f32_view(const gguf_tensor_info& t) const {
    if (t.type != ggml_type::f32) {
      throw error(errc::invalid_argument, name_ + ": tensor '" + t.name + "' is " +
                                              std::string(ggml_type_traits(t.type)->name) + ", not f32");
    }
    const auto d = tensor_data(t);
    if (reinterpret_cast<std::uintptr_t>(d.data()) % alignof(float) != 0) {
      throw error(errc::unsupported,
                  name_ + ": tensor '" + t.name + "' data is not 4-byte aligned; use dequantize()");
    }
    return {reinterpret_cast<const float*>(d.data()), static_cast<std::size_t>(t.n_elements)};
  }

  /// Converts a tensor to fp32 into `out` (out.size() == n_elements).
  void dequantize(const gguf_tensor_info& t, std::span<float> out) const {
    if (out.size() != t.n_elements) {
      throw error(errc::invalid_argument, name_ + ": tensor '" + t.name + "' has " +
                                              std::to_string(t.n_elements) + " elements, output holds " +
                                              std::to_string(out.size()));
    }
    const auto data = tensor_data(t);
    const auto n = static_cast<std::size_t>(t.ne[0]);
    const auto rows = static_cast<std::size_t>(t.n_rows());
    if (n == 0 || rows == 0) return;
    const std::size_t row_bytes = data.size() / rows;
    for (std::size_t r = 0; r < rows; ++r) {
      const std::byte* src = data.data() + r * row_bytes;
      float* dst = out.data() + r * n;
      switch (t.type) {
        case ggml_type::f32:
          std::memcpy(dst, src, n * 4);
          break;
        case ggml_type::f16:
        case ggml_type::bf16:
          for (std::size_t i = 0; i < n; ++i) {
            std::uint16_t h;
            std::memcpy(&h, src + 2 * i, 2);
            dst[i] = t.type == ggml_type::f16 ? ref::fp16_bits_to_fp32(h) : ref::bf16_bits_to_fp32(h);
          }
          break;
        case ggml_type::q8_0:
          detail::dequantize_blocks<block_q8_0>(src, n, dst);
          break;
        case ggml_type::q4_0:
          detail::dequantize_blocks<block_q4_0>(src, n, dst);
          break;
        case ggml_type::q4_1:
          detail::dequantize_blocks<block_q4_1>(src, n, dst);
          break;
        case ggml_type::q4_k:
          detail::dequantize_blocks<block_q4_k>(src, n, dst);
          break;
        case ggml_type::q6_k:
          detail::dequantize_blocks<block_q6_k>(src, n, dst);
          break;
        default:
          throw error(errc::unsupported, name_ + ": tensor '" + t.name + "': dequantizing type " +
                                             std::string(ggml_type_traits(t.type)->name) +
                                             " is not supported");
      }
    }
  }
  [[nodiscard]] std::vector<float> dequantize(const gguf_tensor_info& t) const {
    std::vector<float> out(static_cast<std::size_t>(t.n_elements));
    dequantize(t, out);
    return out;
  }

 private:
  void parse() {
    detail::byte_reader r(bytes_, name_);
    const auto magic = r.read<std::uint32_t>("magic");
    if (magic != detail::gguf_magic) {
      r.fail_at(0, "magic", "expected \"GGUF\" (0x46554747), found 0x" + hex(magic));
    }
    version_ = r.read<std::uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
      r.fail_at(4, "version", "expected 2 or 3, found " + std::to_string(version_));
    }
    const auto n_tensors = r.read<std::uint64_t>("n_tensors");
    const auto n_kv = r.read<std::uint64_t>("n_kv");
    // Each tensor info takes ≥ 24 bytes (name length, n_dims, type, offset); each KV ≥ 13.
    if (n_tensors > r.remaining() / 24) {
      r.fail_at(8, "n_tensors",
                "expected at most " + std::to_string(r.remaining() / 24) +
                    " tensors in a file of this size, found " + std::to_string(n_tensors));
    }
    if (n_kv > r.remaining() / 13) {
      r.fail_at(16, "n_kv",
                "expected at most " + std::to_string(r.remaining() / 13) +
                    " key-value pairs in a file of this size, found " + std::to_string(n_kv));
    }
    kv_.reserve(static_cast<std::size_t>(n_kv));
    std::string field;
    for (std::uint64_t i = 0; i < n_kv; ++i) {
      const std::uint64_t at = r.offset();
      field = "kv[" + std::to_string(i) + "]";
      const auto klen = r.read<std::uint64_t>(field + ".key.length");
      std::string key = r.string(klen, field + ".key");
      field += " '" + key + "'";
      if (!kv_index_.emplace(key, kv_.size()).second)
        r.fail_at(at, field, "expected unique keys, found a duplicate");
      const std::uint64_t type_at = r.offset();
      const auto type = r.read<std::uint32_t>(field + ".type");
      if (type > 12)
        r.fail_at(type_at, field + ".type", "expected a value type 0..12, found " + std::to_string(type));
      gguf_value v = detail::gguf_read_value(r, type, field, 0);
      if (key == "general.alignment") {
        const auto* a = v.get_if<std::uint32_t>();
        if (a == nullptr) {
          r.fail_at(type_at, field, "expected type u32, found " + std::string(to_string(v.type())));
        }
        if (*a == 0 || (*a & (*a - 1)) != 0) {
          r.fail_at(type_at + 4, field, "expected a power of two, found " + std::to_string(*a));
        }
        alignment_ = *a;
      }
      kv_.emplace_back(std::move(key), std::move(v));
    }

    tensors_.reserve(static_cast<std::size_t>(n_tensors));
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
      gguf_tensor_info t;
      t.info_offset = r.offset();
      field = "tensor_infos[" + std::to_string(i) + "]";
      const auto nlen = r.read<std::uint64_t>(field + ".name.length");
      if (nlen > 65535) {
        r.fail_at(t.info_offset, field + ".name.length",
                  "expected at most 65535, found " + std::to_string(nlen));
      }
      t.name = r.string(nlen, field + ".name");
      field += " '" + t.name + "'";
      if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
        r.fail_at(t.info_offset, field, "expected unique tensor names, found a duplicate");
      }
      const std::uint64_t dims_at = r.offset();
      t.n_dims = r.read<std::uint32_t>(field + ".n_dims");
      if (t.n_dims > 4)
        r.fail_at(dims_at, field + ".n_dims", "expected at most 4, found " + std::to_string(t.n_dims));
      std::uint64_t n = 1;
      for (std::uint32_t d = 0; d < t.n_dims; ++d) {
        const std::uint64_t ne_at = r.offset();
        const std::string f = field + ".ne[" + std::to_string(d) + "]";
        t.ne[d] = r.read<std::uint64_t>(f);
        if (t.ne[d] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          r.fail_at(ne_at, f, "expected at most 2^63 - 1, found " + std::to_string(t.ne[d]));
        }
        n = detail::checked_mul(n, t.ne[d], name_, ne_at, f);
      }
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        r.fail_at(dims_at, field + ".ne", "expected at most 2^63 - 1 elements, found " + std::to_string(n));
      }
      t.n_elements = n;
      const std::uint64_t type_at = r.offset();
      const auto type = r.read<std::uint32_t>(field + ".type");
      const auto info = ggml_type_traits(type);
      if (!info)
        r.fail_at(type_at, field + ".type", "expected a known ggml type, found " + std::to_string(type));
      t.type = static_cast<ggml_type>(type);
      if (t.ne[0] % info->block_size != 0) {
        r.fail_at(dims_at + 4, field + ".ne[0]",
                  "expected a multiple of " + std::string(info->name) + "'s block size " +
                      std::to_string(info->block_size) + ", found " + std::to_string(t.ne[0]));
      }
      const std::uint64_t row_bytes = t.ne[0] / info->block_size * info->type_size;
      t.n_bytes = detail::checked_mul(row_bytes, t.n_rows(), name_, dims_at, field + ".ne");
      const std::uint64_t off_at = r.offset();
      t.offset = r.read<std::uint64_t>(field + ".offset");
      t.info_offset = off_at;  // messages about the data point at the offset field
      tensors_.push_back(std::move(t));
    }

    const std::uint64_t header_end = r.offset();
    data_offset_ = detail::align_up(header_end, alignment_, name_, "data section");
    // Validate every tensor's placement: aligned, inside the file, no overlaps.
    const std::uint64_t data_size = data_offset_ <= bytes_.size() ? bytes_.size() - data_offset_ : 0;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      const std::string f = "tensor_infos[" + std::to_string(i) + "] '" + t.name + "'.offset";
      if (t.offset % alignment_ != 0) {
        r.fail_at(t.info_offset, f,
                  "expected a multiple of the alignment " + std::to_string(alignment_) + ", found " +
                      std::to_string(t.offset));
      }
      const std::uint64_t end = detail::checked_add(t.offset, t.n_bytes, name_, t.info_offset, f);
      if (data_offset_ > bytes_.size() || end > data_size) {
        r.fail_at(t.info_offset, f,
                  "expected the tensor's " + std::to_string(t.n_bytes) + " bytes at data offset " +
                      std::to_string(t.offset) + " to lie inside the data section of " +
                      std::to_string(data_size) + " bytes (file offset " + std::to_string(data_offset_) +
                      ")");
      }
    }
    std::vector<std::size_t> order(tensors_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return tensors_[a].offset < tensors_[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
      const auto& prev = tensors_[order[k - 1]];
      const auto& cur = tensors_[order[k]];
      if (prev.n_bytes > 0 && cur.n_bytes > 0 && prev.offset + prev.n_bytes > cur.offset) {
        r.fail_at(cur.info_offset, "tensor '" + cur.name + "'.offset",
                  "expected tensors not to overlap, found it inside '" + prev.name + "' [" +
                      std::to_string(prev.offset) + ", " + std::to_string(prev.offset + prev.n_bytes) + ")");
      }
    }
  }

  static std::string hex(std::uint32_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(8, '0');
    for (int i = 7; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = digits[v & 15u];
    return s;
  }

  std::optional<mapped_file> owned_;
  std::span<const std::byte> bytes_;
  std::string name_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::vector<gguf_tensor_info> tensors_;
  std::unordered_map<std::string, std::size_t> kv_index_;      // key → index in kv_
  std::unordered_map<std::string, std::size_t> tensor_index_;  // name → index in tensors_
};

/// Builds and writes a GGUF v3 file (see the contract at the top of this file).
class gguf_writer {
 public:
  /// Sets (or replaces) a metadata value.
  void set(std::string key, gguf_value value) {
    if (key == "general.alignment") {
      const auto* a = value.get_if<std::uint32_t>();
      if (a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
        throw error(errc::invalid_argument, "gguf_writer: general.alignment must be a u32 power of two");
      }
      alignment_ = *a;
    }
    for (auto& [k, v] : kv_) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    kv_.emplace_back(std::move(key), std::move(value));
  }

  /// Adds fp32 data converted to `type` (F32, F16, BF16, Q8_0, Q4_0 or Q4_1) on write.
  /// `shape` is row-major, outermost first; data.size() must equal its product.
  void add_tensor(std::string name, std::vector<std::uint64_t> shape, ggml_type type,
                  std::span<const float> data) {
    switch (type) {
      case ggml_type::f32:
      case ggml_type::f16:
      case ggml_type::bf16:
      case ggml_type::q8_0:
      case ggml_type::q4_0:
      case ggml_type::q4_1:
        break;
      default:
        throw error(errc::unsupported, "gguf_writer: tensor '" + name + "': converting fp32 to " +
                                           std::string(ggml_type_traits(type)->name) + " is not supported");
    }
    entry e = make_entry(std::move(name), std::move(shape), type);
    if (data.size() != e.n_elements) {
      throw error(errc::invalid_argument, "gguf_writer: tensor '" + e.name + "': shape holds " +
                                              std::to_string(e.n_elements) + " elements, data has " +
                                              std::to_string(data.size()));
    }
    e.source = data;
    entries_.push_back(std::move(e));
  }

  /// Adds bytes already encoded in `type` (data.size() must equal the type's byte count).
  void add_tensor_bytes(std::string name, std::vector<std::uint64_t> shape, ggml_type type,
                        std::span<const std::byte> data) {
    entry e = make_entry(std::move(name), std::move(shape), type);
    if (data.size() != e.n_bytes) {
      throw error(errc::invalid_argument, "gguf_writer: tensor '" + e.name +
                                              "': " + std::string(ggml_type_traits(type)->name) +
                                              " data of this shape takes " + std::to_string(e.n_bytes) +
                                              " bytes, found " + std::to_string(data.size()));
    }
    e.raw = data;
    entries_.push_back(std::move(e));
  }

  /// Writes the file through atomic_file.
  void write(const std::string& path, write_options options = {}) const {
    std::vector<std::byte> header;
    put<std::uint32_t>(header, detail::gguf_magic);
    put<std::uint32_t>(header, 3);
    put<std::uint64_t>(header, entries_.size());
    put<std::uint64_t>(header, kv_.size());
    for (const auto& [k, v] : kv_) {
      put_string(header, k);
      put<std::uint32_t>(header, static_cast<std::uint32_t>(v.type()));
      put_value(header, v);
    }
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const auto& e : entries_) {
      put_string(header, e.name);
      put<std::uint32_t>(header, static_cast<std::uint32_t>(e.shape.size()));
      for (std::size_t d = e.shape.size(); d-- > 0;) put<std::uint64_t>(header, e.shape[d]);
      put<std::uint32_t>(header, static_cast<std::uint32_t>(e.type));
      put<std::uint64_t>(header, offset);
      offsets.push_back(offset);
      offset += (e.n_bytes + alignment_ - 1) / alignment_ * alignment_;
    }
    atomic_file out(path, options);
    out.write(header.data(), header.size());
    out.pad_to(alignment_);
    const std::uint64_t data_start = out.size();
    std::vector<std::byte> row;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const auto& e = entries_[i];
      QLITE_ASSERT(out.size() - data_start == offsets[i]);
      if (!e.raw.empty() || e.n_bytes == 0) {
        out.write(e.raw.data(), e.raw.size());
      } else {
        const auto n = static_cast<std::size_t>(e.shape.back());
        const std::size_t rows = n == 0 ? 0 : e.source.size() / n;
        const std::size_t row_bytes = static_cast<std::size_t>(e.n_bytes) / rows;
        row.resize(row_bytes);
        for (std::size_t r = 0; r < rows; ++r) {
          encode_row(e.type, e.source.subspan(r * n, n), row.data());
          out.write(row.data(), row.size());
        }
      }
      out.pad_to(alignment_);
    }
    out.commit();
  }

 private:
  struct entry {
    std::string name;
    std::vector<std::uint64_t> shape;  // row-major, outermost first
    ggml_type type = ggml_type::f32;
    std::uint64_t n_elements = 0;
    std::uint64_t n_bytes = 0;
    std::span<const float> source;
    std::span<const std::byte> raw;
  };

  entry make_entry(std::string name, std::vector<std::uint64_t> shape, ggml_type type) const {
    const auto info = ggml_type_traits(type);
    const std::string who = "gguf_writer: tensor '" + name + "'";
    if (!info)
      throw error(errc::invalid_argument,
                  who + ": unknown ggml type " + std::to_string(static_cast<std::uint32_t>(type)));
    if (name.empty() || name.size() >= 64) {
      throw error(errc::invalid_argument,
                  who + ": names must have 1 to 63 bytes (llama.cpp's GGML_MAX_NAME)");
    }
    for (const auto& e : entries_)
      if (e.name == name) throw error(errc::invalid_argument, who + ": added twice");
    if (shape.empty() || shape.size() > 4)
      throw error(errc::invalid_argument, who + ": expected 1 to 4 dimensions");
    std::uint64_t n = 1;
    for (auto s : shape) n = detail::checked_mul(n, s, "gguf_writer", 0, name);
    if (shape.back() % info->block_size != 0) {
      throw error(errc::invalid_argument, who + ": row length " + std::to_string(shape.back()) +
                                              " is not a multiple of " + std::string(info->name) +
                                              "'s block size " + std::to_string(info->block_size));
    }
    entry e;
    e.name = std::move(name);
    e.type = type;
    e.n_elements = n;
    e.n_bytes = shape.back() == 0
                    ? 0
                    : detail::checked_mul(n / info->block_size, info->type_size, "gguf_writer", 0, e.name);
    e.shape = std::move(shape);
    return e;
  }

  static void encode_row(ggml_type type, std::span<const float> x, std::byte* out) {
    switch (type) {
      case ggml_type::f32:
        std::memcpy(out, x.data(), x.size() * 4);
        break;
      case ggml_type::f16:
        for (std::size_t i = 0; i < x.size(); ++i) {
          const std::uint16_t h = ref::fp32_to_fp16_bits(x[i]);
          std::memcpy(out + 2 * i, &h, 2);
        }
        break;
      case ggml_type::bf16:
        for (std::size_t i = 0; i < x.size(); ++i) {
          const std::uint16_t h = ref::fp32_to_bf16_bits(x[i]);
          std::memcpy(out + 2 * i, &h, 2);
        }
        break;
      case ggml_type::q8_0:
        encode_blocks<block_q8_0>(x, out);
        break;
      case ggml_type::q4_0:
        encode_blocks<block_q4_0>(x, out);
        break;
      case ggml_type::q4_1:
        encode_blocks<block_q4_1>(x, out);
        break;
      default:
        QLITE_ASSERT(false);
    }
  }
  template <class Block>
  static void encode_blocks(std::span<const float> x, std::byte* out) {
    ref::quantize_rows<Block>(x, x.size(), {out, x.size() / block_traits<Block>::block_size * sizeof(Block)});
  }

  template <class T>
  static void put(std::vector<std::byte>& b, T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
  }
  static void put_string(std::vector<std::byte>& b, std::string_view s) {
    put<std::uint64_t>(b, s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    b.insert(b.end(), p, p + s.size());
  }
  static void put_value(std::vector<std::byte>& b, const gguf_value& v) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            put_string(b, x);
          } else if constexpr (std::is_same_v<T, gguf_array>) {
            put<std::uint32_t>(b, static_cast<std::uint32_t>(x.element_type));
            const std::size_t es = gguf_scalar_size(x.element_type);
            if (es != 0) {
              if (!x.items.empty() || x.packed.size() % es != 0) {
                throw error(errc::invalid_argument,
                            "gguf_writer: an array of " + std::string(to_string(x.element_type)) +
                                " must hold its elements packed, " + std::to_string(es) + " bytes each");
              }
              put<std::uint64_t>(b, x.packed.size() / es);
              b.insert(b.end(), x.packed.begin(), x.packed.end());
            } else {
              if (!x.packed.empty() || static_cast<std::uint32_t>(x.element_type) > 12) {
                throw error(errc::invalid_argument, "gguf_writer: an array of " +
                                                        std::string(to_string(x.element_type)) +
                                                        " holds its elements in items");
              }
              put<std::uint64_t>(b, x.items.size());
              for (const auto& item : x.items) {
                if (item.type() != x.element_type) {
                  throw error(errc::invalid_argument, "gguf_writer: an array of " +
                                                          std::string(to_string(x.element_type)) +
                                                          " holds a " + std::string(to_string(item.type())));
                }
                put_value(b, item);
              }
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            put<std::uint8_t>(b, x ? 1 : 0);
          } else {
            put<T>(b, x);
          }
        },
        v.get());
  }

  std::uint32_t alignment_ = 32;
  std::vector<std::pair<std::string, gguf_value>> kv_;
  std::vector<entry> entries_;
};

}  // namespace qlite
