// qlite — write a checkpoint to a GGUF or safetensors file in the formats a policy chooses.
//
// This is qlite-quantize's engine (examples/qlite-quantize.cpp only parses arguments and
// prints): export_checkpoint(ck, "out.gguf", {.policy = "q4_0"}) writes every weight of `ck`
// in the storage the policy gives it, through the file writers of io/.
//
// Policy: precision_policy's text form (model/precision_policy.hpp: a default for the block
// linears, then <glob>=<format> rules, later rules winning), plus the storage "q4_1" (GGUF and
// safetensors; qlite's run-time linears have no Q4_1 kernel). Only the storage part of a format
// matters: the run-time modes @a8 / @bf16 are ignored (a notice says so); sim:<scheme> is a
// simulation, not a storage, and is refused. Norms (1-D) are always F32; the embedding and the
// classifier are F32 unless a rule names them.
//
//   storage     GGUF type            safetensors
//   f32         F32                  F32
//   f16, bf16   F16, BF16            F16, BF16
//   q8_0 q4_0   Q8_0, Q4_0           U8 ggml blocks  (io/quantized_safetensors.hpp)
//   q4_1        Q4_1                 U8 ggml blocks
//   int8        — (refused)          component tensors .codes/.scales (+.zero_points)
//   int4_g*, int4a_g*  — (refused)   component tensors
//
// Fallback: a matrix whose row length is not a multiple of its format's block or group (32,
// 64 or 128; stories260K's ffn_down rows are 172 wide) is stored as F16, with a notice, as
// llama.cpp's quantize does and as qlite::linear runs it (model/linear.hpp).
//
// What llama.cpp sees (GGUF): llama.cpp's tensor names, and the metadata of the llama
// architecture: general.architecture, general.name, general.file_type (LLAMA_FTYPE of the
// type holding most block-linear weights: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q4_1 3,
// MOSTLY_Q8_0 7, MOSTLY_BF16 32), llama.context_length, embedding_length, feed_forward_length,
// block_count, attention.head_count(_kv), rope.dimension_count, attention.layer_norm_rms_epsilon,
// rope.freq_base; and the vocabulary: every tokenizer.ggml.* key of a GGUF input, or, from a
// llama2.c tokenizer.bin (export_options::tokenizer), what llama.cpp's llama2c converter
// writes: model "llama", tokens ("<unk>", "<s>", "</s>" for ids 0–2, the pieces otherwise with
// ' ' written as U+2581 "▁"), scores, token_type (2 unknown, 3 control, 6 byte for "<0xXX>",
// 1 normal), bos 1, eos 2, unk 0. A tied classifier is written as no output.weight: llama.cpp
// then multiplies by token_embd.weight (the llama2c converter instead wrote a copy; an untied
// model, such as that converter's GGUF, keeps its output.weight).
//
// safetensors: the llama.* config keys of model/checkpoint.hpp as decimal strings in
// __metadata__, plus general.architecture, general.name and qlite.policy; no tokenizer.
//
// Contract
//   - Nothing is written when the policy, the container or a tensor's storage is refused (all
//     errors come before the file is opened); the write is atomic (io/atomic_file.hpp): a
//     failure leaves no partial file, and the input (kept mapped by the checkpoint) is never
//     overwritten. An existing destination is refused unless options.overwrite.
//   - Block bytes are ggml's reference quantization of the fp32 weights (ref::quantize_row);
//     qlite schemes are find_scheme(storage).quantize. A tensor the checkpoint already holds in
//     the requested storage (Q8_0/Q4_0 blocks, a quantized_tensor) is copied, not re-quantized.
//   - errc::invalid_argument for a bad policy, container or storage; io errors from the writers.
//
// Cost: one quantization pass over the weights plus the write; memory = the output's size.
//
//   qlite::checkpoint ck = qlite::load_checkpoint("stories260K.bin");
//   qlite::export_options o;
//   o.policy = "q8_0";
//   o.tokenizer = "tok512.bin";
//   qlite::export_report r = qlite::export_checkpoint(ck, "stories260K-q8_0.gguf", o);
//   // r.tensors[i].stored == "q8_0" (or "f16" for ffn_down), r.output_bytes, r.bits_per_weight()
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qlite/core/bf16.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"
#include "qlite/io/gguf.hpp"
#include "qlite/io/llama2c.hpp"
#include "qlite/io/quantized_safetensors.hpp"
#include "qlite/io/safetensors.hpp"
#include "qlite/model/checkpoint.hpp"
#include "qlite/model/linear.hpp"
#include "qlite/model/precision_policy.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/named_schemes.hpp"

namespace qlite {

/// Which storage each tensor gets in a file (see the file comment).
struct export_policy {
  std::string blocks = "f32";                              ///< the block linears' default storage
  std::vector<std::pair<std::string, std::string>> rules;  ///< glob → storage, later wins
  std::vector<std::string> notices;                        ///< e.g. "@a8 is a run-time mode ..."

  /// The storage of the 2-D tensor `name` (before the row-length fallback).
  [[nodiscard]] std::string storage_of(std::string_view name) const {
    std::optional<std::string> r;
    for (const auto& [pattern, s] : rules)
      if (glob_match(pattern, name)) r = s;
    if (r) return *r;
    return precision_policy::is_block_linear(name) ? blocks : std::string("f32");
  }

  /// Parses precision_policy's text form plus "q4_1"; errc::invalid_argument naming the part.
  static export_policy parse(std::string_view text) {
    export_policy p;
    auto storage = [&p](std::string_view f) -> std::string {
      if (f == "q4_1") return "q4_1";
      const linear_format lf = linear_format::parse(f);  // validates, throws with the known names
      if (lf.simulated())
        throw error(errc::invalid_argument,
                    "policy: '" + std::string(f) +
                        "' simulates a scheme at run time; a file stores real formats (use the storage, "
                        "e.g. q8_0 or int4_g32)");
      if (lf.mode != gemm_mode::weight_only)
        p.notices.push_back("'" + std::string(f) + "': @" +
                            (lf.mode == gemm_mode::int8_activations ? "a8" : "bf16") +
                            " is a run-time activation mode; the file stores " + lf.storage);
      return lf.storage;
    };
    // Validate the whole text with precision_policy's grammar, q4_1 standing in as f32.
    bool first = true;
    std::string_view rest = text;
    while (true) {
      const std::size_t comma = rest.find(',');
      const std::string_view part = rest.substr(0, comma);
      if (part.empty())
        throw error(errc::invalid_argument, "policy: empty entry in '" + std::string(text) + "'");
      const std::size_t eq = part.find('=');
      if (first && eq == std::string_view::npos) {
        p.blocks = storage(part);
      } else if (eq == std::string_view::npos || eq == 0) {
        throw error(errc::invalid_argument, "policy: '" + std::string(part) +
                                                "' is not <pattern>=<format> (only the first entry may "
                                                "be a bare format)");
      } else {
        p.rules.emplace_back(std::string(part.substr(0, eq)), storage(part.substr(eq + 1)));
      }
      first = false;
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    return p;
  }
};

/// The two containers export_checkpoint writes.
enum class export_container { gguf, safetensors };

/// The container of `path` by its extension (.gguf, .safetensors); errc::invalid_argument otherwise.
inline export_container container_of(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".gguf") return export_container::gguf;
  if (ext == ".safetensors") return export_container::safetensors;
  throw error(errc::invalid_argument,
              path + ": the output's extension must be .gguf or .safetensors, found '" + ext + "'");
}

/// What export_checkpoint did with one tensor.
struct export_tensor {
  std::string name;
  std::vector<std::size_t> shape;
  std::string requested;  ///< the policy's storage
  std::string stored;     ///< what the file holds ("f16" after a fallback)
  std::uint64_t bytes = 0;
  std::string note;  ///< why stored differs from requested, or ""
};

struct export_options {
  std::string policy = "f32";  ///< export_policy text
  std::string tokenizer;       ///< llama2.c tokenizer.bin for a GGUF's vocabulary ("" = from a GGUF input)
  std::string name;            ///< general.name ("" = the input GGUF's, else the input's file stem)
  bool overwrite = false;      ///< replace an existing destination
  /// Called once per tensor after it is encoded: (tensor, index, count).
  std::function<void(const export_tensor&, std::size_t, std::size_t)> on_tensor;
};

struct export_report {
  export_container container = export_container::gguf;
  std::vector<export_tensor> tensors;
  std::vector<std::string> notices;  ///< policy notices, fallbacks, tokenizer remarks
  std::uint32_t file_type = 0;       ///< GGUF general.file_type written
  std::uint64_t input_bytes = 0, output_bytes = 0;
  std::uint64_t weights = 0;     ///< elements written
  std::uint64_t data_bytes = 0;  ///< bytes of tensor data (without header and padding)
  double seconds = 0;

  /// Bits per weight of the tensor data.
  [[nodiscard]] double bits_per_weight() const noexcept {
    return weights ? 8.0 * static_cast<double>(data_bytes) / static_cast<double>(weights) : 0.0;
  }
  /// Tensor count per stored type.
  [[nodiscard]] std::map<std::string, std::size_t> count_by_type() const {
    std::map<std::string, std::size_t> m;
    for (const auto& t : tensors) ++m[t.stored];
    return m;
  }
};

namespace detail {

/// Elements per block/group a storage needs along a row (1: none).
inline std::size_t storage_row_multiple(std::string_view s) {
  if (s == "q8_0" || s == "q4_0" || s == "q4_1" || s.ends_with("_g32")) return 32;
  if (s.ends_with("_g64")) return 64;
  if (s.ends_with("_g128")) return 128;
  return 1;
}

inline std::optional<ggml_type> gguf_type_of(std::string_view s) {
  if (s == "f32") return ggml_type::f32;
  if (s == "f16") return ggml_type::f16;
  if (s == "bf16") return ggml_type::bf16;
  if (s == "q8_0") return ggml_type::q8_0;
  if (s == "q4_0") return ggml_type::q4_0;
  if (s == "q4_1") return ggml_type::q4_1;
  return std::nullopt;
}

/// llama.cpp's LLAMA_FTYPE for a storage.
inline std::uint32_t llama_file_type(std::string_view s) {
  if (s == "f16") return 1;
  if (s == "q4_0") return 2;
  if (s == "q4_1") return 3;
  if (s == "q8_0") return 7;
  if (s == "bf16") return 32;
  return 0;
}

/// ggml blocks of `type` ("q8_0", "q4_0", "q4_1") for a rows × cols fp32 matrix, ggml's
/// reference rounding, rows back to back.
inline std::vector<std::byte> encode_ggml_blocks(std::string_view type, std::span<const float> w,
                                                 std::size_t cols) {
  std::vector<std::byte> out;
  ref::visit_block_type(type, [&]<class Block>(Block*) {
    out.resize(w.size() / block_traits<Block>::block_size * sizeof(Block));
    ref::quantize_rows<Block>(w, cols, out);
  });
  return out;
}

inline std::vector<std::byte> encode_half(std::string_view type, std::span<const float> w) {
  std::vector<std::byte> out(2 * w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::uint16_t h = type == "f16" ? ref::fp32_to_fp16_bits(w[i]) : ref::fp32_to_bf16_bits(w[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

}  // namespace detail

/// The GGUF vocabulary llama.cpp's llama2c converter writes for a llama2.c tokenizer.bin.
inline std::vector<std::pair<std::string, gguf_value>> llama2c_tokenizer_gguf(const llama2c_tokenizer& tok) {
  std::vector<std::string> tokens;
  std::vector<std::int32_t> types;
  for (std::size_t i = 0; i < tok.pieces.size(); ++i) {
    const std::string& p = tok.pieces[i];
    std::string t;
    std::int32_t type = 1;  // normal
    if (i == 0) {
      t = "<unk>", type = 2;  // unknown
    } else if (i == 1 || i == 2) {
      t = i == 1 ? "<s>" : "</s>", type = 3;  // control
    } else {
      for (char c : p) t += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);  // U+2581
      const bool hex = p.size() == 6 && p.starts_with("<0x") && p.back() == '>' &&
                       std::isxdigit(static_cast<unsigned char>(p[3])) &&
                       std::isxdigit(static_cast<unsigned char>(p[4]));
      if (hex) type = 6;  // byte
    }
    tokens.push_back(std::move(t));
    types.push_back(type);
  }
  return {{"tokenizer.ggml.model", gguf_value(std::string("llama"))},
          {"tokenizer.ggml.tokens", gguf_value::array(tokens)},
          {"tokenizer.ggml.scores", gguf_value::array(tok.scores)},
          {"tokenizer.ggml.token_type", gguf_value::array(types)},
          {"tokenizer.ggml.unknown_token_id", gguf_value(std::uint32_t{0})},
          {"tokenizer.ggml.bos_token_id", gguf_value(std::uint32_t{1})},
          {"tokenizer.ggml.eos_token_id", gguf_value(std::uint32_t{2})}};
}

/// The GGUF metadata of a llama checkpoint (see the file comment), without the tokenizer.
inline std::vector<std::pair<std::string, gguf_value>> llama_gguf_metadata(const llama_config& c,
                                                                           const std::string& name,
                                                                           std::uint32_t file_type) {
  auto u32 = [](std::size_t v) { return gguf_value(static_cast<std::uint32_t>(v)); };
  return {{"general.architecture", gguf_value(std::string("llama"))},
          {"general.name", gguf_value(name)},
          {"general.file_type", gguf_value(file_type)},
          {"llama.context_length", u32(c.seq_len)},
          {"llama.embedding_length", u32(c.dim)},
          {"llama.feed_forward_length", u32(c.hidden_dim)},
          {"llama.block_count", u32(c.n_layers)},
          {"llama.attention.head_count", u32(c.n_heads)},
          {"llama.attention.head_count_kv", u32(c.n_kv_heads)},
          {"llama.rope.dimension_count", u32(c.head_size())},
          {"llama.attention.layer_norm_rms_epsilon", gguf_value(c.norm_eps)},
          {"llama.rope.freq_base", gguf_value(c.rope_theta)}};
}

/// Writes `in` to `path` (.gguf or .safetensors) as the options say (see the file comment).
inline export_report export_checkpoint(const checkpoint& in, const std::string& path,
                                       const export_options& options = {}) {
  const auto start = std::chrono::steady_clock::now();
  export_report rep;
  rep.container = container_of(path);
  const bool gguf = rep.container == export_container::gguf;
  const export_policy policy = export_policy::parse(options.policy);
  std::error_code ec;
  if (is_mapped(path) || std::filesystem::equivalent(path, in.path, ec))
    throw error(errc::invalid_argument, path + ": refusing to overwrite the input");
  if (!options.overwrite && std::filesystem::exists(path))
    throw error(errc::invalid_argument, path + ": exists (pass --force / overwrite to replace it)");
  rep.notices = policy.notices;
  rep.input_bytes = in.file_bytes;

  // Plan: the storage of every tensor, refusing what the container cannot hold.
  const auto expected = checkpoint::expected_tensors(in.config);
  std::map<std::string, std::uint64_t> block_weights;  // stored type → block-linear elements
  for (const auto& [name, shape] : expected) {
    const model_tensor& t = in.at(name);
    export_tensor e;
    e.name = name;
    e.shape = t.shape;
    e.requested = t.shape.size() == 2 ? policy.storage_of(name) : "f32";
    e.stored = e.requested;
    const std::size_t k = detail::storage_row_multiple(e.stored);
    if (t.cols() % k != 0) {
      e.stored = "f16";
      e.note = "row length " + std::to_string(t.cols()) + " is not a multiple of " + e.requested + "'s " +
               std::to_string(k) + ": stored as f16";
      rep.notices.push_back(name + ": " + e.note);
    }
    if (gguf && !detail::gguf_type_of(e.stored))
      throw error(errc::invalid_argument, path + ": tensor '" + name + "': " + e.stored +
                                              " is a qlite format, not a GGUF type (GGUF: f32 f16 bf16 q8_0 "
                                              "q4_0 q4_1); write a .safetensors file for qlite formats");
    if (precision_policy::is_block_linear(name)) block_weights[e.stored] += t.rows() * t.cols();
    rep.tensors.push_back(std::move(e));
  }
  for (const auto& [pattern, s] : policy.rules)
    if (in.config.tied_classifier && pattern == "output.weight")
      rep.notices.push_back("output.weight=" + s +
                            " ignored: the classifier is tied to token_embd.weight, which is written");
  {
    std::uint64_t best = 0;
    for (const auto& [s, n] : block_weights)
      if (n > best) best = n, rep.file_type = detail::llama_file_type(s);
  }

  // The GGUF vocabulary, read before anything is written.
  std::vector<std::pair<std::string, gguf_value>> vocab;
  std::string name = options.name;
  if (gguf) {
    if (!options.tokenizer.empty()) {
      vocab = llama2c_tokenizer_gguf(read_llama2c_tokenizer(options.tokenizer, in.config.vocab_size));
    } else if (in.format == "gguf") {
      const gguf_file src(in.path);
      for (const auto& [k, v] : src.metadata())
        if (k.starts_with("tokenizer.")) vocab.emplace_back(k, v);
      if (name.empty())
        if (const auto* n = src.find("general.name"); n && n->get_if<std::string>())
          name = *n->get_if<std::string>();
    } else {
      rep.notices.push_back(
          "no tokenizer: llama.cpp needs one to run text (give the llama2.c tokenizer.bin)");
    }
  } else if (!options.tokenizer.empty()) {
    rep.notices.push_back("the safetensors output holds no tokenizer; " + options.tokenizer + " is not used");
  }
  if (name.empty()) name = std::filesystem::path(in.path).stem().string();

  // Encode, keeping every buffer alive until the write.
  std::deque<std::vector<std::byte>> buffers;
  std::deque<quantized_tensor> quantized;
  gguf_writer gw;
  safetensors_writer sw;
  if (gguf) {
    for (auto& [k, v] : llama_gguf_metadata(in.config, name, rep.file_type)) gw.set(k, std::move(v));
    for (auto& [k, v] : vocab) gw.set(k, std::move(v));
  } else {
    const llama_config& c = in.config;
    auto num = [](double v) {
      char b[32];
      std::snprintf(b, sizeof b, "%.9g", v);
      return std::string(b);
    };
    sw.set_metadata("general.architecture", "llama");
    sw.set_metadata("general.name", name);
    sw.set_metadata("llama.context_length", std::to_string(c.seq_len));
    sw.set_metadata("llama.embedding_length", std::to_string(c.dim));
    sw.set_metadata("llama.feed_forward_length", std::to_string(c.hidden_dim));
    sw.set_metadata("llama.block_count", std::to_string(c.n_layers));
    sw.set_metadata("llama.attention.head_count", std::to_string(c.n_heads));
    sw.set_metadata("llama.attention.head_count_kv", std::to_string(c.n_kv_heads));
    sw.set_metadata("llama.rope.freq_base", num(c.rope_theta));
    sw.set_metadata("llama.attention.layer_norm_rms_epsilon", num(c.norm_eps));
    sw.set_metadata("qlite.policy", options.policy);
  }
  for (std::size_t i = 0; i < rep.tensors.size(); ++i) {
    export_tensor& e = rep.tensors[i];
    const model_tensor& t = in.at(e.name);
    const std::size_t rows = t.rows(), cols = t.cols();
    const std::span<const float> w = t.values;
    const std::string& s = e.stored;
    std::span<const std::byte> bytes;
    if (s == "f32") {
      bytes = std::as_bytes(w);
    } else if (s == "f16" || s == "bf16") {
      bytes = buffers.emplace_back(detail::encode_half(s, w));
    } else if (s == "q8_0" || s == "q4_0" || s == "q4_1") {
      if (t.encoding == s && !t.blocks.empty())
        bytes = t.blocks;
      else
        bytes = buffers.emplace_back(detail::encode_ggml_blocks(s, w, cols));
    }
    if (gguf) {
      std::vector<std::uint64_t> shape(t.shape.begin(), t.shape.end());
      gw.add_tensor_bytes(e.name, std::move(shape), *detail::gguf_type_of(s), bytes);
    } else if (s == "f32" || s == "f16" || s == "bf16") {
      sw.add(e.name,
             s == "f32"   ? st_dtype::f32
             : s == "f16" ? st_dtype::f16
                          : st_dtype::bf16,
             t.shape, bytes);
    } else if (!bytes.empty()) {
      add_ggml_blocks(sw, e.name, s, rows, cols, bytes);
    } else {
      const quantized_tensor& q = t.quantized && t.encoding == s
                                      ? *t.quantized
                                      : quantized.emplace_back(find_scheme(s).quantize(
                                            matrix_view<const float>(w.data(), rows, cols)));
      add_quantized(sw, e.name, q);
      bytes = {};
      e.bytes = q.codes.size() + q.scales.size() * sizeof(float) + q.zero_points.size();
    }
    if (!bytes.empty()) e.bytes = bytes.size();
    rep.weights += rows * cols;
    rep.data_bytes += e.bytes;
    if (options.on_tensor) options.on_tensor(e, i, rep.tensors.size());
  }
  const write_options wo{.overwrite = options.overwrite};
  if (gguf)
    gw.write(path, wo);
  else
    sw.write(path, wo);
  rep.output_bytes = std::filesystem::file_size(path);
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return rep;
}

}  // namespace qlite
