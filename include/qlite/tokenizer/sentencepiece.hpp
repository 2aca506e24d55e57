// qlite — SentencePiece-style BPE: score-ordered merges, byte fallback, dummy prefix; the
// tokenizer of llama2.c (tokenizer.bin) and of GGUF files with tokenizer.ggml.model "llama".
//
// Glossary
//   piece    the text of one token id ("the", " upon", "<0x41>", "<s>").
//   score    a float per piece; of two mergeable adjacent pairs the one whose concatenation
//            has the higher score merges first (llama2.c: score = −merge rank).
//   type     normal, unknown (<unk>), control (BOS/EOS), user_defined, unused, byte
//            (the 256 "<0xXX>" byte-fallback pieces): GGUF's tokenizer.ggml.token_type.
//   group    a byte plus the continuation bytes (10xxxxxx) after it, at most 4 bytes: for
//            valid UTF-8, one code point. Encoding starts from groups.
//   symbol   a run of the input that is currently one token.
//
// Encoding (llama2.c's encode, SentencePiece's BPE model):
//
//   text ─▶ [BOS] [" "] group group group … ─piece or byte fallback─▶ symbols
//        ─▶ merge the adjacent pair with the highest-scoring concatenation, leftmost on ties,
//           until no adjacent pair concatenates to a piece ─▶ [EOS]
//
//   - BOS/EOS only when asked (`encode(text, bos, eos)`).
//   - Dummy prefix: when text is non-empty (and the vocabulary's add_dummy_prefix is on, the
//     default), the symbol " " goes first, as its own group: "Hi" is encoded as " Hi".
//   - A group that is a normal or user_defined piece is that piece. Any other group becomes
//     one byte-fallback token per byte (the piece "<0xXX>"; llama2.c's id byte+3), or
//     unk_id when the vocabulary has no piece for that byte.
//   - Only normal and user_defined pieces are merge results; byte-fallback symbols never
//     merge (SentencePiece's rule).
//   - Vocabularies that spell the space as U+2581 "▁" (every GGUF "llama" vocabulary; set
//     `space_marker`): pieces are stored with ' ' in place of "▁", and an input group that is
//     exactly "▁" is read as ' ' — SentencePiece's escaping, so the ids are the same; decode
//     gives ' ' for both, as SentencePiece does.
//
// Invalid UTF-8 (exactly llama2.c's loop): groups are cut as above whatever the bytes, so a
// stray continuation byte starts its own group, a lead byte whose continuation is missing is
// a group of one, and a 5th continuation byte starts a new group. Groups that are not pieces
// go to byte fallback byte by byte: "\xC3(" → <0xC3> "(", "A\x80" → <0x41> <0x80> (the
// group "A\x80" is not a piece). Nothing is replaced or dropped, so every byte string
// round-trips. Differences from llama2.c's run.c, none of which shows on a vocabulary a
// trainer wrote (tok512.bin, stories260K.gguf: all 4,300 eval paragraphs match id for id):
// NUL bytes are encoded (<0x00>), where llama2.c stops at the first one; byte and control
// pieces never take part in merges (llama2.c would merge the text "<0x41>" if
// "<0x41><0x42>" were a piece); a pair merges whatever its score (llama2.c ignores scores
// ≤ −1e10). llama.cpp cuts invalid UTF-8 by the lead byte's length instead, so ids differ
// from llama.cpp on invalid input only.
//
// Decoding (llama2.c's decode, used when it prints generated text):
//   decode_piece(prev, id): byte tokens → the raw byte; control tokens (BOS, EOS) → nothing;
//   unknown, normal, user_defined, unused → the piece text (so <unk> → "<unk>"), without its
//   leading ' ' when prev is bos_id (the dummy prefix). decode(ids) concatenates
//   decode_piece(ids[k−1], ids[k]) (no prev for the first id). Hence, with BOS:
//     decode(encode(x, true)) == x for every byte string x (text or not; a leading space in x
//     is kept: only the dummy prefix's space is removed), given all 256 byte pieces exist;
//   without BOS, decode(encode(x)) == " " + x for non-empty x. Ids ≥ size() throw
//   qlite::error(invalid_argument).
//
// Vocabulary rules (checked when the tokenizer is built; qlite::error(format) names the
// vocabulary and the field): pieces, scores and types have equal lengths, ≥ 1 and < 2^32 − 1
// pieces; no NaN score (±inf is allowed); bos/eos/unk ids < size(); a byte piece spells
// "<0xXX>" (two upper-case hex digits). Duplicate pieces (also after "▁" → ' '): the lowest
// id is the one encode produces; every id still decodes. User-defined pieces merge like
// normal ones (SentencePiece would also cut them out of the input first: not done here).
//
// Algorithm: a doubly linked list of symbols and a binary heap of candidate pairs keyed
// (score desc, left position asc), each entry remembering the two symbols' lengths; an entry
// whose symbols have changed since it was pushed is skipped when popped (lazy
// invalidation). A merge pushes at most two new pairs, so for n input bytes there are < 3n
// pushes: O(n log n) time, O(n) memory, no recursion. The pop order is exactly llama2.c's
// "highest score, then leftmost" loop, which is O(n²). To keep the heap small the text is
// cut before every group whose first byte no piece holds right after the byte before it (a
// 256×256 bit table): no merge can cross such a cut, so segments (words, for TinyStories'
// vocabulary) are merged one after another with the same result. Inputs of 4 GiB or more
// throw qlite::error(invalid_argument): symbols are indexed with 32 bits.
//
// Cost: construction O(vocabulary bytes); encode as above, one hash lookup per candidate
// pair (pairs longer than the longest piece are not looked up); decode O(output). The object
// is immutable after construction: every const member is thread-safe. ~25 MB/s encode on
// TinyStories text with the 512-piece vocabulary (docs/tokenizer.md).
//
//   auto tok = qlite::sentencepiece_from_llama2c(qlite::read_llama2c_tokenizer("tok512.bin"));
//   std::vector<std::uint32_t> ids = tok.encode("Once upon a time", /*bos=*/true);
//   std::string text = tok.decode(ids);                                   // "Once upon a time"
//   auto same = qlite::sentencepiece_from_gguf(qlite::gguf_file("stories260K.gguf"));
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/io/gguf.hpp"
#include "qlite/io/llama2c.hpp"
#include "qlite/tokenizer/bpe.hpp"

namespace qlite {

/// The type of a SentencePiece piece; the values are GGUF's tokenizer.ggml.token_type codes.
enum class piece_type : std::uint8_t {
  normal = 1,        ///< ordinary text; a merge result
  unknown = 2,       ///< <unk>
  control = 3,       ///< <s>, </s>: never produced from text, decoded as nothing
  user_defined = 4,  ///< treated as normal here (see the top of this file)
  unused = 5,        ///< never produced from text; decodes as its text
  byte = 6,          ///< "<0xXX>": byte fallback
};

/// Everything a sentencepiece_tokenizer is made of; the factories below fill it.
struct sentencepiece_vocab {
  std::string name;                 ///< for messages (a path)
  std::vector<std::string> pieces;  ///< piece i = text of id i
  std::vector<float> scores;        ///< same length as pieces
  std::vector<piece_type> types;    ///< same length as pieces
  std::uint32_t bos_id = 1;
  std::uint32_t eos_id = 2;
  std::uint32_t unk_id = 0;
  bool add_dummy_prefix = true;  ///< encode non-empty text as " " + text
  bool space_marker = false;     ///< pieces spell the space as U+2581 "▁"
};

namespace detail {

/// "<0xXX>" (upper-case hex) → the byte, else -1.
inline int parse_byte_piece(std::string_view p) noexcept {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  const int hi = hex(p[3]), lo = hex(p[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/// The 256 single bytes, so a byte token decodes to a view.
inline constexpr std::array<char, 256> all_bytes = [] {
  std::array<char, 256> a{};
  for (int i = 0; i < 256; ++i)
    a[static_cast<std::size_t>(i)] = static_cast<char>(static_cast<unsigned char>(i));
  return a;
}();

inline constexpr std::string_view space_marker_utf8 = "\xE2\x96\x81";  // U+2581 ▁

}  // namespace detail

/// A SentencePiece-style BPE tokenizer (see the contract at the top of this file).
class sentencepiece_tokenizer {
 public:
  /// Validates and indexes `v` (rules at the top of this file).
  explicit sentencepiece_tokenizer(sentencepiece_vocab v) : v_(std::move(v)) {
    const std::string& nm = v_.name;
    const std::size_t n = v_.pieces.size();
    if (n == 0) throw error(errc::format, nm + ": the vocabulary is empty");
    if (n >= std::size_t{detail::no_token})
      throw error(errc::format, nm + ": " + std::to_string(n) + " pieces (expected fewer than 2^32 - 1)");
    if (v_.scores.size() != n)
      throw error(errc::format, nm + ": scores has " + std::to_string(v_.scores.size()) +
                                    " entries, pieces has " + std::to_string(n) +
                                    " (expected equal lengths)");
    if (v_.types.size() != n)
      throw error(errc::format, nm + ": token types has " + std::to_string(v_.types.size()) +
                                    " entries, pieces has " + std::to_string(n) +
                                    " (expected equal lengths)");
    auto check_id = [&](std::uint32_t id, const char* what) {
      if (id >= n)
        throw error(errc::format, nm + ": " + what + " " + std::to_string(id) +
                                      " is out of range (vocabulary of " + std::to_string(n) + " pieces)");
    };
    check_id(v_.bos_id, "bos id");
    check_id(v_.eos_id, "eos id");
    check_id(v_.unk_id, "unk id");
    byte_id_.fill(v_.unk_id);
    std::array<bool, 256> have_byte{};
    std::unordered_set<std::string_view> seen;
    seen.reserve(n);
    for (std::uint32_t id = 0; id < n; ++id) {
      if (std::isnan(v_.scores[id]))
        throw error(errc::format, nm + ": scores[" + std::to_string(id) + "]: expected a number, found NaN");
      std::string& p = v_.pieces[id];
      switch (v_.types[id]) {
        case piece_type::byte: {
          const int b = detail::parse_byte_piece(p);
          if (b < 0)
            throw error(errc::format, nm + ": pieces[" + std::to_string(id) + "] is a byte token spelled '" +
                                          p + "' (expected <0xXX> with upper-case hex digits)");
          if (!have_byte[static_cast<std::size_t>(b)]) {
            have_byte[static_cast<std::size_t>(b)] = true;
            byte_id_[static_cast<std::size_t>(b)] = id;
          }
          break;
        }
        case piece_type::normal:
        case piece_type::user_defined:
        case piece_type::unknown:
        case piece_type::unused:
          if (v_.space_marker) replace_space_marker(p);
          break;
        case piece_type::control:
          break;
        default:
          throw error(errc::format, nm + ": token type of pieces[" + std::to_string(id) + "] is " +
                                        std::to_string(static_cast<int>(v_.types[id])) +
                                        " (expected 1 normal … 6 byte)");
      }
    }
    // Mergeable pieces: normal and user_defined, non-empty; the lowest id of duplicates wins.
    for (std::uint32_t id = 0; id < n; ++id) {
      const piece_type t = v_.types[id];
      if (t != piece_type::normal && t != piece_type::user_defined) continue;
      const std::string_view p = v_.pieces[id];
      if (p.empty() || !seen.insert(p).second) continue;
      table_.set(id, p);
      max_piece_ = std::max(max_piece_, p.size());
      for (std::size_t k = 0; k + 1 < p.size(); ++k) {
        const unsigned pair =
            unsigned{static_cast<unsigned char>(p[k])} * 256 + static_cast<unsigned char>(p[k + 1]);
        joined_[pair >> 6] |= std::uint64_t{1} << (pair & 63);
      }
    }
    table_.build();
  }

  // ---- encoding ---------------------------------------------------------------------------

  /// The ids of `text` (see the contract at the top): [BOS] pieces [EOS].
  [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text, bool bos = false,
                                                  bool eos = false) const {
    std::vector<std::uint32_t> ids;
    ids.reserve(text.size() / 3 + 3);
    if (bos) ids.push_back(v_.bos_id);
    run(text, [&](std::uint32_t id) { ids.push_back(id); });
    if (eos) ids.push_back(v_.eos_id);
    return ids;
  }

  /// encode(text, bos, eos).size(), without storing the ids.
  [[nodiscard]] std::size_t count(std::string_view text, bool bos = false, bool eos = false) const {
    std::size_t c = std::size_t{bos} + std::size_t{eos};
    run(text, [&](std::uint32_t) { ++c; });
    return c;
  }

  // ---- decoding ---------------------------------------------------------------------------

  /// The bytes that token `id` prints after token `prev` (llama2.c's decode; pass
  /// detail::no_token, or any non-BOS id, for the first token). A view into the tokenizer.
  [[nodiscard]] std::string_view decode_piece(std::uint32_t prev, std::uint32_t id) const {
    if (id >= v_.pieces.size())
      throw error(errc::invalid_argument, v_.name + ": id " + std::to_string(id) +
                                              " is not a token (vocabulary of " +
                                              std::to_string(v_.pieces.size()) + " pieces)");
    return piece_bytes(prev, id);
  }

  /// The concatenated decode_piece of every id (see the contract at the top). Throws
  /// qlite::error(invalid_argument) naming the index of an id ≥ size().
  [[nodiscard]] std::string decode(std::span<const std::uint32_t> ids) const {
    std::string out;
    out.reserve(ids.size() * 4);
    std::uint32_t prev = detail::no_token;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (ids[k] >= v_.pieces.size())
        throw error(errc::invalid_argument, v_.name + ": id " + std::to_string(ids[k]) + " at index " +
                                                std::to_string(k) + " is not a token (vocabulary of " +
                                                std::to_string(v_.pieces.size()) + " pieces)");
      out.append(piece_bytes(prev, ids[k]));
      prev = ids[k];
    }
    return out;
  }

  // ---- properties -------------------------------------------------------------------------

  [[nodiscard]] std::size_t size() const noexcept { return v_.pieces.size(); }
  /// The piece text of `id` as stored (with ' ' for "▁" in a space_marker vocabulary).
  [[nodiscard]] const std::string& piece(std::uint32_t id) const { return v_.pieces.at(id); }
  [[nodiscard]] float score(std::uint32_t id) const { return v_.scores.at(id); }
  [[nodiscard]] piece_type type(std::uint32_t id) const { return v_.types.at(id); }
  /// The id encode produces for piece text `p` (normal/user_defined pieces only), or
  /// detail::no_token.
  [[nodiscard]] std::uint32_t find(std::string_view p) const noexcept {
    return p.empty() || p.size() > max_piece_ ? detail::no_token : table_.find(p);
  }
  /// The byte-fallback id of byte `b` (unk_id when the vocabulary has no "<0xXX>" for it).
  [[nodiscard]] std::uint32_t byte_id(std::uint8_t b) const noexcept { return byte_id_[b]; }
  [[nodiscard]] std::uint32_t bos_id() const noexcept { return v_.bos_id; }
  [[nodiscard]] std::uint32_t eos_id() const noexcept { return v_.eos_id; }
  [[nodiscard]] std::uint32_t unk_id() const noexcept { return v_.unk_id; }
  [[nodiscard]] bool add_dummy_prefix() const noexcept { return v_.add_dummy_prefix; }
  [[nodiscard]] const std::string& name() const noexcept { return v_.name; }

 private:
  struct symbol {
    std::uint32_t start;  // offset in the working copy
    std::uint32_t len;    // bytes; 0 = merged into its left neighbour
    std::uint32_t id;
    std::uint32_t prev, next;  // no_token at the ends
    std::uint32_t fixed;       // 1: a byte-fallback token, never merges
  };
  struct candidate {
    float score;
    std::uint32_t left, right, left_len, right_len, id;
  };
  struct lower_priority {
    bool operator()(const candidate& a, const candidate& b) const noexcept {
      return a.score != b.score ? a.score < b.score : a.left > b.left;  // max score, then leftmost
    }
  };

  static void replace_space_marker(std::string& p) {
    std::size_t at = p.find(detail::space_marker_utf8);
    if (at == std::string::npos) return;
    std::string out;
    std::size_t from = 0;
    for (; at != std::string::npos; at = p.find(detail::space_marker_utf8, from)) {
      out.append(p, from, at - from).push_back(' ');
      from = at + detail::space_marker_utf8.size();
    }
    out.append(p, from);
    p = std::move(out);
  }

  std::string_view piece_bytes(std::uint32_t prev, std::uint32_t id) const noexcept {
    switch (v_.types[id]) {
      case piece_type::control:
        return {};
      case piece_type::byte:
        return {&detail::all_bytes[static_cast<std::size_t>(detail::parse_byte_piece(v_.pieces[id]))], 1};
      default: {
        std::string_view p = v_.pieces[id];
        if (prev == v_.bos_id && !p.empty() && p[0] == ' ') p.remove_prefix(1);
        return p;
      }
    }
  }

  /// True when some mergeable piece holds byte `a` directly followed by byte `b`.
  [[nodiscard]] bool joined(unsigned char a, unsigned char b) const noexcept {
    const unsigned k = unsigned{a} * 256 + b;
    return (joined_[k >> 6] >> (k & 63)) & 1;
  }

  /// Per-call working memory, reused across segments.
  struct workspace {
    std::string buf;  // the segment's text: [" "] + groups ("▁" → ' ' with space_marker)
    std::vector<symbol> syms;
    std::vector<candidate> heap;
  };

  /// BPE over the segment in `w` (see the algorithm at the top), then emit its ids.
  template <class Emit>
  void merge_segment(workspace& w, Emit& emit) const {
    std::vector<symbol>& syms = w.syms;
    std::vector<candidate>& heap = w.heap;
    if (syms.empty()) return;
    syms.back().next = detail::no_token;
    heap.clear();
    const lower_priority order;
    auto try_pair = [&](std::uint32_t l, std::uint32_t r) {
      if (l == detail::no_token || r == detail::no_token) return;
      const symbol& a = syms[l];
      const symbol& b = syms[r];
      if (a.fixed | b.fixed) return;
      const std::size_t len = std::size_t{a.len} + b.len;
      if (len > max_piece_) return;
      const std::uint32_t id = table_.find(std::string_view(w.buf).substr(a.start, len));
      if (id == detail::no_token) return;
      heap.push_back({v_.scores[id], l, r, a.len, b.len, id});
      std::push_heap(heap.begin(), heap.end(), order);
    };
    for (std::uint32_t k = 0; k + 1 < syms.size(); ++k) try_pair(k, k + 1);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), order);
      const candidate c = heap.back();
      heap.pop_back();
      symbol& a = syms[c.left];
      symbol& b = syms[c.right];
      // stale: a or b was merged away or grew since this pair was pushed
      if (a.len != c.left_len || b.len != c.right_len || a.next != c.right) continue;
      a.len += b.len;
      a.id = c.id;
      a.next = b.next;
      b.len = 0;
      if (a.next != detail::no_token) syms[a.next].prev = c.left;
      try_pair(a.prev, c.left);
      try_pair(c.left, a.next);
    }
    for (std::uint32_t k = 0; k != detail::no_token; k = syms[k].next) emit(syms[k].id);
    syms.clear();
    w.buf.clear();
  }

  /// Encodes `text` (no BOS/EOS), calling emit(id) in order. The text is cut into segments
  /// before every group whose first byte no piece joins to the byte before it (in TinyStories
  /// text: before every space): no merge can cross such a cut, so each segment is merged on
  /// its own — the same ids, with a small, cache-resident heap.
  template <class Emit>
  void run(std::string_view text, Emit&& emit) const {
    if (text.empty()) return;
    if (text.size() >= std::size_t{detail::no_token} - 8)
      throw error(errc::invalid_argument, v_.name + ": input of " + std::to_string(text.size()) +
                                              " bytes (expected less than 4 GiB)");
    workspace w;
    // one group: cut before it if allowed, then its piece or byte fallback byte by byte
    auto add_group = [&](std::string_view g) {
      if (!w.buf.empty() &&
          !joined(static_cast<unsigned char>(w.buf.back()), static_cast<unsigned char>(g[0])))
        merge_segment(w, emit);
      const auto start = static_cast<std::uint32_t>(w.buf.size());
      w.buf.append(g);
      auto push = [&](std::uint32_t at, std::uint32_t len, std::uint32_t id, std::uint32_t fixed) {
        const auto k = static_cast<std::uint32_t>(w.syms.size());
        w.syms.push_back({at, len, id, k == 0 ? detail::no_token : k - 1, k + 1, fixed});
      };
      const std::uint32_t id = g.size() <= max_piece_ ? table_.find(g) : detail::no_token;
      if (id != detail::no_token) {
        push(start, static_cast<std::uint32_t>(g.size()), id, 0);
      } else {
        for (std::uint32_t b = 0; b < g.size(); ++b)
          push(start + b, 1, byte_id_[static_cast<unsigned char>(g[b])], 1);
      }
    };
    if (v_.add_dummy_prefix) add_group(" ");
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
      std::size_t len = 1;  // llama2.c: a byte and ≤ 3 continuation bytes after it
      while (i + len < n && (s[i + len] & 0xC0) == 0x80 && len < 4) ++len;
      const std::string_view g = text.substr(i, len);
      add_group(v_.space_marker && g == detail::space_marker_utf8 ? std::string_view(" ") : g);
      i += len;
    }
    merge_segment(w, emit);
  }

  sentencepiece_vocab v_;
  detail::byte_table table_;  // normal/user_defined pieces → id
  std::size_t max_piece_ = 0;
  std::array<std::uint32_t, 256> byte_id_{};
  std::array<std::uint64_t, 1024> joined_{};  // bit a·256+b: see joined()
};

// ---- factories ------------------------------------------------------------------------------

/// A llama2.c tokenizer.bin (io/llama2c.hpp): id 0 <unk> (unknown), 1 BOS and 2 EOS
/// (control), pieces spelled "<0xXX>" are the byte-fallback tokens, every other piece is
/// normal. Pieces use a real space. Needs at least 3 pieces.
inline sentencepiece_tokenizer sentencepiece_from_llama2c(const llama2c_tokenizer& t,
                                                          std::string name = "tokenizer.bin") {
  if (t.pieces.size() < 3)
    throw error(errc::format, name + ": " + std::to_string(t.pieces.size()) +
                                  " pieces (expected at least 3: <unk>, BOS, EOS)");
  sentencepiece_vocab v;
  v.name = std::move(name);
  v.pieces = t.pieces;
  v.scores = t.scores;
  v.types.resize(t.pieces.size(), piece_type::normal);
  v.types[0] = piece_type::unknown;
  v.types[1] = v.types[2] = piece_type::control;
  for (std::size_t i = 3; i < t.pieces.size(); ++i)
    if (detail::parse_byte_piece(t.pieces[i]) >= 0) v.types[i] = piece_type::byte;
  return sentencepiece_tokenizer(std::move(v));
}

namespace detail {

/// An optional non-negative integer metadata value of any integer GGUF type.
inline std::uint32_t gguf_token_id(const gguf_file& f, std::string_view key, std::uint32_t fallback) {
  const gguf_value* v = f.find(key);
  if (v == nullptr) return fallback;
  std::uint64_t out = 0;
  bool ok = false;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if (x >= 0) {
            out = static_cast<std::uint64_t>(x);
            ok = out < no_token;
          }
        }
      },
      v->get());
  if (!ok)
    throw error(errc::format, f.name() + ": metadata key '" + std::string(key) +
                                  "': expected a token id (a non-negative integer), found type " +
                                  std::string(to_string(v->type())));
  return static_cast<std::uint32_t>(out);
}

}  // namespace detail

/// The vocabulary of a GGUF file: tokenizer.ggml.model must be "llama" (anything else throws
/// qlite::error(unsupported) naming it); tokenizer.ggml.tokens (string array) and .scores
/// (f32 array) are required, .token_type (i32 array) optional (absent: derived as for
/// llama2.c); bos/eos/unk from tokenizer.ggml.{bos,eos,unknown}_token_id (default 1, 2, 0);
/// tokenizer.ggml.add_space_prefix (bool, default true) is add_dummy_prefix. Pieces spell
/// the space "▁" (space_marker).
inline sentencepiece_tokenizer sentencepiece_from_gguf(const gguf_file& f) {
  const std::string& model = f.get<std::string>("tokenizer.ggml.model");
  if (model != "llama")
    throw error(errc::unsupported, f.name() + ": tokenizer.ggml.model is '" + model +
                                       "' (the SentencePiece tokenizer reads 'llama' vocabularies only)");
  sentencepiece_vocab v;
  v.name = f.name();
  v.pieces = f.get_array<std::string>("tokenizer.ggml.tokens");
  v.scores = f.get_array<float>("tokenizer.ggml.scores");
  v.bos_id = detail::gguf_token_id(f, "tokenizer.ggml.bos_token_id", 1);
  v.eos_id = detail::gguf_token_id(f, "tokenizer.ggml.eos_token_id", 2);
  v.unk_id = detail::gguf_token_id(f, "tokenizer.ggml.unknown_token_id", 0);
  if (const gguf_value* p = f.find("tokenizer.ggml.add_space_prefix")) {
    const bool* b = p->get_if<bool>();
    if (b == nullptr)
      throw error(errc::format,
                  f.name() + ": metadata key 'tokenizer.ggml.add_space_prefix': expected type bool, found " +
                      std::string(to_string(p->type())));
    v.add_dummy_prefix = *b;
  }
  v.space_marker = true;
  if (v.scores.size() != v.pieces.size())
    throw error(errc::format, f.name() + ": tokenizer.ggml.scores has " + std::to_string(v.scores.size()) +
                                  " entries, tokenizer.ggml.tokens has " + std::to_string(v.pieces.size()) +
                                  " (expected equal lengths)");
  if (f.find("tokenizer.ggml.token_type") != nullptr) {
    const std::vector<std::int32_t> t = f.get_array<std::int32_t>("tokenizer.ggml.token_type");
    if (t.size() != v.pieces.size())
      throw error(errc::format, f.name() + ": tokenizer.ggml.token_type has " + std::to_string(t.size()) +
                                    " entries, tokenizer.ggml.tokens has " + std::to_string(v.pieces.size()) +
                                    " (expected equal lengths)");
    v.types.reserve(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) {
      if (t[i] < 1 || t[i] > 6)
        throw error(errc::format, f.name() + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is " +
                                      std::to_string(t[i]) + " (expected 1 normal … 6 byte)");
      v.types.push_back(static_cast<piece_type>(t[i]));
    }
  } else {
    v.types.resize(v.pieces.size(), piece_type::normal);
    for (std::size_t i = 0; i < v.pieces.size(); ++i)
      if (detail::parse_byte_piece(v.pieces[i]) >= 0) v.types[i] = piece_type::byte;
    for (std::uint32_t id : {v.unk_id, v.bos_id, v.eos_id})
      if (id < v.types.size()) v.types[id] = id == v.unk_id ? piece_type::unknown : piece_type::control;
  }
  for (std::size_t i = 0; i < v.scores.size(); ++i)
    if (std::isnan(v.scores[i]))
      throw error(errc::format, f.name() + ": tokenizer.ggml.scores[" + std::to_string(i) +
                                    "]: expected a number, found NaN");
  return sentencepiece_tokenizer(std::move(v));
}

}  // namespace qlite
