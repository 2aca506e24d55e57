// qlite — a linear layer whose weight format is chosen at run time: y = x · Wᵀ over qlite::gemm.
//
// A linear_format says how one weight matrix is stored and multiplied. Its text form, used by
// precision policies and the command-line tools, is
//
//   <storage>[@a8 | @bf16]         or         sim:<scheme>[@a8]
//
//   storage   f32 | bf16 | f16 | int8 | int4_g32 | int4_g64 | int4_g128 | int4a_g32 | int4a_g64 |
//             int4a_g128 | q8_0 | q4_0         (the packed formats of gemm/packed_weights.hpp;
//             int8 = symmetric ±127 per channel, int4_g* = full symmetric grid, int4a = asymmetric)
//   @a8       W8A8 / W4A8: activations quantized per row to int8 inside the call
//             (gemm_mode::int8_activations; integer storages only)
//   @bf16     bf16 weights × bf16-rounded activations (gemm_mode::bf16_activations; bf16 only)
//   sim:S     simulated ("fake") quantization: the weights are quantized with the named scheme S
//             (quant/named_schemes.hpp) and dequantized back to fp32, the layer runs in fp32.
//             Any scheme, any shape: the protocol of accuracy studies (e.g. int3, Q4_K).
//             sim:S@a8 also fake-quantizes each activation row to int8 (symmetric, amax/127,
//             half to even) before the fp32 product; sim:none@a8 does only that.
//   aliases   fp32 = f32, w8a8 = int8@a8, w4a8 = int4_g32@a8
//
// Fallback: the block and group storages need K to be a multiple of their group (32/64/128);
// a matrix whose rows are not becomes f16 (weight-only), the type llama.cpp's quantize falls
// back to. linear::format() reports what was actually built.
//
// Contract: linear(x, y, act) computes y = act(x · Wᵀ) with qlite::gemm's semantics for the
// built format (exactly ref::gemm for packed formats). bytes() is the memory of the packed
// weights; source_bytes() what the format stores (codes + scales, the file size share).
//
//   qlite::linear l(W, qlite::linear_format::parse("q4_0@a8"));   // W: matrix_view<const float>
//   l(x, y);                                                      // x: M × K, y: M × N
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/gemm/gemm.hpp"
#include "qlite/gemm/packed_weights.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/named_schemes.hpp"
#include "qlite/quant/quantizer.hpp"

namespace qlite {

/// How one weight matrix is stored and multiplied (see the file comment).
struct linear_format {
  std::string storage = "f32";  ///< a storage name, or "sim" for simulated quantization
  std::string scheme;           ///< sim only: the named scheme
  gemm_mode mode = gemm_mode::weight_only;
  bool sim_activations = false;  ///< sim only: fake-quantize activations to int8 per row

  [[nodiscard]] bool simulated() const noexcept { return storage == "sim"; }

  /// The text form (parse(f.name()) == f).
  [[nodiscard]] std::string name() const {
    std::string n = simulated() ? "sim:" + scheme : storage;
    if (mode == gemm_mode::int8_activations || sim_activations) n += "@a8";
    if (mode == gemm_mode::bf16_activations) n += "@bf16";
    return n;
  }

  static constexpr std::string_view storages[] = {"f32",       "bf16",       "f16",       "int8",
                                                  "int4_g32",  "int4_g64",   "int4_g128", "int4a_g32",
                                                  "int4a_g64", "int4a_g128", "q8_0",      "q4_0"};

  /// Parses the text form; qlite::error(invalid_argument) naming the problem otherwise.
  static linear_format parse(std::string_view text) {
    const std::string whole(text);
    if (text == "fp32") text = "f32";
    if (text == "w8a8") text = "int8@a8";
    if (text == "w4a8") text = "int4_g32@a8";
    linear_format f;
    std::string_view suffix;
    if (const auto at = text.find('@'); at != std::string_view::npos) {
      suffix = text.substr(at + 1);
      text = text.substr(0, at);
    }
    if (text.starts_with("sim:")) {
      f.storage = "sim";
      f.scheme = std::string(text.substr(4));
      if (f.scheme != "none") (void)find_scheme(f.scheme);  // throws listing the known schemes
      if (suffix == "a8")
        f.sim_activations = true;
      else if (!suffix.empty())
        throw error(errc::invalid_argument, "linear format '" + whole + "': sim: takes only @a8");
      return f;
    }
    if (std::find(std::begin(storages), std::end(storages), text) == std::end(storages)) {
      std::string known;
      for (auto s : storages) known += std::string(known.empty() ? "" : ", ") + std::string(s);
      throw error(errc::invalid_argument, "linear format '" + whole + "': unknown storage '" +
                                              std::string(text) + "' (known: " + known +
                                              ", sim:<scheme>, fp32, w8a8, w4a8)");
    }
    f.storage = std::string(text);
    if (suffix == "a8") {
      if (!(f.storage == "int8" || f.storage.starts_with("int4") || f.storage == "q8_0" ||
            f.storage == "q4_0"))
        throw error(errc::invalid_argument,
                    "linear format '" + whole + "': @a8 needs an integer storage (int8, int4*, q8_0, q4_0)");
      f.mode = gemm_mode::int8_activations;
    } else if (suffix == "bf16") {
      if (f.storage != "bf16")
        throw error(errc::invalid_argument, "linear format '" + whole + "': @bf16 needs bf16 storage");
      f.mode = gemm_mode::bf16_activations;
    } else if (!suffix.empty()) {
      throw error(errc::invalid_argument, "linear format '" + whole + "': unknown suffix '@" +
                                              std::string(suffix) + "' (@a8 or @bf16)");
    }
    return f;
  }

  /// The group (block) size along K the storage needs, 1 if none.
  [[nodiscard]] std::size_t k_multiple() const noexcept {
    if (storage == "q8_0" || storage == "q4_0" || storage.ends_with("_g32")) return 32;
    if (storage.ends_with("_g64")) return 64;
    if (storage.ends_with("_g128")) return 128;
    return 1;
  }

  friend bool operator==(const linear_format&, const linear_format&) = default;
};

namespace detail {

/// Fake-quantizes each row of x to symmetric int8 (amax/127, half to even) in place.
inline void fake_quantize_rows_int8(matrix_view<float> x) {
  for (std::size_t r = 0; r < x.rows(); ++r) {
    const auto row = x.row(r);
    float amax = 0.0f;
    for (float v : row) amax = std::max(amax, std::fabs(v));
    if (amax == 0.0f) continue;
    const float scale = amax / 127.0f;
    for (float& v : row) v = std::nearbyint(v / scale) * scale;
  }
}

}  // namespace detail

/// A linear layer y = x · Wᵀ with W packed in a run-time chosen format.
class linear {
 public:
  linear() = default;

  /// Packs W (N × K fp32) as `format` says (with the documented f16 fallback).
  linear(matrix_view<const float> w, const linear_format& format) { build(w, format, {}, {}); }

  /// As above, but Q8_0/Q4_0 blocks or a quantized_tensor that the checkpoint already holds are
  /// used as they are when they match the format (no re-quantization).
  linear(matrix_view<const float> w, const linear_format& format, std::span<const std::byte> blocks,
         const quantized_tensor* quantized) {
    build(w, format, blocks, quantized);
  }

  /// y = act(x · Wᵀ); x: M × K, y: M × N.
  void operator()(matrix_view<const float> x, matrix_view<float> y, activation act = activation::none,
                  unsigned threads = 0) const {
    gemm_params p;
    p.mode = format_.mode;
    p.act = act;
    p.threads = threads;
    std::vector<float> scratch;
    if (format_.sim_activations) {
      scratch.resize(x.rows() * x.cols());
      matrix_view<float> xs(scratch.data(), x.rows(), x.cols());
      for (std::size_t r = 0; r < x.rows(); ++r)
        std::copy(x.row(r).begin(), x.row(r).end(), xs.row(r).begin());
      detail::fake_quantize_rows_int8(xs);
      x = xs;
    }
    std::visit(
        [&](const auto& w) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(w)>, std::monostate>)
            gemm(x, w, y, p);
          else
            throw error(errc::invalid_argument, "qlite::linear: used before it was built");
        },
        packed_);
  }

  [[nodiscard]] const linear_format& format() const noexcept { return format_; }
  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  /// Bytes of the packed weights in memory.
  [[nodiscard]] std::size_t bytes() const noexcept {
    return std::visit(
        [](const auto& w) -> std::size_t {
          if constexpr (std::is_same_v<std::decay_t<decltype(w)>, std::monostate>)
            return 0;
          else
            return w.bytes();
        },
        packed_);
  }
  /// Bytes the format stores per matrix (a file's share): codes + scales (+ zero points).
  [[nodiscard]] double stored_bytes() const noexcept { return stored_bytes_; }

 private:
  using packed_variant =
      std::variant<std::monostate, packed_weights<fp32_format>, packed_weights<bf16_format>,
                   packed_weights<fp16_format>, packed_weights<int8_per_channel_format>,
                   packed_weights<int4_per_group_format<32>>, packed_weights<int4_per_group_format<64>>,
                   packed_weights<int4_per_group_format<128>>,
                   packed_weights<int4_per_group_format<32, asymmetric>>,
                   packed_weights<int4_per_group_format<64, asymmetric>>,
                   packed_weights<int4_per_group_format<128, asymmetric>>, packed_weights<q8_0_format>,
                   packed_weights<q4_0_format>>;

  template <class Block>
  static std::vector<Block> to_blocks(matrix_view<const float> w, std::span<const std::byte> given) {
    const std::size_t per_row = w.cols() / block_traits<Block>::block_size;
    std::vector<Block> b(w.rows() * per_row);
    if (given.size() == b.size() * sizeof(Block)) {
      std::memcpy(b.data(), given.data(), given.size());
      return b;
    }
    for (std::size_t r = 0; r < w.rows(); ++r)
      ref::quantize_row(w.row(r), std::span<Block>(b.data() + r * per_row, per_row));
    return b;
  }

  template <class Q, class Format>
  void pack_quantized(matrix_view<const float> w, const quantized_tensor* given) {
    const Q q;
    const bool reuse =
        given && given->rows == w.rows() && given->cols == w.cols() && given->scheme == Q::scheme &&
        given->bits == Q::layout.bits && given->granularity == Q::granularity &&
        (Q::granularity != granularity_id::per_group || given->group_size == Q::layout.group_size);
    quantized_tensor fresh;
    if (!reuse) fresh = q.quantize(w);
    const quantized_tensor& t = reuse ? *given : fresh;
    stored_bytes_ = static_cast<double>(t.codes.size()) + 2.0 * static_cast<double>(t.scales.size()) +
                    static_cast<double>(t.zero_points.size());  // fp16 scales, as a file stores them
    packed_ = prepack<Format>(t);
  }

  void build(matrix_view<const float> w, linear_format format, std::span<const std::byte> blocks,
             const quantized_tensor* quantized) {
    rows_ = w.rows();
    cols_ = w.cols();
    if (format.k_multiple() > 1 && w.cols() % format.k_multiple() != 0) format = linear_format::parse("f16");
    format_ = format;
    const double n = static_cast<double>(w.rows() * w.cols());
    const std::string& s = format.storage;
    if (format.simulated() && format.scheme == "none") {
      packed_ = prepack<fp32_format>(w);
      stored_bytes_ = 4 * n;
    } else if (format.simulated()) {
      sim_.resize(w.rows() * w.cols());
      matrix_view<float> out(sim_.data(), w.rows(), w.cols());
      find_scheme(format.scheme).fake_quantize(w, out);
      packed_ = prepack<fp32_format>(matrix_view<const float>(sim_.data(), w.rows(), w.cols()));
      sim_.clear();
      sim_.shrink_to_fit();
      stored_bytes_ = n * find_scheme(format.scheme).nominal_bits / 8.0;
    } else if (s == "f32") {
      packed_ = prepack<fp32_format>(w);
      stored_bytes_ = 4 * n;
    } else if (s == "bf16") {
      packed_ = prepack<bf16_format>(w);
      stored_bytes_ = 2 * n;
    } else if (s == "f16") {
      packed_ = prepack<fp16_format>(w);
      stored_bytes_ = 2 * n;
    } else if (s == "int8") {
      pack_quantized<quantizer<symmetric_narrow, per_channel, 8>, int8_per_channel_format>(w, quantized);
    } else if (s == "int4_g32") {
      pack_quantized<quantizer<symmetric, per_group<32>, 4>, int4_per_group_format<32>>(w, quantized);
    } else if (s == "int4_g64") {
      pack_quantized<quantizer<symmetric, per_group<64>, 4>, int4_per_group_format<64>>(w, quantized);
    } else if (s == "int4_g128") {
      pack_quantized<quantizer<symmetric, per_group<128>, 4>, int4_per_group_format<128>>(w, quantized);
    } else if (s == "int4a_g32") {
      pack_quantized<quantizer<asymmetric, per_group<32>, 4>, int4_per_group_format<32, asymmetric>>(
          w, quantized);
    } else if (s == "int4a_g64") {
      pack_quantized<quantizer<asymmetric, per_group<64>, 4>, int4_per_group_format<64, asymmetric>>(
          w, quantized);
    } else if (s == "int4a_g128") {
      pack_quantized<quantizer<asymmetric, per_group<128>, 4>, int4_per_group_format<128, asymmetric>>(
          w, quantized);
    } else if (s == "q8_0") {
      const auto b = to_blocks<block_q8_0>(w, blocks);
      packed_ = prepack<q8_0_format>(std::span<const block_q8_0>(b), w.rows(), w.cols());
      stored_bytes_ = static_cast<double>(b.size() * sizeof(block_q8_0));
    } else if (s == "q4_0") {
      const auto b = to_blocks<block_q4_0>(w, blocks);
      packed_ = prepack<q4_0_format>(std::span<const block_q4_0>(b), w.rows(), w.cols());
      stored_bytes_ = static_cast<double>(b.size() * sizeof(block_q4_0));
    } else {
      throw error(errc::invalid_argument, "qlite::linear: unknown storage '" + s + "'");
    }
  }

  linear_format format_;
  std::size_t rows_ = 0, cols_ = 0;
  double stored_bytes_ = 0;
  packed_variant packed_;
  std::vector<float> sim_;
};

}  // namespace qlite
