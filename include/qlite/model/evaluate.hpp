// qlite — how good and how fast a (quantized) model is: perplexity, agreement with a
// reference model, greedy generation, prefill and decode speed.
//
// Definitions (per sequence s of T tokens, causal forward over all T at once):
//
//   NLL     = Σ_s Σ_{t<T−1} −log softmax(logits_t)[tok_{t+1}]   (natural log, in double)
//   PPL     = exp(NLL / count),  count = Σ_s (T_s − 1)
//   KLD     = mean over the same positions of KL(P_ref ‖ P) = Σ_v P_ref(v) (log P_ref(v) − log P(v))
//   top-1   = fraction of positions where argmax P = argmax P_ref (first index on ties)
//
// The protocol of ../shared/data/models/README.md: sequences are [BOS] + encode(paragraph)
// truncated to 512 tokens; PPL over sequences 0..1999.
//
// Contract: results are independent of the thread count (sequences are spread over threads,
// each evaluated single-threaded; sums are added in sequence order). Sequences longer than the
// model's seq_len, or holding ids beyond the vocabulary, throw qlite::error naming them.
//
//   auto seqs = qlite::read_token_sequences("tinystories_val_tok512.bin");
//   qlite::eval_result r = qlite::evaluate(model, std::span(seqs).first(2000), &fp32_model);
//   // r.ppl(), r.kld(), r.top1()
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/parallel_for.hpp"
#include "qlite/io/mmap.hpp"
#include "qlite/model/llama.hpp"

namespace qlite {

/// Sums over evaluated positions (see the file comment).
struct eval_result {
  double nll_sum = 0;
  double kld_sum = 0;
  std::size_t top1_hits = 0;
  std::size_t count = 0;  ///< predicted positions
  bool has_reference = false;

  [[nodiscard]] double nll() const noexcept { return count ? nll_sum / static_cast<double>(count) : 0.0; }
  [[nodiscard]] double ppl() const noexcept { return std::exp(nll()); }
  [[nodiscard]] double kld() const noexcept { return count ? kld_sum / static_cast<double>(count) : 0.0; }
  [[nodiscard]] double top1() const noexcept {
    return count ? static_cast<double>(top1_hits) / static_cast<double>(count) : 0.0;
  }
  eval_result& operator+=(const eval_result& o) noexcept {
    nll_sum += o.nll_sum;
    kld_sum += o.kld_sum;
    top1_hits += o.top1_hits;
    count += o.count;
    has_reference = has_reference || o.has_reference;
    return *this;
  }
};

namespace detail {

/// log-softmax of one row into `out` (double accuracy for the normalizer).
inline void log_softmax(std::span<const float> z, std::vector<double>& out) {
  const float mx = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (float v : z) sum += std::exp(static_cast<double>(v - mx));
  const double lse = static_cast<double>(mx) + std::log(sum);
  out.resize(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) out[i] = static_cast<double>(z[i]) - lse;
}

inline std::size_t argmax(std::span<const float> z) noexcept {
  return static_cast<std::size_t>(std::max_element(z.begin(), z.end()) - z.begin());
}

inline eval_result evaluate_sequence(const llama_model& m, std::span<const std::uint32_t> seq,
                                     const llama_model* ref, kv_cache& cache, kv_cache* ref_cache) {
  eval_result r;
  const std::size_t T = seq.size(), V = m.config().vocab_size;
  if (T < 2) return r;
  std::vector<float> logits(T * V), ref_logits(ref ? T * V : 0);
  cache.clear();
  m.forward(seq, cache, matrix_view<float>(logits.data(), T, V), 1);
  if (ref) {
    ref_cache->clear();
    ref->forward(seq, *ref_cache, matrix_view<float>(ref_logits.data(), T, V), 1);
  }
  std::vector<double> lp, lq;
  for (std::size_t t = 0; t + 1 < T; ++t) {
    const std::span<const float> z(logits.data() + t * V, V);
    log_softmax(z, lp);
    r.nll_sum -= lp[seq[t + 1]];
    if (ref) {
      const std::span<const float> zr(ref_logits.data() + t * V, V);
      log_softmax(zr, lq);
      double kl = 0;
      for (std::size_t v = 0; v < V; ++v) kl += std::exp(lq[v]) * (lq[v] - lp[v]);
      r.kld_sum += kl;
      r.top1_hits += argmax(z) == argmax(zr) ? 1U : 0U;
    }
    ++r.count;
  }
  r.has_reference = ref != nullptr;
  return r;
}

}  // namespace detail

/// Perplexity of `model` over `sequences`, and (with `reference`) KLD and top-1 agreement.
inline eval_result evaluate(const llama_model& model, std::span<const std::vector<std::uint32_t>> sequences,
                            const llama_model* reference = nullptr, unsigned threads = 0) {
  std::size_t longest = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) longest = std::max(longest, sequences[i].size());
  if (longest > model.config().seq_len)
    throw error(errc::invalid_argument, "evaluate: a sequence of " + std::to_string(longest) +
                                            " tokens exceeds the model's seq_len " +
                                            std::to_string(model.config().seq_len));
  std::vector<eval_result> per(sequences.size());
  parallel_for(
      sequences.size(),
      [&](std::size_t s0, std::size_t s1) {
        kv_cache cache = model.make_cache(longest);
        kv_cache ref_cache = reference ? reference->make_cache(longest) : kv_cache{};
        for (std::size_t s = s0; s < s1; ++s)
          per[s] = detail::evaluate_sequence(model, sequences[s], reference, cache, &ref_cache);
      },
      threads ? threads : default_threads());
  eval_result total;
  for (const eval_result& r : per) total += r;
  total.has_reference = reference != nullptr;
  return total;
}

/// Greedy (argmax) continuation: the prompt, then up to `steps` tokens, one decode step each.
inline std::vector<std::uint32_t> generate_greedy(const llama_model& model,
                                                  std::span<const std::uint32_t> prompt, std::size_t steps,
                                                  unsigned threads = 1) {
  if (prompt.empty())
    throw error(errc::invalid_argument, "generate_greedy: the prompt is empty (start with BOS)");
  const std::size_t V = model.config().vocab_size;
  kv_cache cache = model.make_cache(std::min(model.config().seq_len, prompt.size() + steps));
  std::vector<std::uint32_t> out(prompt.begin(), prompt.end());
  std::vector<float> logits(V);
  const matrix_view<float> last(logits.data(), 1, V);
  model.forward(prompt, cache, last, threads);
  for (std::size_t i = 0; i < steps && cache.pos < cache.capacity; ++i) {
    const auto next = static_cast<std::uint32_t>(detail::argmax(logits));
    out.push_back(next);
    if (cache.pos + 1 > cache.capacity) break;
    model.forward(std::span<const std::uint32_t>(&out.back(), 1), cache, last, threads);
  }
  return out;
}

/// Tokens per second of prefill (all `prompt_tokens` in one forward) and of decode (one
/// token per forward with the cache), medians of `repeats` runs.
struct speed_result {
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
};

inline speed_result measure_speed(const llama_model& model, std::size_t prompt_tokens,
                                  std::size_t decode_tokens, unsigned threads = 1, int repeats = 5) {
  const std::size_t V = model.config().vocab_size;
  prompt_tokens = std::max<std::size_t>(1, std::min(prompt_tokens, model.config().seq_len / 2));
  decode_tokens = std::max<std::size_t>(1, std::min(decode_tokens, model.config().seq_len - prompt_tokens));
  std::vector<std::uint32_t> prompt(prompt_tokens);
  for (std::size_t i = 0; i < prompt_tokens; ++i) prompt[i] = static_cast<std::uint32_t>((i * 7919 + 1) % V);
  std::vector<float> logits(prompt_tokens * V);
  kv_cache cache = model.make_cache(prompt_tokens + decode_tokens);
  std::vector<double> pre, dec;
  using clock = std::chrono::steady_clock;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    cache.clear();
    const auto t0 = clock::now();
    model.forward(prompt, cache, matrix_view<float>(logits.data(), prompt_tokens, V), threads);
    const auto t1 = clock::now();
    std::uint32_t tok = prompt.back();
    for (std::size_t i = 0; i < decode_tokens; ++i) {
      model.forward(std::span<const std::uint32_t>(&tok, 1), cache, matrix_view<float>(logits.data(), 1, V),
                    threads);
      tok = static_cast<std::uint32_t>(detail::argmax(std::span<const float>(logits.data(), V)));
    }
    const auto t2 = clock::now();
    pre.push_back(static_cast<double>(prompt_tokens) / std::chrono::duration<double>(t1 - t0).count());
    dec.push_back(static_cast<double>(decode_tokens) / std::chrono::duration<double>(t2 - t1).count());
  }
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(pre), median(dec)};
}

/// Reads token sequences stored as int32 n; int32 len[n]; then the int32 ids back to back
/// (../shared/data/models/tinystories_val_tok512.bin) from `b`; `path` names it in messages.
/// Validated: counts against the size, ids non-negative, nothing after the last id;
/// qlite::error(errc::format) naming file, offset and field otherwise.
inline std::vector<std::vector<std::uint32_t>> read_token_sequences(std::span<const std::byte> b,
                                                                    const std::string& path) {
  auto i32 = [&](std::size_t off, const char* field) {
    if (off > b.size() || b.size() - off < 4)
      throw error(errc::format, path + ": offset " + std::to_string(off) + ": " + field +
                                    ": expected 4 bytes, found " +
                                    std::to_string(b.size() - std::min(off, b.size())));
    std::int32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
  };
  const std::int32_t n = i32(0, "n_seq");
  if (n < 0 || static_cast<std::size_t>(n) > (b.size() - 4) / 4)
    throw error(errc::format, path + ": offset 0: n_seq: expected 0.." + std::to_string((b.size() - 4) / 4) +
                                  ", found " + std::to_string(n));
  std::vector<std::vector<std::uint32_t>> out(static_cast<std::size_t>(n));
  std::size_t at = 4 + 4 * static_cast<std::size_t>(n);
  for (std::size_t s = 0; s < out.size(); ++s) {
    const std::int32_t len = i32(4 + 4 * s, "len");
    const std::size_t left = (b.size() - at) / 4;  // at ≤ b.size() holds throughout
    if (len < 0 || static_cast<std::size_t>(len) > left)
      throw error(errc::format, path + ": offset " + std::to_string(4 + 4 * s) + ": len[" +
                                    std::to_string(s) + "]: expected at most the " + std::to_string(left) +
                                    " ids left, found " + std::to_string(len));
    out[s].resize(static_cast<std::size_t>(len));
    for (std::size_t t = 0; t < out[s].size(); ++t, at += 4) {
      const std::int32_t id = i32(at, "id");
      if (id < 0)
        throw error(errc::format, path + ": offset " + std::to_string(at) + ": id: expected ≥ 0, found " +
                                      std::to_string(id));
      out[s][t] = static_cast<std::uint32_t>(id);
    }
  }
  if (at != b.size())
    throw error(errc::format, path + ": offset " + std::to_string(at) +
                                  ": expected the end of the file, found " + std::to_string(b.size() - at) +
                                  " more bytes");
  return out;
}

/// The same from a file (memory-mapped).
inline std::vector<std::vector<std::uint32_t>> read_token_sequences(const std::string& path) {
  const mapped_file f(path);
  return read_token_sequences(f.bytes(), path);
}

}  // namespace qlite
