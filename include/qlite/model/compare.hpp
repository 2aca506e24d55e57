// qlite — the size / speed / accuracy comparison of one model in several formats.
//
// "Always benchmark both speed and accuracy before deploying a quantized model": for each
// precision policy, compare() builds the model from the same checkpoint and measures
//
//   bits/weight   stored bits of all weights (norms, embedding, classifier included) / parameters
//   size          bytes those weights occupy in a file of that format (model::stored_bytes:
//                 codes + fp16 scales/zero points as GGUF and qlite's safetensors store them)
//   build         seconds to quantize and prepack every matrix from the loaded fp32 checkpoint
//                 (the "load" cost once the file is read; reading itself is an mmap)
//   prefill/decode  tokens/s: `prompt` tokens in one forward, then `decode` tokens one at a time
//                 with the KV cache; medians of 5 runs (model/evaluate.hpp measure_speed)
//   PPL, ΔPPL     perplexity over the sequences and its change against the first row (fp32)
//   KLD, top-1    against the first row's logits, position by position
//   fallbacks     matrices the format could not hold (rows not a multiple of its group), built
//                 as f16 instead (model/linear.hpp)
//
// The first policy is the reference (normally "f32"). Rows are measured one after another in
// the same process; speed uses `threads` threads, accuracy spreads sequences over them.
//
//   auto rows = qlite::compare(ck, {"f32", "q8_0", "q4_0", "w8a8"}, sequences);
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qlite/model/checkpoint.hpp"
#include "qlite/model/evaluate.hpp"
#include "qlite/model/llama.hpp"
#include "qlite/model/precision_policy.hpp"

namespace qlite {

/// One row of the comparison (see the file comment for the definitions).
struct compare_row {
  std::string policy;
  double bits_per_weight = 0;
  double size_bytes = 0;
  double build_seconds = 0;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
  eval_result accuracy;
  double ppl_delta = 0;       ///< ppl / reference ppl − 1
  std::size_t matrices = 0;   ///< weight matrices built
  std::size_t fallbacks = 0;  ///< of them, built in another format than asked (f16: rows not whole groups)
};

struct compare_options {
  std::size_t prompt_tokens = 128;
  std::size_t decode_tokens = 128;
  unsigned threads = 0;  ///< 0: qlite::default_threads()
  /// Called after each row (progress output); may be empty.
  std::function<void(const compare_row&, std::size_t index, std::size_t total)> on_row;
};

/// The default formats: fp32, bf16, int8 per-channel, W8A8, Q8_0, Q4_0, W4A8 (Q4_0 weights),
/// int4 symmetric and asymmetric with G = 32 and 128.
inline std::vector<std::string> default_compare_policies() {
  return {"f32",     "bf16",     "int8",      "w8a8",      "q8_0",      "q4_0",
          "q4_0@a8", "int4_g32", "int4a_g32", "int4_g128", "int4a_g128"};
}

/// Runs the comparison; the first policy is the accuracy reference.
inline std::vector<compare_row> compare(const checkpoint& ck, std::span<const std::string> policies,
                                        std::span<const std::vector<std::uint32_t>> sequences,
                                        const compare_options& options = {}) {
  std::vector<compare_row> rows;
  std::unique_ptr<llama_model> reference;
  const double params = static_cast<double>(ck.config.parameter_count());
  for (std::size_t i = 0; i < policies.size(); ++i) {
    compare_row r;
    const precision_policy p = precision_policy::parse(policies[i]);
    r.policy = p.text();
    const auto t0 = std::chrono::steady_clock::now();
    auto m = std::make_unique<llama_model>(ck, p);
    r.build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.size_bytes = m->stored_bytes();
    for (const auto& [name, built] : m->formats()) {
      ++r.matrices;
      const linear_format asked = name.starts_with("output.weight")
                                      ? p.classifier_format(ck.config.tied_classifier)
                                      : p.format_of(name);
      if (name != "token_embd.weight" && built != asked) ++r.fallbacks;
    }
    r.bits_per_weight = 8.0 * r.size_bytes / params;
    const speed_result s = measure_speed(*m, options.prompt_tokens, options.decode_tokens,
                                         options.threads ? options.threads : 1);
    r.prefill_tokens_per_s = s.prefill_tokens_per_s;
    r.decode_tokens_per_s = s.decode_tokens_per_s;
    r.accuracy = evaluate(*m, sequences, reference.get(), options.threads);
    if (!reference) {
      reference = std::move(m);
    } else {
      r.ppl_delta = r.accuracy.ppl() / rows.front().accuracy.ppl() - 1.0;
    }
    rows.push_back(r);
    if (options.on_row) options.on_row(rows.back(), i, policies.size());
  }
  return rows;
}

}  // namespace qlite
