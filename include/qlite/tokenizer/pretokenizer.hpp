// qlite — pre-tokenization: splitting text into pieces with hand-written scanners that
// reproduce the known regular expressions exactly, without a regex engine.
//
// Contract: `next_piece(kind, s, i, n)` returns the end of the piece that the pattern's
// leftmost-first, backtracking match (fancy-regex / Oniguruma semantics) finds at byte
// offset i of valid UTF-8 s[0, n). Pieces tile the text: each starts where the last ended.
// `\s` is White_Space, `\p{..}` are UCD 15.0 general categories (unicode.hpp).
//
// The patterns (`P` below is [^\s\p{L}\p{N}], "other"; `C` a contraction 's 't 're 've 'm
// 'll 'd, case-insensitive except in gpt2):
//
//   gpt2        'C | ␠?\p{L}+ | ␠?\p{N}+ | ␠?P+ | \s+(?!\S) | \s+
//   cl100k      C | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} | ␠?P+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//   qwen2       as cl100k with \p{N} (one digit per piece)
//   o200k       X?U*W+C? | X?U+W*C? | \p{N}{1,3} | ␠?P+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//               X = [^\r\n\p{L}\p{N}], U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], W = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
//
// How the backtracking is resolved without backtracking (the whitespace run [i, j)):
//   - `\s*[\r\n]+` matches up to and including the LAST \r or \n of the run (if any);
//   - `\s+(?!\S)` matches the whole run at the end of the text, otherwise all of it but the
//     last code point (fails if that leaves nothing); `\s+` then takes a single-character run.
//   - o200k `U*W+`: greedy U* ends at u; if s[u] ∈ W the match runs to the end of the W run;
//     otherwise it ends after the last W code point inside the U run (U ∩ W = Lm, Lo, M).
// Every scanner is O(length of the piece) (the whitespace run is scanned once).
//
// Cost: one class-table lookup per code point; ASCII takes a 128-entry table. The common
// piece "optional ASCII prefix + ASCII letters" (cl100k, qwen2, o200k) is scanned inline
// with a 256-entry byte table; anything else (or a run reaching a non-ASCII byte) goes
// to the general scanner.
//
//   std::size_t i = 0;
//   while (i < n) { std::size_t e = qlite::next_piece(qlite::pretokenizer::cl100k, s, i, n); ...; i = e; }
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "qlite/config.hpp"
#include "qlite/tokenizer/unicode.hpp"

namespace qlite {

/// The pre-tokenizer patterns qlite scans natively.
enum class pretokenizer : std::uint8_t {
  gpt2,    ///< gpt2 / r50k_base / p50k (GPT-2's pattern)
  cl100k,  ///< cl100k_base and Llama 3
  qwen2,   ///< Qwen2 / Qwen2.5 / Qwen3 (cl100k with one digit per piece)
  o200k,   ///< o200k_base
};

/// Name of a pattern ("gpt2", "cl100k", "qwen2", "o200k").
constexpr std::string_view to_string(pretokenizer p) noexcept {
  switch (p) {
    case pretokenizer::gpt2:
      return "gpt2";
    case pretokenizer::cl100k:
      return "cl100k";
    case pretokenizer::qwen2:
      return "qwen2";
    case pretokenizer::o200k:
      return "o200k";
  }
  return "unknown";
}

namespace detail {

struct cp_info {
  std::uint32_t cp;
  std::uint32_t len;
  std::uint8_t bits;
};

inline constexpr std::array<std::uint8_t, 128> ascii_bits = [] {
  std::array<std::uint8_t, 128> t{};
  for (unsigned c = 0; c < 128; ++c) {
    std::uint8_t b = 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) b |= ucp::letter;
    if (c >= 'A' && c <= 'Z') b |= ucp::upperish;
    if (c >= 'a' && c <= 'z') b |= ucp::lowerish;
    if (c >= '0' && c <= '9') b |= ucp::number;
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) b |= ucp::space;
    t[c] = b;
  }
  return t;
}();

/// Byte classes for the ASCII fast paths: bit 0 ASCII letter, bit 1 ASCII upper case, bit 2
/// ASCII lower case, bit 3 may start a prefixed letter piece (an ASCII byte that is neither
/// a letter, a digit, \r, \n nor an apostrophe); bytes ≥ 0x80 have no bit.
namespace ascii {
inline constexpr std::uint8_t letter = 1, upper = 2, lower = 4, prefix = 8;
inline constexpr std::array<std::uint8_t, 256> bits = [] {
  std::array<std::uint8_t, 256> t{};
  for (unsigned c = 0; c < 128; ++c) {
    const bool up = c >= 'A' && c <= 'Z', low = c >= 'a' && c <= 'z', digit = c >= '0' && c <= '9';
    std::uint8_t b = 0;
    if (up || low) b |= letter;
    if (up) b |= upper;
    if (low) b |= lower;
    if (!up && !low && !digit && c != '\r' && c != '\n' && c != '\'') b |= prefix;
    t[c] = b;
  }
  return t;
}();

/// The end of the run of bytes in [Lo, Hi] starting at j (with Fold, bytes c with c | 0x20 in
/// [Lo, Hi]: 'A'..'Z' and 'a'..'z' for Lo = 'a', Hi = 'z'). Eight bytes at a time: one
/// loop exit per run instead of a mispredicted branch at the end of each word.
template <unsigned Lo, unsigned Hi, bool Fold>
QLITE_FORCE_INLINE std::size_t run(const unsigned char* s, std::size_t j, std::size_t n) noexcept {
  static_assert(Lo >= 0x40 && Hi < 0x7F && Lo <= Hi, "no carry between bytes below");
  constexpr std::uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  while (j + 8 <= n) {
    std::uint64_t x;
    std::memcpy(&x, s + j, 8);
    if constexpr (std::endian::native != std::endian::little) x = __builtin_bswap64(x);
    if constexpr (Fold) x |= 0x2020202020202020ULL;
    const std::uint64_t low7 = x & ~high;
    const std::uint64_t at_least_lo = low7 + ones * (0x80 - Lo), above_hi = low7 + ones * (0x7F - Hi);
    const std::uint64_t outside = ~(at_least_lo & ~above_hi & ~x) & high;  // ~x: non-ASCII bytes
    if (outside) return j + static_cast<std::size_t>(std::countr_zero(outside) / 8);
    j += 8;
  }
  for (; j < n; ++j) {
    const unsigned c = Fold ? (s[j] | 0x20u) : s[j];
    if (c < Lo || c > Hi) break;
  }
  return j;
}
}  // namespace ascii

struct scanner {
  const unsigned char* s;
  std::size_t n;

  [[nodiscard]] QLITE_FORCE_INLINE cp_info at(std::size_t i) const noexcept {
    const unsigned char b = s[i];
    if (b < 0x80) return {b, 1, ascii_bits[b]};
    std::size_t len = 0;
    const std::uint32_t cp = utf8_decode(s, i, len);
    return {cp, static_cast<std::uint32_t>(len), class_bits(cp)};
  }
  [[nodiscard]] std::uint8_t bits(std::size_t i) const noexcept { return i < n ? at(i).bits : 0; }
  /// End of the run of code points whose bits intersect `mask`, starting at i.
  [[nodiscard]] std::size_t run(std::size_t i, std::uint8_t mask) const noexcept {
    while (i < n) {
      const unsigned char b = s[i];
      if (b < 0x80) {
        if (!(ascii_bits[b] & mask)) break;
        ++i;
        continue;
      }
      const cp_info c = at(i);
      if (!(c.bits & mask)) break;
      i += c.len;
    }
    return i;
  }
  /// End of the run of "other" code points ([^\s\p{L}\p{N}]).
  [[nodiscard]] std::size_t run_other(std::size_t i) const noexcept {
    constexpr std::uint8_t lns = ucp::letter | ucp::number | ucp::space;
    while (i < n) {
      const cp_info c = at(i);
      if (c.bits & lns) break;
      i += c.len;
    }
    return i;
  }
  [[nodiscard]] bool is_other(std::size_t i) const noexcept {
    return i < n && !(at(i).bits & (ucp::letter | ucp::number | ucp::space));
  }
  /// Length of a contraction 's 't 're 've 'm 'll 'd at i (s[i] == '\''), or 0.
  [[nodiscard]] std::size_t contraction(std::size_t i, bool ignore_case) const noexcept {
    if (i + 1 >= n || s[i] != '\'') return 0;
    auto low = [&](std::size_t k) -> int {
      if (k >= n) return 0;
      const int c = s[k];
      return (ignore_case && c >= 'A' && c <= 'Z') ? c + 32 : c;
    };
    const int a = low(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    // U+017F LATIN SMALL LETTER LONG S folds to 's' under Unicode case-insensitivity.
    if (ignore_case && s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3;
    const int b = low(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
  }
  /// The whitespace alternatives at i (s[i] is White_Space). `newline_alt`: the pattern has
  /// `\s*[\r\n]+` before `\s+(?!\S)`.
  [[nodiscard]] std::size_t whitespace(std::size_t i, bool newline_alt) const noexcept {
    std::size_t j = i, last_start = i, after_newline = 0;
    while (j < n) {
      if (s[j] < 0x80) {  // ASCII: no decoding
        if (!(ascii_bits[s[j]] & ucp::space)) break;
        if (s[j] == '\r' || s[j] == '\n') after_newline = j + 1;
        last_start = j++;
        continue;
      }
      const cp_info c = at(j);
      if (!(c.bits & ucp::space)) break;
      if (c.cp == '\r' || c.cp == '\n') after_newline = j + 1;
      last_start = j;
      j += c.len;
    }
    if (newline_alt && after_newline != 0) return after_newline;
    if (j == n) return j;
    if (last_start > i) return last_start;
    return j;
  }
};

inline std::size_t scan_gpt2(const scanner& sc, std::size_t i) noexcept {
  const cp_info c = sc.at(i);
  if (c.cp == '\'') {
    if (const std::size_t k = sc.contraction(i, false)) return i + k;
  }
  std::size_t p = i;
  std::uint8_t b = c.bits;
  if (c.cp == ' ' && i + 1 < sc.n) {
    const std::uint8_t nb = sc.bits(i + 1);
    if (nb & ucp::letter) return sc.run(i + 1, ucp::letter);
    if (nb & ucp::number) return sc.run(i + 1, ucp::number);
    if (!(nb & ucp::space)) return sc.run_other(i + 1);
    p = i;
    b = c.bits;
  }
  if (b & ucp::letter) return sc.run(p, ucp::letter);
  if (b & ucp::number) return sc.run(p, ucp::number);
  if (!(b & ucp::space)) return sc.run_other(p);
  return sc.whitespace(i, false);
}

inline std::size_t newline_tail(const scanner& sc, std::size_t j, bool slash) noexcept {
  while (j < sc.n && (sc.s[j] == '\r' || sc.s[j] == '\n' || (slash && sc.s[j] == '/'))) ++j;
  return j;
}

inline std::size_t scan_cl100k_general(const scanner& sc, std::size_t i, bool three_digits) noexcept;

/// cl100k / qwen2 at i: the ASCII fast path inline, everything else in scan_cl100k_general.
QLITE_FORCE_INLINE std::size_t scan_cl100k(const scanner& sc, std::size_t i, bool three_digits) noexcept {
  // Fast path: `[^\r\n\p{L}\p{N}]?\p{L}+` over ASCII letters (most pieces of English and code);
  // a run that reaches a non-ASCII byte continues with the general scanner.
  {
    const std::uint8_t b0 = ascii::bits[sc.s[i]];
    std::size_t j = i;
    if ((b0 & ascii::prefix) && i + 1 < sc.n && (ascii::bits[sc.s[i + 1]] & ascii::letter)) j = i + 1;
    if (j > i || (b0 & ascii::letter)) {
      j = ascii::run<'a', 'z', true>(sc.s, j + 1, sc.n);
      if (j < sc.n && sc.s[j] >= 0x80) return sc.run(j, ucp::letter);
      return j;
    }
  }
  return scan_cl100k_general(sc, i, three_digits);
}

inline std::size_t scan_cl100k_general(const scanner& sc, std::size_t i, bool three_digits) noexcept {
  const cp_info c = sc.at(i);
  if (c.cp == '\'') {
    if (const std::size_t k = sc.contraction(i, true)) return i + k;
  }
  if (c.bits & ucp::letter) return sc.run(i + c.len, ucp::letter);
  const bool is_newline = c.cp == '\r' || c.cp == '\n';
  if (!(c.bits & ucp::number) && !is_newline && (sc.bits(i + c.len) & ucp::letter))
    return sc.run(i + c.len, ucp::letter);
  if (c.bits & ucp::number) {
    if (!three_digits) return i + c.len;
    std::size_t j = i + c.len;
    for (int k = 1; k < 3 && j < sc.n; ++k) {
      const cp_info d = sc.at(j);
      if (!(d.bits & ucp::number)) break;
      j += d.len;
    }
    return j;
  }
  if (c.cp == ' ' && sc.is_other(i + 1)) return newline_tail(sc, sc.run_other(i + 1), false);
  if (!(c.bits & ucp::space)) return newline_tail(sc, sc.run_other(i), false);
  return sc.whitespace(i, true);
}

/// o200k: `U*W+` (lower_first) or `U+W*` at i; returns the end or 0 if it does not match.
inline std::size_t o200k_word(const scanner& sc, std::size_t i, bool lower_required) noexcept {
  std::size_t u = i, last_w_end = 0;
  while (u < sc.n) {
    const cp_info c = sc.at(u);
    if (!(c.bits & ucp::upperish)) break;
    u += c.len;
    if (c.bits & ucp::lowerish) last_w_end = u;
  }
  if (lower_required) {
    if (sc.bits(u) & ucp::lowerish) return sc.run(u, ucp::lowerish);
    return last_w_end;  // 0 when the U run holds no W code point
  }
  if (u == i) return 0;
  return sc.run(u, ucp::lowerish);
}

inline std::size_t scan_o200k_general(const scanner& sc, std::size_t i) noexcept;

/// o200k at i: the ASCII fast path inline, everything else in scan_o200k_general.
QLITE_FORCE_INLINE std::size_t scan_o200k(const scanner& sc, std::size_t i) noexcept {
  // Fast path: X? then ASCII upper case then ASCII lower case letters, ending at an ASCII
  // byte: both word alternatives give that end (U ∩ W is empty in ASCII). Otherwise (a
  // non-ASCII byte at the end) the general scanner decides.
  {
    const std::uint8_t b0 = ascii::bits[sc.s[i]];
    std::size_t j = i;
    if ((b0 & ascii::prefix) && i + 1 < sc.n && (ascii::bits[sc.s[i + 1]] & ascii::letter)) j = i + 1;
    if (j > i || (b0 & ascii::letter)) {
      j = ascii::run<'a', 'z', false>(sc.s, ascii::run<'A', 'Z', false>(sc.s, j, sc.n), sc.n);
      if (j == sc.n || sc.s[j] < 0x80) {
        if (j < sc.n && sc.s[j] == '\'') j += sc.contraction(j, true);
        return j;
      }
    }
  }
  return scan_o200k_general(sc, i);
}

inline std::size_t scan_o200k_general(const scanner& sc, std::size_t i) noexcept {
  const cp_info c = sc.at(i);
  const bool prefix_ok = !(c.bits & (ucp::letter | ucp::number)) && c.cp != '\r' && c.cp != '\n';
  constexpr std::uint8_t word = ucp::upperish | ucp::lowerish;  // a word starts with one of these
  const bool may_word = (c.bits & word) || (prefix_ok && i + c.len < sc.n && (sc.bits(i + c.len) & word));
  for (bool lower_required : {true, false}) {
    if (!may_word) break;
    std::size_t e = 0;
    if (prefix_ok && i + c.len < sc.n) e = o200k_word(sc, i + c.len, lower_required);
    if (e == 0) e = o200k_word(sc, i, lower_required);
    if (e != 0) {
      if (e < sc.n && sc.s[e] == '\'') e += sc.contraction(e, true);
      return e;
    }
  }
  if (c.bits & ucp::number) {
    std::size_t j = i + c.len;
    for (int k = 1; k < 3 && j < sc.n; ++k) {
      const cp_info d = sc.at(j);
      if (!(d.bits & ucp::number)) break;
      j += d.len;
    }
    return j;
  }
  if (c.cp == ' ' && sc.is_other(i + 1)) return newline_tail(sc, sc.run_other(i + 1), true);
  if (!(c.bits & ucp::space)) return newline_tail(sc, sc.run_other(i), true);
  return sc.whitespace(i, true);
}

}  // namespace detail

/// End of the piece starting at byte i (< n) of valid UTF-8 s[0, n) under pattern `kind`.
[[nodiscard]] QLITE_FORCE_INLINE std::size_t next_piece(pretokenizer kind, const unsigned char* s,
                                                        std::size_t i, std::size_t n) noexcept {
  const detail::scanner sc{s, n};
  switch (kind) {
    case pretokenizer::gpt2:
      return detail::scan_gpt2(sc, i);
    case pretokenizer::cl100k:
      return detail::scan_cl100k(sc, i, true);
    case pretokenizer::qwen2:
      return detail::scan_cl100k(sc, i, false);
    case pretokenizer::o200k:
      return detail::scan_o200k(sc, i);
  }
  return n;
}

/// The pattern kind whose regex is exactly `pattern` (as in tiktoken's pat_str, upstream
/// Python tiktoken's possessive form, or a tokenizer.json Split regex); false if unknown.
[[nodiscard]] inline bool pretokenizer_from_pattern(std::string_view pattern, pretokenizer& out) noexcept {
  struct known {
    std::string_view regex;
    pretokenizer kind;
  };
  static constexpr known table[] = {
      {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", pretokenizer::gpt2},
      {R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)",
       pretokenizer::gpt2},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       pretokenizer::cl100k},
      {R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)",
       pretokenizer::cl100k},
      {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       pretokenizer::qwen2},
      {R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       pretokenizer::o200k},
  };
  for (const known& k : table) {
    if (k.regex == pattern) {
      out = k.kind;
      return true;
    }
  }
  return false;
}

}  // namespace qlite
