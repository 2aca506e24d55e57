// qlite — llama2.c checkpoints (legacy and "version 1") and llama2.c tokenizer.bin files.
//
// Formats (all little-endian; ../shared/data/models/README.md and llama2.c's export.py):
//
//   legacy   [dim hidden_dim n_layers n_heads n_kv_heads vocab_size seq_len : 7 × int32]
//            fp32: token_embedding[V][D] rms_att[L][D] wq[L][D][D] wk[L][KV][D] wv[L][KV][D]
//                  wo[L][D][D] rms_ffn[L][D] w1[L][H][D] w2[L][D][H] w3[L][H][D] rms_final[D]
//                  freq_cis_real[S][hs/2] freq_cis_imag[S][hs/2] [wcls[V][D] if vocab_size < 0]
//   version 1 [magic 0x616b3432 "ak42" : u32][version = 1 : i32][7 × int32 config]
//            [shared_classifier : u8][zero padding to 256 bytes]
//            fp32: rms_att[L][D] rms_ffn[L][D] rms_final[D] token_embedding[V][D] wq wk wv wo
//                  w1 w2 w3 (each for all layers) [wcls[V][D] if not shared]
//   (D = dim, H = hidden_dim, L = n_layers, V = |vocab_size|, S = seq_len,
//    hs = D / n_heads, KV = n_kv_heads · hs; every matrix is [out][in], row-major.)
//
//   tokenizer.bin  [max_token_length : i32] then per token [score : f32][len : i32][len bytes]
//
// Contract
//   llama2c_checkpoint maps the file (or parses bytes the caller keeps alive) and exposes every weight as a
//   named fp32 view into the mapping (no copy), with llama.cpp's GGUF tensor names and row-major shapes,
//   outermost first: "token_embd.weight" [V][D], "output_norm.weight" [D], "output.weight" [V][D] (only when
//   the classifier is not shared: a tied model uses token_embd.weight), and per layer
//   "blk.N.attn_norm.weight" [D], "blk.N.attn_q.weight" [D][D], "blk.N.attn_k.weight" [KV][D],
//   "blk.N.attn_v.weight" [KV][D], "blk.N.attn_output.weight" [D][D], "blk.N.ffn_norm.weight"
//   [D], "blk.N.ffn_gate.weight" (w1) [H][D], "blk.N.ffn_down.weight" (w2) [D][H],
//   "blk.N.ffn_up.weight" (w3) [H][D]. The legacy RoPE tables are validated and skipped.
//   Validation: every config field positive (vocab_size ≠ 0), dim divisible by n_heads,
//   n_heads divisible by n_kv_heads, all sizes overflow-checked, and the file size equal to
//   the header's promise; otherwise qlite::error(errc::format) naming file, offset, field.
//   Version 2 (int8) exports throw errc::unsupported.
//
//   read_llama2c_tokenizer reads pieces, scores and max_token_length; with vocab_size it
//   reads exactly that many tokens and requires the file to end there, without it reads to
//   the end. Each length must satisfy 0 ≤ len ≤ max_token_length and scores must not be NaN.
//
// Cost: checkpoint O(n_layers) after the O(1) map; tokenizer O(file size).
//
//   qlite::llama2c_checkpoint ck("stories260K.bin");
//   const auto& wq = ck.at("blk.0.attn_q.weight");      // wq.shape == {64, 64}
//   float w = wq.data[3 * 64 + 5];                       // row 3 (output 3), column 5
//   auto tok = qlite::read_llama2c_tokenizer("tok512.bin", ck.config().vocab_size);
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/io/binary.hpp"
#include "qlite/io/mmap.hpp"

namespace qlite {

/// The 7 fields of a llama2.c header plus what the format version adds.
struct llama2c_config {
  std::int32_t dim = 0;         ///< model width D
  std::int32_t hidden_dim = 0;  ///< FFN width H
  std::int32_t n_layers = 0;
  std::int32_t n_heads = 0;
  std::int32_t n_kv_heads = 0;
  std::int32_t vocab_size = 0;  ///< always positive here (the legacy sign is decoded)
  std::int32_t seq_len = 0;
  bool shared_classifier = true;  ///< classifier tied to the token embedding
  int version = 0;                ///< 0 = legacy, 1 = version 1

  [[nodiscard]] std::int32_t head_size() const noexcept { return dim / n_heads; }
  [[nodiscard]] std::int32_t kv_dim() const noexcept { return n_kv_heads * head_size(); }
};

/// A named fp32 tensor viewed in place: row-major, shape outermost first.
struct float_tensor_view {
  std::string name;
  std::vector<std::size_t> shape;
  std::span<const float> data;
  std::uint64_t file_offset = 0;  ///< where the data starts in the file
};

/// A mapped llama2.c checkpoint.
class llama2c_checkpoint {
 public:
  explicit llama2c_checkpoint(std::string path) : owned_(std::in_place, std::move(path)) {
    bytes_ = owned_->bytes();
    name_ = owned_->path();
    parse();
  }
  /// Parses `bytes` (which must outlive this object); `name` is used in error messages.
  llama2c_checkpoint(std::span<const std::byte> bytes, std::string name)
      : bytes_(bytes), name_(std::move(name)) {
    parse();
  }
  llama2c_checkpoint(const llama2c_checkpoint&) = delete;
  llama2c_checkpoint& operator=(const llama2c_checkpoint&) = delete;
  llama2c_checkpoint(llama2c_checkpoint&&) = default;
  llama2c_checkpoint& operator=(llama2c_checkpoint&&) = default;

  [[nodiscard]] const llama2c_config& config() const noexcept { return config_; }
  [[nodiscard]] std::span<const float_tensor_view> tensors() const noexcept { return tensors_; }
  /// The path (or the name given with the bytes).
  [[nodiscard]] const std::string& path() const noexcept { return name_; }

  /// The tensor called `name`, or nullptr.
  [[nodiscard]] const float_tensor_view* find(std::string_view name) const noexcept {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }
  /// The tensor called `name`; throws qlite::error(invalid_argument) when there is none.
  [[nodiscard]] const float_tensor_view& at(std::string_view name) const {
    if (const auto* t = find(name)) return *t;
    throw error(errc::invalid_argument, name_ + ": no tensor named '" + std::string(name) + "'");
  }

 private:
  void parse() {
    const std::string& fn = name_;
    if (reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(float) != 0) {
      throw error(errc::invalid_argument, fn + ": the bytes must be 4-byte aligned to be viewed as fp32");
    }
    detail::byte_reader r(bytes_, fn);
    std::uint64_t data_start = 28;
    if (bytes_.size() >= 4 && r.read<std::uint32_t>("magic") == 0x616b3432u) {
      const auto export_version = r.read<std::int32_t>("version");
      if (export_version != 1) {
        throw error(errc::unsupported, fn + ": offset 4: version: llama2.c export version " +
                                           std::to_string(export_version) + " is not supported (expected 1)");
      }
      config_.version = 1;
      read_config(r);
      const auto shared = r.read<std::uint8_t>("shared_classifier");
      if (shared > 1) r.fail_at(36, "shared_classifier", "expected 0 or 1, found " + std::to_string(shared));
      config_.shared_classifier = shared == 1;
      data_start = 256;
      r.need(256 - r.offset(), "header padding");
    } else {
      r.seek(0, "header");
      read_config(r);
      config_.shared_classifier = raw_vocab_ > 0;
    }

    const auto D = static_cast<std::uint64_t>(config_.dim);
    const auto H = static_cast<std::uint64_t>(config_.hidden_dim);
    const auto L = static_cast<std::uint64_t>(config_.n_layers);
    const auto V = static_cast<std::uint64_t>(config_.vocab_size);
    const auto S = static_cast<std::uint64_t>(config_.seq_len);
    const auto hs = static_cast<std::uint64_t>(config_.head_size());
    const auto KV = static_cast<std::uint64_t>(config_.kv_dim());

    std::uint64_t cursor = data_start;  // in floats after data_start, tracked in bytes
    auto mul = [&](std::uint64_t a, std::uint64_t b) { return detail::checked_mul(a, b, fn, 0, "header"); };
    // Reserve `count` floats at the cursor; returns the byte offset.
    auto take = [&](std::uint64_t count, const char* what) {
      const std::uint64_t off = cursor;
      const std::uint64_t bytes = detail::checked_mul(count, 4, fn, off, what);
      cursor = detail::checked_add(cursor, bytes, fn, off, what);
      if (cursor > bytes_.size()) {
        r.fail_at(off, what,
                  "expected " + std::to_string(bytes) + " bytes of weights, found " +
                      std::to_string(off < bytes_.size() ? bytes_.size() - off : 0) +
                      " before the end of the file (the header promises a larger model)");
      }
      return off;
    };
    auto add = [&](std::string name, std::vector<std::size_t> shape, std::uint64_t off) {
      std::uint64_t n = 1;
      for (auto s : shape) n *= s;  // bounded by the checked totals
      const auto* p = reinterpret_cast<const float*>(bytes_.data() + off);
      tensors_.push_back({std::move(name), std::move(shape), {p, static_cast<std::size_t>(n)}, off});
    };
    auto per_layer = [&](const char* what, const char* suffix, std::uint64_t rows, std::uint64_t cols,
                         std::uint64_t base) {
      const std::uint64_t per = mul(rows, cols);
      for (std::uint64_t l = 0; l < L; ++l) {
        std::vector<std::size_t> shape = cols == 1 ? std::vector<std::size_t>{static_cast<std::size_t>(rows)}
                                                   : std::vector<std::size_t>{static_cast<std::size_t>(rows),
                                                                              static_cast<std::size_t>(cols)};
        add("blk." + std::to_string(l) + "." + suffix, std::move(shape), base + l * per * 4);
      }
      (void)what;
    };
    auto layer_block = [&](const char* what, const char* suffix, std::uint64_t rows, std::uint64_t cols) {
      const std::uint64_t off = take(mul(L, mul(rows, cols)), what);
      per_layer(what, suffix, rows, cols, off);
    };

    if (config_.version == 0) {
      add("token_embd.weight", {V, D}, take(mul(V, D), "token_embedding"));
      layer_block("rms_att", "attn_norm.weight", D, 1);
      layer_block("wq", "attn_q.weight", D, D);
      layer_block("wk", "attn_k.weight", KV, D);
      layer_block("wv", "attn_v.weight", KV, D);
      layer_block("wo", "attn_output.weight", D, D);
      layer_block("rms_ffn", "ffn_norm.weight", D, 1);
      layer_block("w1", "ffn_gate.weight", H, D);
      layer_block("w2", "ffn_down.weight", D, H);
      layer_block("w3", "ffn_up.weight", H, D);
      add("output_norm.weight", {D}, take(D, "rms_final"));
      take(mul(S, hs / 2), "freq_cis_real");
      take(mul(S, hs / 2), "freq_cis_imag");
    } else {
      layer_block("rms_att", "attn_norm.weight", D, 1);
      layer_block("rms_ffn", "ffn_norm.weight", D, 1);
      add("output_norm.weight", {D}, take(D, "rms_final"));
      add("token_embd.weight", {V, D}, take(mul(V, D), "token_embedding"));
      layer_block("wq", "attn_q.weight", D, D);
      layer_block("wk", "attn_k.weight", KV, D);
      layer_block("wv", "attn_v.weight", KV, D);
      layer_block("wo", "attn_output.weight", D, D);
      layer_block("w1", "ffn_gate.weight", H, D);
      layer_block("w2", "ffn_down.weight", D, H);
      layer_block("w3", "ffn_up.weight", H, D);
    }
    if (!config_.shared_classifier) add("output.weight", {V, D}, take(mul(V, D), "wcls"));
    if (cursor != bytes_.size()) {
      r.fail_at(cursor, "end of file",
                "expected the file to end after the weights at " + std::to_string(cursor) + " bytes, found " +
                    std::to_string(bytes_.size()) + " bytes");
    }
  }

  void read_config(detail::byte_reader& r) {
    const std::uint64_t base = r.offset();
    static constexpr const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                             "n_kv_heads", "vocab_size", "seq_len"};
    std::int32_t v[7];
    for (int i = 0; i < 7; ++i) v[i] = r.read<std::int32_t>(names[i]);
    for (int i = 0; i < 7; ++i) {
      const bool ok = i == 5 ? (v[i] != 0 && v[i] != INT32_MIN) : v[i] > 0;
      if (!ok) {
        r.fail_at(base + 4 * static_cast<std::uint64_t>(i), names[i],
                  std::string(i == 5 ? "expected a non-zero value" : "expected a positive value") +
                      ", found " + std::to_string(v[i]));
      }
    }
    raw_vocab_ = v[5];
    config_.dim = v[0];
    config_.hidden_dim = v[1];
    config_.n_layers = v[2];
    config_.n_heads = v[3];
    config_.n_kv_heads = v[4];
    config_.vocab_size = v[5] < 0 ? -v[5] : v[5];
    config_.seq_len = v[6];
    if (config_.dim % config_.n_heads != 0) {
      r.fail_at(base + 12, "n_heads",
                "expected a divisor of dim " + std::to_string(config_.dim) + ", found " +
                    std::to_string(config_.n_heads));
    }
    if (config_.n_kv_heads > config_.n_heads || config_.n_heads % config_.n_kv_heads != 0) {
      r.fail_at(base + 16, "n_kv_heads",
                "expected a divisor of n_heads " + std::to_string(config_.n_heads) + ", found " +
                    std::to_string(config_.n_kv_heads));
    }
  }

  std::optional<mapped_file> owned_;
  std::span<const std::byte> bytes_;
  std::string name_;
  llama2c_config config_;
  std::int32_t raw_vocab_ = 0;
  std::vector<float_tensor_view> tensors_;
};

/// A llama2.c tokenizer.bin: token pieces (raw bytes) and their merge scores.
struct llama2c_tokenizer {
  std::int32_t max_token_length = 0;
  std::vector<std::string> pieces;  ///< piece i = the bytes of token id i
  std::vector<float> scores;        ///< score i (higher merges first)
};

/// Reads a llama2.c tokenizer.bin (see the top of this file for the contract).
inline llama2c_tokenizer read_llama2c_tokenizer(std::span<const std::byte> bytes, std::string_view name,
                                                std::optional<std::size_t> vocab_size = {}) {
  detail::byte_reader r(bytes, name);
  llama2c_tokenizer t;
  t.max_token_length = r.read<std::int32_t>("max_token_length");
  if (t.max_token_length <= 0 || t.max_token_length > (1 << 20)) {
    r.fail_at(0, "max_token_length",
              "expected a value in [1, 2^20], found " + std::to_string(t.max_token_length));
  }
  if (vocab_size) {
    // Every token needs at least 8 bytes: refuse counts the file cannot hold before reserving.
    if (*vocab_size > r.remaining() / 8) {
      r.fail("tokens", "expected room for " + std::to_string(*vocab_size) +
                           " tokens (≥ 8 bytes each), found " + std::to_string(r.remaining()) + " bytes");
    }
    t.pieces.reserve(*vocab_size);
    t.scores.reserve(*vocab_size);
  }
  std::string field;
  for (std::size_t i = 0; vocab_size ? i < *vocab_size : r.remaining() > 0; ++i) {
    field = "tokens[" + std::to_string(i) + "]";
    const std::uint64_t at = r.offset();
    const auto score = r.read<float>(field);
    if (std::isnan(score)) r.fail_at(at, field + ".score", "expected a number, found NaN");
    const auto len = r.read<std::int32_t>(field);
    if (len < 0 || len > t.max_token_length) {
      r.fail_at(at + 4, field + ".len",
                "expected 0 ≤ len ≤ max_token_length " + std::to_string(t.max_token_length) + ", found " +
                    std::to_string(len));
    }
    t.pieces.push_back(r.string(static_cast<std::uint64_t>(len), field + ".bytes"));
    t.scores.push_back(score);
  }
  if (r.remaining() != 0) {
    r.fail("end of file", "expected the file to end after " + std::to_string(t.pieces.size()) +
                              " tokens, found " + std::to_string(r.remaining()) + " more bytes");
  }
  return t;
}

/// Reads a llama2.c tokenizer.bin file.
inline llama2c_tokenizer read_llama2c_tokenizer(const std::string& path,
                                                std::optional<std::size_t> vocab_size = {}) {
  const mapped_file f(path);
  return read_llama2c_tokenizer(f.bytes(), f.path(), vocab_size);
}

}  // namespace qlite
