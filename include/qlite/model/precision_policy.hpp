// qlite — a precision policy: which linear_format each weight matrix of a model gets.
//
// Post-training quantization keeps the sensitive tensors in high precision: by default the
// token embedding, the classifier and every norm stay fp32, and only the block linears
// (attention q/k/v/output, FFN gate/up/down) take the chosen format. Any tensor can be
// overridden by a rule; later rules win over earlier ones.
//
// Text form (command-line tools):
//
//   <default format>[,<pattern>=<format>]...
//
//   "q4_0"                                        every block linear Q4_0, the rest fp32
//   "q4_0,blk.*.ffn_down.weight=q8_0"             ... except the FFN down projections
//   "int4_g32@a8,token_embd.weight=sim:q8_0"      W4A8, embedding + tied classifier fake-quantized
//   "f32,*=sim:int8"                              everything fake-quantized to int8 (incl. emb/cls)
//
// A pattern is a glob over llama.cpp tensor names ('*' matches any run of characters, '?' one
// character). Norm weights (1-D) are always fp32 and never matched. For a tied classifier the
// rule of "output.weight" applies to the classifier product and the rule of
// "token_embd.weight" to the embedding lookup; when only the latter is given it applies to both.
// The embedding lookup honours sim: formats (the rows are fake-quantized) and keeps fp32
// otherwise: a lookup reads one row per token, so its storage format is a file-size matter.
//
//   qlite::precision_policy p = qlite::precision_policy::parse("q4_0,output.weight=q8_0");
//   qlite::linear_format f = p.format_of("blk.0.attn_q.weight");      // q4_0
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/model/linear.hpp"

namespace qlite {

/// Glob match with '*' and '?' (iterative, linear backtracking on the last '*').
constexpr bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// The format of every weight matrix of a model (see the file comment).
struct precision_policy {
  linear_format blocks;  ///< the block linears' default
  std::vector<std::pair<std::string, linear_format>> rules;

  /// True for the names of block linears (blk.N.attn_* / ffn_* matrices).
  static bool is_block_linear(std::string_view name) noexcept {
    return name.starts_with("blk.") && !name.ends_with("_norm.weight") && name.ends_with(".weight");
  }

  /// The rule that decides `name`, or nullopt (then: blocks for block linears, fp32 otherwise).
  [[nodiscard]] std::optional<linear_format> rule_for(std::string_view name) const {
    std::optional<linear_format> r;
    for (const auto& [pattern, f] : rules)
      if (glob_match(pattern, name)) r = f;
    return r;
  }

  /// The format of the matrix `name` (a 2-D tensor).
  [[nodiscard]] linear_format format_of(std::string_view name) const {
    if (auto r = rule_for(name)) return *r;
    if (is_block_linear(name)) return blocks;
    return {};
  }

  /// The format of the classifier of a model (tied: falls back to the embedding's rule).
  [[nodiscard]] linear_format classifier_format(bool tied) const {
    if (auto r = rule_for("output.weight")) return *r;
    if (tied)
      if (auto e = rule_for("token_embd.weight")) return *e;
    return {};
  }

  /// The text form (parse(p.text()) is equivalent to p).
  [[nodiscard]] std::string text() const {
    std::string s = blocks.name();
    for (const auto& [pattern, f] : rules) s += "," + pattern + "=" + f.name();
    return s;
  }

  /// Every block linear in `format`, everything else fp32.
  static precision_policy uniform(linear_format format) { return {std::move(format), {}}; }

  /// Parses the text form; qlite::error(invalid_argument) naming the bad part otherwise.
  static precision_policy parse(std::string_view text) {
    precision_policy p;
    bool first = true;
    while (true) {
      const std::size_t comma = text.find(',');
      const std::string_view part = text.substr(0, comma);
      if (part.empty())
        throw error(errc::invalid_argument, "precision policy: empty entry in '" + std::string(text) + "'");
      const std::size_t eq = part.find('=');
      if (first && eq == std::string_view::npos) {
        p.blocks = linear_format::parse(part);
      } else if (eq == std::string_view::npos || eq == 0) {
        throw error(errc::invalid_argument,
                    "precision policy: '" + std::string(part) +
                        "' is not <pattern>=<format> (only the first entry may be a bare format)");
      } else {
        p.rules.emplace_back(std::string(part.substr(0, eq)), linear_format::parse(part.substr(eq + 1)));
      }
      first = false;
      if (comma == std::string_view::npos) break;
      text = text.substr(comma + 1);
    }
    return p;
  }
};

}  // namespace qlite
