// qlite — the Unicode the tokenizer needs: UTF-8 decoding, code-point classes, the
// invalid-UTF-8 policy and NFC.
//
// Contract
//   - `class_bits(cp)` returns the `ucp` bits of a code point from tables generated from
//     UCD 15.0.0 (cmake/gen_unicode_tables.py → unicode_tables.hpp): letter (\p{L}),
//     number (\p{N}), space (the White_Space property, which is what `\s` means in the
//     references: it includes U+0085 and excludes U+FEFF), and the two o200k letter sets.
//   - `sanitize_utf8(bytes)`: the invalid-UTF-8 policy. Valid input is returned unchanged
//     (no copy: the result is empty and `valid` is true). Invalid input is copied with every
//     maximal invalid subpart replaced by U+FFFD (EF BF BD), the WHATWG "decode" rule that
//     the peers apply (Rust's from_utf8_lossy, JS TextDecoder). Surrogates (ED A0..BF ..)
//     and overlongs are invalid.
//   - `nfc(text)`: Unicode Normalization Form C of valid UTF-8 (canonical decomposition,
//     canonical ordering by combining class, canonical composition incl. Hangul).
//
// Cost: class lookup is two table loads; `sanitize_utf8` is one pass (a copy only when
// invalid); `nfc` is one pass that returns at once when no code point can change
// (NFC_Quick_Check = Yes and combining class 0 throughout, e.g. ASCII), otherwise O(n)
// plus sorting of combining-mark runs.
//
//   std::string fixed;
//   std::string_view text = qlite::utf8_view_or_fix(raw, fixed);   // valid UTF-8 now
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "qlite/tokenizer/unicode_tables.hpp"

namespace qlite {

/// Code-point class bits (one byte per code point).
namespace ucp {
inline constexpr std::uint8_t letter = 1;        ///< \p{L}
inline constexpr std::uint8_t number = 2;        ///< \p{N}
inline constexpr std::uint8_t space = 4;         ///< White_Space (\s)
inline constexpr std::uint8_t upperish = 8;      ///< [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k)
inline constexpr std::uint8_t lowerish = 16;     ///< [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k)
inline constexpr std::uint8_t mark = 32;         ///< \p{M}
inline constexpr std::uint8_t nfc_maybe = 64;    ///< NFC_Quick_Check is No or Maybe
inline constexpr std::uint8_t nonstarter = 128;  ///< canonical combining class != 0
}  // namespace ucp

/// Class bits of a code point (0 for cp > U+10FFFF).
[[nodiscard]] inline std::uint8_t class_bits(std::uint32_t cp) noexcept {
  if (cp >= 0x110000) return 0;
  namespace u = detail::unicode_data;
  return u::stage2[(std::size_t{u::stage1[cp >> 8]} << 8) | (cp & 0xFF)];
}

/// Decodes the code point at s[i] of VALID UTF-8; sets len to its byte count.
[[nodiscard]] inline std::uint32_t utf8_decode(const unsigned char* s, std::size_t i,
                                               std::size_t& len) noexcept {
  const std::uint32_t b0 = s[i];
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    len = 2;
    return ((b0 & 0x1F) << 6) | (s[i + 1] & 0x3Fu);
  }
  if (b0 < 0xF0) {
    len = 3;
    return ((b0 & 0x0F) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
  }
  len = 4;
  return ((b0 & 0x07) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
}

/// Appends the UTF-8 encoding of cp (cp must be a scalar value).
inline void utf8_append(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

/// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes at i do not
/// start one; `subpart` receives the length of the maximal invalid subpart in that case
/// (≥ 1: the bytes that WHATWG replaces by one U+FFFD).
[[nodiscard]] inline std::size_t utf8_sequence_length(const unsigned char* s, std::size_t i, std::size_t n,
                                                      std::size_t& subpart) noexcept {
  const unsigned b0 = s[i];
  subpart = 1;
  if (b0 < 0x80) return 1;
  std::size_t need = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= n) return 0;
    const unsigned b = s[i + k];
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xBF;
    subpart = k + 1;
  }
  return need + 1;
}

/// True when `text` is valid UTF-8 (no surrogates, no overlongs, ≤ U+10FFFF).
[[nodiscard]] inline bool is_valid_utf8(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0, sub = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      // ASCII runs 8 bytes at a time
      for (std::uint64_t w; i + 8 <= n; i += 8) {
        std::memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL) break;
      }
      continue;
    }
    const std::size_t len = utf8_sequence_length(s, i, n, sub);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

/// The invalid-UTF-8 policy: returns `text` itself if it is valid, otherwise fills `storage`
/// with a copy in which each maximal invalid subpart is replaced by U+FFFD and returns it.
[[nodiscard]] inline std::string_view utf8_view_or_fix(std::string_view text, std::string& storage) {
  if (is_valid_utf8(text)) return text;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  storage.clear();
  storage.reserve(n + 16);
  std::size_t i = 0, sub = 0;
  while (i < n) {
    const std::size_t len = utf8_sequence_length(s, i, n, sub);
    if (len == 0) {
      storage.append("\xEF\xBF\xBD");
      i += sub;
    } else {
      storage.append(text.substr(i, len));
      i += len;
    }
  }
  return storage;
}

namespace detail {

inline std::uint8_t combining_class(std::uint32_t cp) noexcept {
  if (!(class_bits(cp) & ucp::nonstarter)) return 0;
  const auto& t = unicode_data::combining_classes;
  const std::uint32_t* it =
      std::lower_bound(std::begin(t), std::end(t), cp << 8,
                       [](std::uint32_t e, std::uint32_t key) { return (e & ~0xFFu) < key; });
  return (it != std::end(t) && (*it >> 8) == cp) ? static_cast<std::uint8_t>(*it & 0xFF) : 0;
}

inline constexpr std::uint32_t hangul_s = 0xAC00, hangul_l = 0x1100, hangul_v = 0x1161, hangul_t = 0x11A7,
                               hangul_lcount = 19, hangul_vcount = 21, hangul_tcount = 28,
                               hangul_ncount = 588, hangul_scount = 11172;

inline void canonical_decompose(std::uint32_t cp, std::u32string& out) {
  if (cp >= hangul_s && cp < hangul_s + hangul_scount) {
    const std::uint32_t si = cp - hangul_s;
    out.push_back(hangul_l + si / hangul_ncount);
    out.push_back(hangul_v + (si % hangul_ncount) / hangul_tcount);
    if (si % hangul_tcount) out.push_back(hangul_t + si % hangul_tcount);
    return;
  }
  const auto& t = unicode_data::decompositions;
  const auto* it = std::lower_bound(std::begin(t), std::end(t), cp,
                                    [](const auto& e, std::uint32_t key) { return e.code_point < key; });
  if (it != std::end(t) && it->code_point == cp) {
    for (std::uint16_t k = 0; k < it->length; ++k)
      out.push_back(unicode_data::decomposition_pool[it->offset + k]);
  } else {
    out.push_back(cp);
  }
}

inline std::uint32_t primary_composite(std::uint32_t a, std::uint32_t b) noexcept {
  if (a >= hangul_l && a < hangul_l + hangul_lcount && b >= hangul_v && b < hangul_v + hangul_vcount)
    return hangul_s + ((a - hangul_l) * hangul_vcount + (b - hangul_v)) * hangul_tcount;
  if (a >= hangul_s && a < hangul_s + hangul_scount && (a - hangul_s) % hangul_tcount == 0 && b > hangul_t &&
      b < hangul_t + hangul_tcount)
    return a + (b - hangul_t);
  const std::uint64_t key = (std::uint64_t{a} << 21) | b;
  const auto& t = unicode_data::compositions;
  const auto* it = std::lower_bound(std::begin(t), std::end(t), key,
                                    [](const auto& e, std::uint64_t k) { return e.key < k; });
  return (it != std::end(t) && it->key == key) ? it->composite : 0;
}

}  // namespace detail

/// True when NFC leaves `text` (valid UTF-8) unchanged for certain (quick check).
[[nodiscard]] inline bool nfc_quick_yes(std::string_view text) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0, len = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    const std::uint32_t cp = utf8_decode(s, i, len);
    if (class_bits(cp) & (ucp::nfc_maybe | ucp::nonstarter)) return false;
    i += len;
  }
  return true;
}

/// Unicode Normalization Form C of valid UTF-8 `text`.
[[nodiscard]] inline std::string nfc(std::string_view text) {
  if (nfc_quick_yes(text)) return std::string(text);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::u32string d;
  d.reserve(n);
  std::size_t i = 0, len = 0;
  while (i < n) {
    detail::canonical_decompose(utf8_decode(s, i, len), d);
    i += len;
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (std::size_t a = 0; a < d.size();) {
    if (detail::combining_class(d[a]) == 0) {
      ++a;
      continue;
    }
    std::size_t b = a;
    while (b < d.size() && detail::combining_class(d[b]) != 0) ++b;
    std::stable_sort(
        d.begin() + static_cast<std::ptrdiff_t>(a), d.begin() + static_cast<std::ptrdiff_t>(b),
        [](char32_t x, char32_t y) { return detail::combining_class(x) < detail::combining_class(y); });
    a = b;
  }
  // Canonical composition.
  std::size_t starter = std::u32string::npos, w = 0;
  int last_ccc = 0;
  for (std::size_t r = 0; r < d.size(); ++r) {
    const std::uint32_t c = d[r];
    const int ccc = detail::combining_class(c);
    // c combines with the last starter when nothing lies between them, or when the last
    // character kept since the starter has a lower, non-zero combining class.
    if (starter != std::u32string::npos && (w == starter + 1 || (last_ccc != 0 && last_ccc < ccc))) {
      const std::uint32_t comp = detail::primary_composite(d[starter], c);
      if (comp != 0) {
        d[starter] = comp;
        continue;
      }
    }
    if (ccc == 0) {
      starter = w;
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    d[w++] = c;
  }
  d.resize(w);
  std::string out;
  out.reserve(n);
  for (char32_t c : d) utf8_append(out, c);
  return out;
}

}  // namespace qlite
