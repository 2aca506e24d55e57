// qlite — a llama-architecture decoder whose linear layers run on qlite::gemm.
//
// The model (Llama 2 / llama2.c, no biases):
//
//   x = embed(token)
//   per layer:  h = rmsnorm(x) · attn_norm
//               q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  rotate (q, k) by RoPE at the token's position
//               x += softmax(q·kᵀ/√hs + causal mask) · v · Woᵀ      (grouped-query attention)
//               h = rmsnorm(x) · ffn_norm
//               x += (silu(h·W1ᵀ) ⊙ h·W3ᵀ) · W2ᵀ                   (SwiGLU)
//   logits = (rmsnorm(x) · output_norm) · Wclsᵀ   (Wcls = the embedding when tied)
//
//   rmsnorm(x) = x / sqrt(mean(x²) + eps).  RoPE rotates adjacent pairs (x[2i], x[2i+1]) of
//   every head by the angle pos · theta^(−2i/hs) (llama2.c's and llama.cpp's LLaMA rotation).
//
// Contract
//   - llama_model(ck, policy) packs every matrix as the policy says (model/precision_policy.hpp);
//     the checkpoint may be dropped afterwards.
//   - forward(tokens, cache, logits) runs the tokens at positions cache.pos … cache.pos+T−1 in
//     one batch (prefill; T = 1 is a decode step), appends their keys/values to the cache and
//     writes logits (T × vocab, or 1 × vocab for the last token only). Token ids ≥ vocab,
//     a context past the cache's length or mismatched shapes throw qlite::error naming them.
//   - Results do not depend on the thread count (gemm is bitwise stable; attention is
//     computed per (token, head) independently).
//
// Cost per token: 2·params FLOPs in the linears (formats as the policy says) plus
// 4·pos·D for attention; the cache holds 2·L·seq·kv_dim floats.
//
//   qlite::checkpoint ck = qlite::load_checkpoint("stories260K.bin");
//   qlite::llama_model m(ck, qlite::precision_policy::parse("q8_0"));
//   auto cache = m.make_cache();
//   std::vector<float> logits(m.config().vocab_size);
//   std::uint32_t bos = 1;
//   m.forward({&bos, 1}, cache, qlite::matrix_view<float>(logits.data(), 1, logits.size()));
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/core/parallel_for.hpp"
#include "qlite/model/checkpoint.hpp"
#include "qlite/model/linear.hpp"
#include "qlite/model/precision_policy.hpp"

namespace qlite {

/// Keys and values of the tokens seen so far, per layer.
struct kv_cache {
  std::size_t capacity = 0;  ///< tokens it can hold
  std::size_t pos = 0;       ///< tokens it holds (the next token's position)
  /// Keys transposed per head, [layer][kv_head][head_size][capacity], so the scores of one
  /// query against every cached key are a contiguous multiply-add over positions; values
  /// [layer][kv_head][capacity][head_size].
  std::vector<float> k, v;
  void clear() noexcept { pos = 0; }
};

/// A llama decoder with packed linear layers (see the file comment).
class llama_model {
 public:
  struct layer {
    std::vector<float> attn_norm, ffn_norm;
    linear wq, wk, wv, wo, w1, w2, w3;
  };

  llama_model(const checkpoint& ck, const precision_policy& policy = {})
      : config_(ck.config), policy_(policy) {
    ck.validate();
    const llama_config& c = config_;
    auto mat = [&](const model_tensor& t) {
      return matrix_view<const float>(t.values.data(), t.rows(), t.cols());
    };
    auto make = [&](const std::string& name, const linear_format& f) {
      const model_tensor& t = ck.at(name);
      const std::span<const std::byte> blocks =
          t.encoding == f.storage ? std::span<const std::byte>(t.blocks) : std::span<const std::byte>();
      linear l(mat(t), f, blocks, t.quantized && f.storage == t.encoding ? &*t.quantized : nullptr);
      formats_.emplace_back(name, l.format());
      return l;
    };
    // Embedding: fp32 rows, fake-quantized when its format simulates a scheme.
    const model_tensor& emb = ck.at("token_embd.weight");
    embedding_.assign(emb.values.begin(), emb.values.end());
    const linear_format ef = policy.format_of("token_embd.weight");
    if (ef.simulated() && ef.scheme != "none") {
      std::vector<float> src = embedding_;
      find_scheme(ef.scheme).fake_quantize(matrix_view<const float>(src.data(), emb.rows(), emb.cols()),
                                           matrix_view<float>(embedding_.data(), emb.rows(), emb.cols()));
    }
    formats_.emplace_back("token_embd.weight", ef.simulated() ? ef : linear_format{});
    layers_.resize(c.n_layers);
    for (std::size_t l = 0; l < c.n_layers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      layer& L = layers_[l];
      const auto& an = ck.at(b + "attn_norm.weight").values;
      const auto& fn = ck.at(b + "ffn_norm.weight").values;
      L.attn_norm.assign(an.begin(), an.end());
      L.ffn_norm.assign(fn.begin(), fn.end());
      L.wq = make(b + "attn_q.weight", policy.format_of(b + "attn_q.weight"));
      L.wk = make(b + "attn_k.weight", policy.format_of(b + "attn_k.weight"));
      L.wv = make(b + "attn_v.weight", policy.format_of(b + "attn_v.weight"));
      L.wo = make(b + "attn_output.weight", policy.format_of(b + "attn_output.weight"));
      L.w1 = make(b + "ffn_gate.weight", policy.format_of(b + "ffn_gate.weight"));
      L.w2 = make(b + "ffn_down.weight", policy.format_of(b + "ffn_down.weight"));
      L.w3 = make(b + "ffn_up.weight", policy.format_of(b + "ffn_up.weight"));
    }
    const auto& on = ck.at("output_norm.weight").values;
    output_norm_.assign(on.begin(), on.end());
    const linear_format cf = policy.classifier_format(c.tied_classifier);
    if (c.tied_classifier) {
      // The classifier is the (original, not lookup-simulated) embedding in its own format.
      classifier_ = linear(
          mat(emb), cf,
          emb.encoding == cf.storage ? std::span<const std::byte>(emb.blocks) : std::span<const std::byte>(),
          nullptr);
      formats_.emplace_back("output.weight (tied)", classifier_.format());
    } else {
      classifier_ = make("output.weight", cf);
    }
  }

  [[nodiscard]] const llama_config& config() const noexcept { return config_; }
  [[nodiscard]] const precision_policy& policy() const noexcept { return policy_; }
  /// The format each matrix was built with (after fallbacks), in model order.
  [[nodiscard]] const std::vector<std::pair<std::string, linear_format>>& formats() const noexcept {
    return formats_;
  }
  [[nodiscard]] const std::vector<layer>& layers() const noexcept { return layers_; }

  /// Bytes of weights as the formats store them (embedding fp32 unless simulated, norms fp32;
  /// a tied classifier in the embedding's format counted once).
  [[nodiscard]] double stored_bytes() const noexcept {
    const linear_format ef = policy_.format_of("token_embd.weight");
    // A tied classifier is stored once, as the embedding, unless its format differs.
    const bool shared =
        config_.tied_classifier && classifier_.format() == (ef.simulated() ? ef : linear_format{});
    double b = (shared ? 0.0 : classifier_.stored_bytes()) + 4.0 * static_cast<double>(output_norm_.size());
    const double emb = static_cast<double>(embedding_.size());
    b += ef.simulated() && ef.scheme != "none" ? emb * find_scheme(ef.scheme).nominal_bits / 8.0 : 4.0 * emb;
    for (const layer& L : layers_) {
      for (const linear* l : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w2, &L.w3}) b += l->stored_bytes();
      b += 4.0 * static_cast<double>(L.attn_norm.size() + L.ffn_norm.size());
    }
    return b;
  }

  /// A cache for up to `tokens` positions (default: the model's seq_len).
  [[nodiscard]] kv_cache make_cache(std::size_t tokens = 0) const {
    kv_cache c;
    c.capacity = tokens ? tokens : config_.seq_len;
    c.k.assign(config_.n_layers * c.capacity * config_.kv_dim(), 0.0f);
    c.v.assign(c.k.size(), 0.0f);
    return c;
  }

  /// Runs `tokens` after the cache's content (see the contract). logits: T × V, or 1 × V for
  /// the last token only. threads = 0: qlite::default_threads().
  void forward(std::span<const std::uint32_t> tokens, kv_cache& cache, matrix_view<float> logits,
               unsigned threads = 0) const {
    const llama_config& c = config_;
    const std::size_t T = tokens.size(), D = c.dim, KV = c.kv_dim(), H = c.hidden_dim;
    if (T == 0) return;
    if (cache.pos + T > cache.capacity)
      throw error(errc::invalid_argument,
                  "llama_model::forward: " + std::to_string(cache.pos) + " cached + " + std::to_string(T) +
                      " new tokens exceed the cache's " + std::to_string(cache.capacity) + " positions");
    if (cache.k.size() != c.n_layers * cache.capacity * KV || cache.v.size() != cache.k.size())
      throw error(errc::invalid_argument, "llama_model::forward: the cache was not made by this model");
    if (logits.cols() != c.vocab_size || (logits.rows() != T && logits.rows() != 1))
      throw error(errc::invalid_argument, "llama_model::forward: logits must be " + std::to_string(T) +
                                              " or 1 × " + std::to_string(c.vocab_size) + ", got " +
                                              std::to_string(logits.rows()) + " × " +
                                              std::to_string(logits.cols()));
    for (std::size_t t = 0; t < T; ++t)
      if (tokens[t] >= c.vocab_size)
        throw error(errc::invalid_argument, "llama_model::forward: token " + std::to_string(t) + " is " +
                                                std::to_string(tokens[t]) + ", beyond the vocabulary of " +
                                                std::to_string(c.vocab_size));
    const unsigned nt = threads ? threads : default_threads();
    std::vector<float> x(T * D), xb(T * D), q(T * D), k(T * KV), v(T * KV), att(T * D), h1(T * H), h3(T * H);
    auto view = [](std::vector<float>& b, std::size_t rows, std::size_t cols) {
      return matrix_view<float>(b.data(), rows, cols);
    };
    auto cview = [](const std::vector<float>& b, std::size_t rows, std::size_t cols) {
      return matrix_view<const float>(b.data(), rows, cols);
    };
    for (std::size_t t = 0; t < T; ++t) std::copy_n(embedding_.data() + tokens[t] * D, D, x.data() + t * D);
    const auto rope = rope_table(cache.pos, T);
    for (std::size_t l = 0; l < c.n_layers; ++l) {
      const layer& L = layers_[l];
      rmsnorm(x, L.attn_norm, xb, T);
      L.wq(cview(xb, T, D), view(q, T, D), activation::none, nt);
      L.wk(cview(xb, T, D), view(k, T, KV), activation::none, nt);
      L.wv(cview(xb, T, D), view(v, T, KV), activation::none, nt);
      apply_rope(q, T, D, rope);
      apply_rope(k, T, KV, rope);
      float* kc = cache.k.data() + l * cache.capacity * KV;
      float* vc = cache.v.data() + l * cache.capacity * KV;
      const std::size_t hs = c.head_size(), cap = cache.capacity;
      for (std::size_t t = 0; t < T; ++t)
        for (std::size_t h = 0; h < c.n_kv_heads; ++h)
          for (std::size_t i = 0; i < hs; ++i) {
            kc[(h * hs + i) * cap + cache.pos + t] = k[t * KV + h * hs + i];
            vc[(h * cap + cache.pos + t) * hs + i] = v[t * KV + h * hs + i];
          }
      attention(q, kc, vc, att, cache.pos, T, cap, nt);
      L.wo(cview(att, T, D), view(xb, T, D), activation::none, nt);
      for (std::size_t i = 0; i < T * D; ++i) x[i] += xb[i];
      rmsnorm(x, L.ffn_norm, xb, T);
      L.w1(cview(xb, T, D), view(h1, T, H), activation::silu, nt);
      L.w3(cview(xb, T, D), view(h3, T, H), activation::none, nt);
      for (std::size_t i = 0; i < T * H; ++i) h1[i] *= h3[i];
      L.w2(cview(h1, T, H), view(xb, T, D), activation::none, nt);
      for (std::size_t i = 0; i < T * D; ++i) x[i] += xb[i];
    }
    cache.pos += T;
    const std::size_t first = logits.rows() == 1 ? T - 1 : 0, rows = T - first;
    std::vector<float> xf(rows * D);
    rmsnorm(std::span<const float>(x).subspan(first * D), output_norm_, xf, rows);
    classifier_(cview(xf, rows, D), logits, activation::none, nt);
  }

 private:
  void rmsnorm(std::span<const float> x, const std::vector<float>& w, std::span<float> out,
               std::size_t T) const {
    const std::size_t D = config_.dim;
    for (std::size_t t = 0; t < T; ++t) {
      const float* xr = x.data() + t * D;
      float ss = 0.0f;
      for (std::size_t i = 0; i < D; ++i) ss += xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(D) + config_.norm_eps);
      for (std::size_t i = 0; i < D; ++i) out[t * D + i] = w[i] * (inv * xr[i]);
    }
  }

  /// cos/sin of pos · theta^(−2i/hs) for the T positions from `pos0`, i < hs/2.
  [[nodiscard]] std::vector<std::pair<float, float>> rope_table(std::size_t pos0, std::size_t T) const {
    const std::size_t half = config_.head_size() / 2;
    std::vector<double> freq(half);
    for (std::size_t i = 0; i < half; ++i)
      freq[i] = std::pow(static_cast<double>(config_.rope_theta),
                         -static_cast<double>(2 * i) / static_cast<double>(config_.head_size()));
    std::vector<std::pair<float, float>> r(T * half);
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t i = 0; i < half; ++i) {
        const double a = static_cast<double>(pos0 + t) * freq[i];
        r[t * half + i] = {static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))};
      }
    return r;
  }

  void apply_rope(std::vector<float>& m, std::size_t T, std::size_t width,
                  const std::vector<std::pair<float, float>>& table) const {
    const std::size_t hs = config_.head_size(), half = hs / 2;
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t j = 0; j < width; j += 2) {
        const auto [co, si] = table[t * half + (j % hs) / 2];
        float* p = m.data() + t * width + j;
        const float a = p[0], b = p[1];
        p[0] = a * co - b * si;
        p[1] = a * si + b * co;
      }
  }

  /// att[t][head] = softmax over j ≤ pos0+t of q·k_j/√hs, times v_j (GQA: head → head/group).
  void attention(const std::vector<float>& q, const float* kc, const float* vc, std::vector<float>& att,
                 std::size_t pos0, std::size_t T, std::size_t cap, unsigned threads) const {
    const llama_config& c = config_;
    const std::size_t hs = c.head_size(), D = c.dim, group = c.n_heads / c.n_kv_heads;
    const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(hs));
    const std::size_t work = T * c.n_heads;
    // Split only when there is enough work to pay for waking the pool.
    const unsigned use = (pos0 + T) * work * hs > (1u << 16) ? threads : 1u;
    parallel_for(
        work,
        [&](std::size_t w0, std::size_t w1) {
          std::vector<float> s(pos0 + T);
          for (std::size_t w = w0; w < w1; ++w) {
            const std::size_t t = w / c.n_heads, h = w % c.n_heads, kvh = h / group, n = pos0 + t + 1;
            const float* qh = q.data() + t * D + h * hs;
            // Scores: s[j] = Σ_i q[i]·K[i][j], i in order, over contiguous positions j.
            const float* kh = kc + kvh * hs * cap;
            std::fill_n(s.begin(), n, 0.0f);
            for (std::size_t i = 0; i < hs; ++i) {
              const float qi = qh[i], *ki = kh + i * cap;
              for (std::size_t j = 0; j < n; ++j) s[j] += qi * ki[j];
            }
            float mx = -INFINITY;
            for (std::size_t j = 0; j < n; ++j) mx = std::max(mx, s[j] *= inv_sqrt);
            float sum = 0.0f;
            for (std::size_t j = 0; j < n; ++j) sum += (s[j] = std::exp(s[j] - mx));
            float* out = att.data() + t * D + h * hs;
            std::fill_n(out, hs, 0.0f);
            const float* vh = vc + kvh * cap * hs;
            for (std::size_t j = 0; j < n; ++j) {
              const float a = s[j] / sum;
              const float* vj = vh + j * hs;
              for (std::size_t i = 0; i < hs; ++i) out[i] += a * vj[i];
            }
          }
        },
        use);
  }

  llama_config config_;
  precision_policy policy_;
  std::vector<float> embedding_, output_norm_;
  std::vector<layer> layers_;
  linear classifier_;
  std::vector<std::pair<std::string, linear_format>> formats_;
};

}  // namespace qlite
