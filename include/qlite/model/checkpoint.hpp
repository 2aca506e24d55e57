// qlite — a llama-architecture checkpoint from any supported file: config + named weights.
//
// load_checkpoint(path) recognizes the format by its first bytes, not by the extension:
//
//   "GGUF"                      GGUF v2/v3, general.architecture = llama (io/gguf.hpp)
//   u64 header size + '{'       safetensors as qlite-quantize writes it (llama.cpp tensor names,
//                               the llama.* config keys in __metadata__; io/safetensors.hpp;
//                               quantized weights as io/quantized_safetensors.hpp stores them)
//   0x616b3432 "ak42"           llama2.c version-1 export (io/llama2c.hpp)
//   anything else               llama2.c legacy checkpoint (its header is validated)
//
// Every format yields the same thing: a llama_config and the weights under llama.cpp's GGUF
// names, row-major, outermost dimension first ("blk.3.ffn_down.weight" is hidden_dim wide):
//
//   token_embd.weight [V][D]   output_norm.weight [D]   output.weight [V][D] (absent when tied)
//   blk.N.attn_norm.weight [D]   blk.N.attn_q.weight [D][D]   blk.N.attn_k.weight [KV][D]
//   blk.N.attn_v.weight [KV][D]  blk.N.attn_output.weight [D][D]   blk.N.ffn_norm.weight [D]
//   blk.N.ffn_gate.weight [H][D] (w1)  blk.N.ffn_down.weight [D][H] (w2)  blk.N.ffn_up.weight [H][D] (w3)
//
// Contract
//   - model_tensor::values are the fp32 weights: a view into the mapped file for F32 data
//     (no copy), otherwise the dequantized values owned by the tensor.
//   - model_tensor::encoding names how the file stored it: "f32", "f16", "bf16", a ggml block
//     type ("q8_0", "q4_0", "q4_1", "q4_k", "q6_k") or a qlite scheme (quant/named_schemes.hpp).
//     For Q8_0/Q4_0 the original blocks are kept (`blocks`), and for qlite schemes the
//     quantized_tensor (`quantized`), so the model can run them without re-quantizing.
//   - Validation: every tensor the config implies must be present with the shape it implies
//     (errc::format naming the file, the tensor, the expected and the found shape); unknown
//     extra tensors are ignored; config values must be positive and consistent (dim divisible
//     by n_heads, n_heads by n_kv_heads, even head size for RoPE).
//   - The checkpoint keeps the file mapped while it lives; it is movable, not copyable.
//
// Cost: O(header) plus, for non-F32 tensors, one dequantization pass over their data.
//
//   qlite::checkpoint ck = qlite::load_checkpoint("stories260K.gguf");
//   const qlite::model_tensor& wq = ck.at("blk.0.attn_q.weight");   // wq.rows() == 64
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "qlite/core/convert.hpp"
#include "qlite/core/error.hpp"
#include "qlite/io/gguf.hpp"
#include "qlite/io/llama2c.hpp"
#include "qlite/io/mmap.hpp"
#include "qlite/io/quantized_safetensors.hpp"
#include "qlite/io/safetensors.hpp"
#include "qlite/quant/quantized_tensor.hpp"

namespace qlite {

/// The hyper-parameters of a llama-architecture decoder.
struct llama_config {
  std::size_t dim = 0;         ///< model width D
  std::size_t hidden_dim = 0;  ///< SwiGLU width H
  std::size_t n_layers = 0;
  std::size_t n_heads = 0;
  std::size_t n_kv_heads = 0;  ///< grouped-query attention: n_heads / n_kv_heads queries share a K/V head
  std::size_t vocab_size = 0;
  std::size_t seq_len = 0;  ///< the longest context the KV cache holds
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  bool tied_classifier = true;  ///< logits use token_embd.weight (no output.weight)

  [[nodiscard]] std::size_t head_size() const noexcept { return n_heads ? dim / n_heads : 0; }
  [[nodiscard]] std::size_t kv_dim() const noexcept { return n_kv_heads * head_size(); }
  /// Weights in the block linears, the embedding and (when untied) the classifier.
  [[nodiscard]] std::size_t parameter_count() const noexcept {
    const std::size_t per_layer = 2 * dim * dim + 2 * kv_dim() * dim + 3 * dim * hidden_dim + 2 * dim;
    return n_layers * per_layer + vocab_size * dim * (tied_classifier ? 1 : 2) + dim;
  }
  /// Throws qlite::error(errc::format) naming `where` and the field when inconsistent.
  void validate(const std::string& where) const {
    auto need = [&](bool ok, const std::string& what) {
      if (!ok) throw error(errc::format, where + ": model config: " + what);
    };
    need(dim > 0 && hidden_dim > 0 && n_layers > 0 && n_heads > 0 && n_kv_heads > 0 && vocab_size > 0 &&
             seq_len > 0,
         "every dimension must be positive (dim " + std::to_string(dim) + ", hidden_dim " +
             std::to_string(hidden_dim) + ", n_layers " + std::to_string(n_layers) + ", n_heads " +
             std::to_string(n_heads) + ", n_kv_heads " + std::to_string(n_kv_heads) + ", vocab " +
             std::to_string(vocab_size) + ", seq_len " + std::to_string(seq_len) + ")");
    need(dim % n_heads == 0,
         "dim " + std::to_string(dim) + " is not a multiple of n_heads " + std::to_string(n_heads));
    need(n_heads % n_kv_heads == 0, "n_heads " + std::to_string(n_heads) +
                                        " is not a multiple of n_kv_heads " + std::to_string(n_kv_heads));
    need(head_size() % 2 == 0, "head size " + std::to_string(head_size()) + " is odd (RoPE rotates pairs)");
    need(seq_len <= (std::size_t{1} << 24), "seq_len " + std::to_string(seq_len) + " exceeds 2^24");
    need(rope_theta > 0.0f && norm_eps > 0.0f, "rope theta and norm epsilon must be positive");
  }
};

/// One weight of a checkpoint (see the file comment).
struct model_tensor {
  std::string name;
  std::vector<std::size_t> shape;  ///< row-major, outermost first (1 or 2 dims here)
  std::string encoding = "f32";
  std::span<const float> values;              ///< the fp32 weights (view or into `owned`)
  std::vector<float> owned;                   ///< storage of `values` when the file is not F32
  std::vector<std::byte> blocks;              ///< Q8_0/Q4_0: the file's blocks, row-major
  std::optional<quantized_tensor> quantized;  ///< qlite schemes: the tensor as stored
  std::uint64_t file_bytes = 0;               ///< bytes this tensor occupies in the file

  [[nodiscard]] std::size_t rows() const noexcept { return shape.size() == 2 ? shape[0] : 1; }
  [[nodiscard]] std::size_t cols() const noexcept { return shape.empty() ? 0 : shape.back(); }
  void own(std::vector<float> v) {
    owned = std::move(v);
    values = owned;
  }
};

/// A loaded checkpoint: config + tensors; keeps the source file mapped.
class checkpoint {
 public:
  std::string path;
  std::string format;  ///< "llama2.c legacy", "llama2.c v1", "gguf", "safetensors"
  llama_config config;
  std::vector<model_tensor> tensors;
  std::uint64_t file_bytes = 0;
  std::shared_ptr<const void> source;  ///< keeps mappings alive for the views in `tensors`

  [[nodiscard]] const model_tensor* find(std::string_view name) const noexcept {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
  [[nodiscard]] const model_tensor& at(std::string_view name) const {
    if (const auto* t = find(name)) return *t;
    throw error(errc::format, path + ": no tensor named '" + std::string(name) + "'");
  }

  /// Names and shapes the config implies, in llama.cpp's order.
  [[nodiscard]] static std::vector<std::pair<std::string, std::vector<std::size_t>>> expected_tensors(
      const llama_config& c) {
    std::vector<std::pair<std::string, std::vector<std::size_t>>> out;
    out.push_back({"token_embd.weight", {c.vocab_size, c.dim}});
    out.push_back({"output_norm.weight", {c.dim}});
    if (!c.tied_classifier) out.push_back({"output.weight", {c.vocab_size, c.dim}});
    for (std::size_t l = 0; l < c.n_layers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      out.push_back({b + "attn_norm.weight", {c.dim}});
      out.push_back({b + "attn_q.weight", {c.dim, c.dim}});
      out.push_back({b + "attn_k.weight", {c.kv_dim(), c.dim}});
      out.push_back({b + "attn_v.weight", {c.kv_dim(), c.dim}});
      out.push_back({b + "attn_output.weight", {c.dim, c.dim}});
      out.push_back({b + "ffn_norm.weight", {c.dim}});
      out.push_back({b + "ffn_gate.weight", {c.hidden_dim, c.dim}});
      out.push_back({b + "ffn_down.weight", {c.dim, c.hidden_dim}});
      out.push_back({b + "ffn_up.weight", {c.hidden_dim, c.dim}});
    }
    return out;
  }

  /// Checks that every expected tensor is present with its shape (errc::format otherwise).
  void validate() const {
    config.validate(path);
    for (const auto& [name, shape] : expected_tensors(config)) {
      const model_tensor* t = find(name);
      if (!t) throw error(errc::format, path + ": tensor '" + name + "' is missing");
      if (t->shape != shape)
        throw error(errc::format, path + ": tensor '" + name + "': expected shape " + shape_text(shape) +
                                      ", found " + shape_text(t->shape));
      if (t->values.size() != t->rows() * t->cols())
        throw error(errc::format, path + ": tensor '" + name + "': holds " +
                                      std::to_string(t->values.size()) + " values, expected " +
                                      std::to_string(t->rows() * t->cols()));
    }
  }

  static std::string shape_text(const std::vector<std::size_t>& s) {
    std::string r = "[";
    for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  }
};

namespace detail {

inline checkpoint load_llama2c_checkpoint(const std::string& path) {
  auto ck = std::make_shared<llama2c_checkpoint>(path);
  checkpoint out;
  out.path = path;
  const llama2c_config& c = ck->config();
  out.format = c.version == 1 ? "llama2.c v1" : "llama2.c legacy";
  out.config.dim = static_cast<std::size_t>(c.dim);
  out.config.hidden_dim = static_cast<std::size_t>(c.hidden_dim);
  out.config.n_layers = static_cast<std::size_t>(c.n_layers);
  out.config.n_heads = static_cast<std::size_t>(c.n_heads);
  out.config.n_kv_heads = static_cast<std::size_t>(c.n_kv_heads);
  out.config.vocab_size = static_cast<std::size_t>(c.vocab_size);
  out.config.seq_len = static_cast<std::size_t>(c.seq_len);
  out.config.tied_classifier = c.shared_classifier;
  for (const float_tensor_view& v : ck->tensors()) {
    model_tensor t;
    t.name = v.name;
    t.shape = v.shape;
    t.values = v.data;
    t.file_bytes = v.data.size_bytes();
    out.tensors.push_back(std::move(t));
  }
  out.file_bytes = std::filesystem::file_size(path);
  out.source = ck;
  return out;
}

inline std::size_t gguf_uint(const gguf_file& f, const std::string& key) {
  const gguf_value* v = f.find(key);
  if (!v) throw error(errc::format, f.name() + ": metadata key '" + key + "' is missing");
  std::uint64_t r = 0;
  if (const auto* p = v->get_if<std::uint32_t>())
    r = *p;
  else if (const auto* q = v->get_if<std::uint64_t>())
    r = *q;
  else if (const auto* s = v->get_if<std::int32_t>(); s && *s >= 0)
    r = static_cast<std::uint64_t>(*s);
  else
    throw error(errc::format, f.name() + ": metadata key '" + key +
                                  "': expected a non-negative integer, found " +
                                  std::string(to_string(v->type())));
  return static_cast<std::size_t>(r);
}

inline float gguf_float(const gguf_file& f, const std::string& key, float fallback) {
  const gguf_value* v = f.find(key);
  if (!v) return fallback;
  if (const auto* p = v->get_if<float>()) return *p;
  throw error(errc::format, f.name() + ": metadata key '" + key + "': expected f32, found " +
                                std::string(to_string(v->type())));
}

inline checkpoint load_gguf_checkpoint(const std::string& path) {
  auto f = std::make_shared<gguf_file>(path);
  checkpoint out;
  out.path = path;
  out.format = "gguf";
  const std::string arch = f->get<std::string>("general.architecture");
  if (arch != "llama")
    throw error(errc::unsupported,
                path + ": general.architecture is '" + arch + "', only 'llama' is supported");
  llama_config& c = out.config;
  c.dim = gguf_uint(*f, "llama.embedding_length");
  c.hidden_dim = gguf_uint(*f, "llama.feed_forward_length");
  c.n_layers = gguf_uint(*f, "llama.block_count");
  c.n_heads = gguf_uint(*f, "llama.attention.head_count");
  c.n_kv_heads =
      f->find("llama.attention.head_count_kv") ? gguf_uint(*f, "llama.attention.head_count_kv") : c.n_heads;
  c.seq_len = gguf_uint(*f, "llama.context_length");
  c.rope_theta = gguf_float(*f, "llama.rope.freq_base", 10000.0f);
  c.norm_eps = gguf_float(*f, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  const gguf_tensor_info& emb = f->tensor("token_embd.weight");
  c.vocab_size = static_cast<std::size_t>(emb.n_dims == 2 ? emb.ne[1] : 0);
  c.tied_classifier = f->find_tensor("output.weight") == nullptr;
  if (f->find("llama.rope.dimension_count") &&
      gguf_uint(*f, "llama.rope.dimension_count") != (c.n_heads ? c.dim / c.n_heads : 0))
    throw error(errc::unsupported, path +
                                       ": llama.rope.dimension_count differs from the head size "
                                       "(partial rotary embeddings are not supported)");
  for (const gguf_tensor_info& info : f->tensors()) {
    model_tensor t;
    t.name = info.name;
    t.shape = info.shape();
    t.encoding = std::string(ggml_type_traits(info.type)->name);
    for (char& ch : t.encoding) ch = ch == 'K' ? 'k' : ch;  // "q4_K" → "q4_k", as named_schemes
    t.file_bytes = info.n_bytes;
    if (info.type == ggml_type::f32 &&
        reinterpret_cast<std::uintptr_t>(f->tensor_data(info).data()) % 4 == 0) {
      t.values = f->f32_view(info);
    } else {
      std::vector<float> v(static_cast<std::size_t>(info.n_elements));
      f->dequantize(info, v);
      t.own(std::move(v));
      if (info.type == ggml_type::q8_0 || info.type == ggml_type::q4_0) {
        const auto d = f->tensor_data(info);
        t.blocks.assign(d.begin(), d.end());
      }
    }
    out.tensors.push_back(std::move(t));
  }
  out.file_bytes = std::filesystem::file_size(path);
  out.source = f;
  return out;
}

inline std::size_t safetensors_uint(const safetensors_file& f, const std::string& key, bool required) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) {
    if (required) throw error(errc::format, f.name() + ": __metadata__ key '" + key + "' is missing");
    return 0;
  }
  std::size_t v = 0;
  const std::string& s = it->second;
  if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos)
    throw error(errc::format,
                f.name() + ": __metadata__ '" + key + "': expected a decimal integer, found '" + s + "'");
  for (char ch : s) v = v * 10 + static_cast<std::size_t>(ch - '0');
  return v;
}

inline float safetensors_float(const safetensors_file& f, const std::string& key, float fallback) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) return fallback;
  char* end = nullptr;
  const float v = std::strtof(it->second.c_str(), &end);
  if (it->second.empty() || end != it->second.c_str() + it->second.size())
    throw error(errc::format,
                f.name() + ": __metadata__ '" + key + "': expected a number, found '" + it->second + "'");
  return v;
}

inline checkpoint load_safetensors_checkpoint(const std::string& path) {
  auto f = std::make_shared<safetensors_file>(path);
  checkpoint out;
  out.path = path;
  out.format = "safetensors";
  const auto arch = f->metadata().find("general.architecture");
  if (arch == f->metadata().end() || arch->second != "llama")
    throw error(errc::unsupported,
                path +
                    ": __metadata__ general.architecture must be 'llama' (qlite reads the safetensors files "
                    "qlite-quantize writes: llama.cpp tensor names and llama.* config keys)");
  llama_config& c = out.config;
  c.dim = safetensors_uint(*f, "llama.embedding_length", true);
  c.hidden_dim = safetensors_uint(*f, "llama.feed_forward_length", true);
  c.n_layers = safetensors_uint(*f, "llama.block_count", true);
  c.n_heads = safetensors_uint(*f, "llama.attention.head_count", true);
  c.n_kv_heads = safetensors_uint(*f, "llama.attention.head_count_kv", true);
  c.seq_len = safetensors_uint(*f, "llama.context_length", true);
  c.rope_theta = safetensors_float(*f, "llama.rope.freq_base", 10000.0f);
  c.norm_eps = safetensors_float(*f, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
  // Quantized weights (io/quantized_safetensors.hpp): rebuilt from their components, which
  // are not tensors of the model themselves.
  const std::vector<st_quantized_entry> quantized = find_quantized_entries(*f);
  for (const st_quantized_entry& e : quantized) {
    model_tensor t;
    t.name = e.name;
    t.shape = {e.rows, e.cols};
    t.encoding = e.scheme;
    std::vector<float> v;  // allocated once the components proved the size
    if (e.ggml) {
      const std::span<const std::byte> b = read_ggml_blocks(*f, e);
      v.resize(e.rows * e.cols);
      dequantize_ggml_blocks(e.scheme, b, e.rows, e.cols, v);
      t.file_bytes = b.size();
      if (e.scheme == "q8_0" || e.scheme == "q4_0") t.blocks.assign(b.begin(), b.end());
    } else {
      quantized_tensor q = read_quantized(*f, e);
      v.resize(e.rows * e.cols);
      dequantize(q, matrix_view<float>(v.data(), e.rows, e.cols));
      t.file_bytes = q.codes.size() + q.zero_points.size();
      if (const safetensors_tensor* st = f->find(e.name + ".scales")) t.file_bytes += st->data.size();
      t.quantized = std::move(q);
    }
    t.own(std::move(v));
    out.tensors.push_back(std::move(t));
  }
  for (const safetensors_tensor& st : f->tensors()) {
    if (is_quantized_storage(quantized, st.name)) continue;
    if (st.dtype != st_dtype::f32 && st.dtype != st_dtype::f16 && st.dtype != st_dtype::bf16) continue;
    model_tensor t;
    t.name = st.name;
    t.shape = st.shape;
    t.file_bytes = st.data.size();
    if (st.dtype == st_dtype::f32 && reinterpret_cast<std::uintptr_t>(st.data.data()) % 4 == 0) {
      t.values = f->f32_view(st);
    } else {
      std::vector<float> v(st.n_elements());
      if (st.dtype == st_dtype::f32) {
        std::memcpy(v.data(), st.data.data(), v.size() * 4);
      } else {
        // Copy the bits into typed storage (the data need not be 2-byte aligned), then the
        // vectorized bulk conversion of core/convert.hpp.
        auto widen = [&](auto tag) {
          std::vector<decltype(tag)> h(v.size());
          std::memcpy(h.data(), st.data.data(), 2 * h.size());
          convert(std::span<const decltype(tag)>(h), std::span<float>(v));
        };
        if (st.dtype == st_dtype::f16)
          widen(fp16{});
        else
          widen(bf16{});
      }
      t.encoding = st.dtype == st_dtype::f16 ? "f16" : st.dtype == st_dtype::bf16 ? "bf16" : "f32";
      t.own(std::move(v));
    }
    out.tensors.push_back(std::move(t));
  }
  if (const model_tensor* e = out.find("token_embd.weight"); e && e->shape.size() == 2)
    c.vocab_size = e->shape[0];
  c.tied_classifier = out.find("output.weight") == nullptr;
  out.file_bytes = std::filesystem::file_size(path);
  out.source = f;
  return out;
}

}  // namespace detail

/// Loads a checkpoint of the formats in the file comment; validates it (see the contract).
inline checkpoint load_checkpoint(const std::string& path) {
  unsigned char head[9] = {};
  {
    const mapped_file probe(path);
    const auto b = probe.bytes();
    if (!b.empty()) std::memcpy(head, b.data(), std::min<std::size_t>(b.size(), sizeof head));
  }
  checkpoint ck;
  std::uint32_t magic = 0;
  std::memcpy(&magic, head, 4);
  if (std::memcmp(head, "GGUF", 4) == 0)
    ck = detail::load_gguf_checkpoint(path);
  else if (head[8] == '{')
    ck = detail::load_safetensors_checkpoint(path);
  else
    ck = detail::load_llama2c_checkpoint(path);
  ck.validate();
  return ck;
}

}  // namespace qlite
