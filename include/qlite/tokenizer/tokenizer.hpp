// qlite — byte-level BPE tokenizer: text → token ids → bytes, with the ids of tiktoken and
// Hugging Face tokenizers.
//
// Pipeline (encode):
//
//   text ─UTF-8 policy─▶ valid UTF-8 ─split on special tokens─▶ segments ─NFC (if the model
//   has it)─▶ ─pretokenize (pretokenizer.hpp)─▶ pieces ─whole-piece lookup / BPE (bpe.hpp)─▶ ids
//
// Contract
//   - `encode_ordinary(text)`: special-token text is ordinary text (tiktoken's
//     encode_ordinary; the ids of Hugging Face `encode` with no added tokens matched).
//   - `encode(text, allowed, disallowed)`: tiktoken semantics. Occurrences of `allowed`
//     special tokens become their ids; if text contains a `disallowed` one (default: every
//     special token not allowed) it throws qlite::error(invalid_argument) naming the token
//     and the three ways out; special text in neither set is ordinary text. Overlapping
//     matches: leftmost, then longest.
//   - `encode(text)`: the family's default — tiktoken: allowed none, disallowed all;
//     tokenizer.json: every added token always matches (what HF does whatever
//     add_special_tokens says; qlite never adds BOS/EOS).
//   - Invalid UTF-8 input is not an error: each maximal invalid subpart becomes U+FFFD
//     before encoding (unicode.hpp), as the peers do. `decode` returns bytes, which need not
//     be valid UTF-8 (a token may hold part of a code point).
//   - Offsets (`encode_with_offsets`) are byte offsets into the text actually tokenized
//     (after the UTF-8 policy and NFC; the input itself whenever those change nothing):
//     token k covers [offset[k], offset[k+1]).
//   - `count(text)` = encode(text).size() without storing ids.
//   - `encode_batch(texts, threads)` runs `encode` per text over qlite::parallel_for; the
//     result does not depend on the thread count.
//   - The tokenizer is immutable after construction: every const member is thread-safe.
//
// Cost: O(n) pretokenization; whole-piece hash lookup for most pieces; BPE O(k²) for
// pieces of k ≤ 128 bytes, ~O(k) above (spliced windows; O(k log k) fallback; bpe.hpp). No
// input length makes it fail.
// Ids are appended through a 256-entry local buffer; decode copies 16 bytes per token of
// ≤ 16 bytes from a padded arena (one branch, no per-token allocation).
//
//   auto tok = qlite::load_tiktoken("cl100k_base.tiktoken", "cl100k_base");
//   std::vector<std::uint32_t> ids = tok.encode("hello world");     // {15339, 1917}
//   std::string back = tok.decode(ids);                              // "hello world"
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/core/parallel_for.hpp"
#include "qlite/tokenizer/bpe.hpp"
#include "qlite/tokenizer/pretokenizer.hpp"
#include "qlite/tokenizer/unicode.hpp"

namespace qlite {

/// A special (tiktoken) or added (Hugging Face) token: exact text and id.
struct special_token {
  std::string text;
  std::uint32_t id;
};

/// A set of special tokens by text, or all of them: the `allowed`/`disallowed` arguments.
class special_set {
 public:
  special_set() = default;
  special_set(std::initializer_list<std::string_view> names) : names_(names.begin(), names.end()) {}
  explicit special_set(std::vector<std::string> names) : names_(std::move(names)) {}
  static special_set all() {
    special_set s;
    s.all_ = true;
    return s;
  }
  static special_set none() { return {}; }
  [[nodiscard]] bool is_all() const noexcept { return all_; }
  [[nodiscard]] bool contains(std::string_view t) const noexcept {
    return all_ || std::find(names_.begin(), names_.end(), t) != names_.end();
  }

 private:
  bool all_ = false;
  std::vector<std::string> names_;
};

/// How pairs merge (bpe.hpp).
enum class merge_rule : std::uint8_t { concat_rank, pair_merges };
/// Text normalization before pre-tokenization.
enum class normalizer : std::uint8_t { none, nfc };

/// Everything a tokenizer is made of; loaders fill it (tiktoken.hpp, tokenizer_json.hpp).
struct tokenizer_parts {
  std::string name;  ///< for messages ("cl100k_base", a path, ...)
  pretokenizer pattern = pretokenizer::cl100k;
  normalizer norm = normalizer::none;
  merge_rule rule = merge_rule::concat_rank;
  bool whole_piece_lookup = true;       ///< emit a piece that is itself a token (tiktoken; HF ignore_merges)
  bool specials_always_match = false;   ///< HF added tokens: `encode(text)` matches them
  detail::byte_table vocab;             ///< ordinary tokens: id → bytes (built by the tokenizer)
  detail::pair_table merges;            ///< pair_merges only
  std::vector<special_token> specials;  ///< not part of `vocab`'s lookup
};

/// Result of `encode_with_offsets`.
struct encoding {
  std::vector<std::uint32_t> ids;
  std::vector<std::size_t> offsets;  ///< start byte of each token in the tokenized text
};

class tokenizer {
 public:
  /// Validates and indexes `parts`: every byte must have a token; special ids must not
  /// collide with ordinary ids holding different bytes; ids and merge ranks stay below
  /// 2^24 − 1 (bpe.hpp's small-piece keys; real vocabularies have < 2^18).
  explicit tokenizer(tokenizer_parts parts) : p_(std::move(parts)) {
    std::uint32_t first = detail::no_token;
    const std::uint32_t dup = p_.vocab.build(&first);
    if (dup != detail::no_token)
      throw error(errc::format, p_.name + ": tokens " + std::to_string(first) + " and " +
                                    std::to_string(dup) +
                                    " have the same bytes (expected every token's bytes to be unique)");
    const std::uint32_t max_rank = p_.merges.max_rank();
    if (p_.vocab.id_bound() >= detail::small_rank_limit ||
        (max_rank != detail::no_token && max_rank >= detail::small_rank_limit))
      throw error(errc::format, p_.name + ": more than " + std::to_string(detail::small_rank_limit) +
                                    " tokens or merges (expected a vocabulary below 2^24 entries)");
    for (unsigned b = 0; b < 256; ++b) {
      const auto c = static_cast<unsigned char>(b);
      byte_id_[b] = p_.vocab.find(&c, 1);
      if (byte_id_[b] == detail::no_token)
        throw error(errc::format, p_.name + ": no token for byte 0x" + hex2(b) +
                                      " (expected all 256 single bytes in a byte-level vocabulary)");
    }
    for (const special_token& s : p_.specials) {
      if (s.text.empty())
        throw error(errc::format, p_.name + ": special token " + std::to_string(s.id) + " is empty");
      first_byte_[static_cast<unsigned char>(s.text[0])] = true;
      n_vocab_ = std::max<std::size_t>(n_vocab_, std::size_t{s.id} + 1);
    }
    n_vocab_ = std::max(n_vocab_, p_.vocab.id_bound());
    if (!p_.whole_piece_lookup && p_.rule == merge_rule::pair_merges) {
      reachable_ =
          std::shared_ptr<std::atomic<std::uint8_t>[]>(new std::atomic<std::uint8_t>[p_.vocab.id_bound()]);
      for (std::ptrdiff_t k = 0; k < static_cast<std::ptrdiff_t>(p_.vocab.id_bound()); ++k)
        reachable_[k].store(0, std::memory_order_relaxed);
    }
    // One flat decode table for ordinary and special ids.
    dec_index_.assign(n_vocab_, {0, detail::no_token});
    for (std::uint32_t id = 0; id < p_.vocab.id_bound(); ++id) {
      if (!p_.vocab.contains_id(id)) continue;
      const std::string_view b = p_.vocab.bytes(id);
      dec_index_[id] = {static_cast<std::uint32_t>(dec_arena_.size()), static_cast<std::uint32_t>(b.size())};
      dec_arena_.append(b);
    }
    for (const special_token& s : p_.specials) {
      dec_index_[s.id] = {static_cast<std::uint32_t>(dec_arena_.size()),
                          static_cast<std::uint32_t>(s.text.size())};
      dec_arena_.append(s.text);
    }
    dec_arena_.append(16, '\0');  // decode copies 16 bytes at a time
  }

  // ---- encoding ---------------------------------------------------------------------------

  /// Ids of `text` with special-token text treated as ordinary text.
  [[nodiscard]] std::vector<std::uint32_t> encode_ordinary(std::string_view text) const {
    std::vector<std::uint32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    id_sink sink(ids);
    run(text, nullptr, [&](std::uint32_t id) { sink.push(id); });
    sink.flush();
    return ids;
  }

  /// tiktoken's encode (see the contract at the top).
  [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text, const special_set& allowed,
                                                  const special_set& disallowed) const {
    check_disallowed(text, allowed, disallowed);
    std::vector<std::uint32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    id_sink sink(ids);
    run(text, &allowed, [&](std::uint32_t id) { sink.push(id); });
    sink.flush();
    return ids;
  }

  /// The family's default encode: tiktoken → encode(text, none, all); tokenizer.json →
  /// every added token matches.
  [[nodiscard]] std::vector<std::uint32_t> encode(std::string_view text) const {
    return p_.specials_always_match ? encode(text, special_set::all(), special_set::none())
                                    : encode(text, special_set::none(), special_set::all());
  }

  /// Number of tokens `encode(text)` (or `encode_ordinary` when ordinary) would give.
  [[nodiscard]] std::size_t count(std::string_view text, bool ordinary = false) const {
    std::size_t n = 0;
    const special_set all = special_set::all();
    const special_set* allowed = nullptr;
    if (!ordinary) {
      if (p_.specials_always_match) {
        allowed = &all;
      } else {
        check_disallowed(text, special_set::none(), special_set::all());
      }
    }
    run(text, allowed, [&](std::uint32_t) { ++n; });
    return n;
  }

  /// `encode(text)` plus the start byte of each token in the tokenized text.
  [[nodiscard]] encoding encode_with_offsets(std::string_view text) const {
    encoding e;
    e.ids = encode(text);
    e.offsets.reserve(e.ids.size());
    std::size_t at = 0;
    for (std::uint32_t id : e.ids) {
      e.offsets.push_back(at);
      at += token_bytes(id).size();
    }
    return e;
  }

  /// `encode(text)` for each text, on `threads` threads (0: qlite::default_threads()).
  [[nodiscard]] std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string_view> texts,
                                                                     unsigned threads = 0) const {
    std::vector<std::vector<std::uint32_t>> out(texts.size());
    parallel_for(
        texts.size(),
        [&](std::size_t b, std::size_t e) {
          for (std::size_t i = b; i < e; ++i) out[i] = encode(texts[i]);
        },
        threads == 0 ? default_threads() : threads);
    return out;
  }

  // ---- decoding ---------------------------------------------------------------------------

  /// The bytes of the ids, concatenated. Throws qlite::error(invalid_argument) naming the
  /// index of an id that is not a token.
  [[nodiscard]] std::string decode(std::span<const std::uint32_t> ids) const {
    // Fast path: a token of ≤ 16 bytes is one fixed 16-byte copy (the arena is padded, the
    // output has 16 bytes of slack); longer tokens, growth and errors take decode_slow.
    std::string out;
    out.resize(ids.size() * 4 + 64);
    std::size_t used = 0;
    const auto* index = dec_index_.data();
    const std::size_t bound = dec_index_.size();
    const char* arena = dec_arena_.data();
    char* dst = out.data();
    std::size_t room = out.size() - 16;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const std::uint32_t id = ids[k];
      if (id < bound) {
        const auto [off, len] = index[id];
        if (len <= 16 && used <= room) {
          std::memcpy(dst + used, arena + off, 16);
          used += len;
          continue;
        }
      }
      used = decode_slow(ids, k, out, used);
      dst = out.data();
      room = out.size() - 16;
    }
    out.resize(used);
    return out;
  }

  /// The bytes of one token (a view into the tokenizer). Throws for an unknown id.
  [[nodiscard]] std::string_view decode_single_token_bytes(std::uint32_t id) const {
    const std::string_view b = lookup_bytes(id);
    if (b.data() == nullptr)
      throw error(errc::invalid_argument, p_.name + ": id " + std::to_string(id) + " is not a token");
    return b;
  }

  // ---- properties -------------------------------------------------------------------------

  /// One past the largest id (ordinary or special).
  [[nodiscard]] std::size_t n_vocab() const noexcept { return n_vocab_; }
  [[nodiscard]] const std::vector<special_token>& special_tokens() const noexcept { return p_.specials; }
  [[nodiscard]] const std::string& name() const noexcept { return p_.name; }
  [[nodiscard]] pretokenizer pattern() const noexcept { return p_.pattern; }
  /// Id of an exact ordinary token's bytes, or of a special token's text; no_token if none.
  [[nodiscard]] std::uint32_t token_id(std::string_view bytes) const noexcept {
    for (const special_token& s : p_.specials)
      if (s.text == bytes) return s.id;
    return p_.vocab.find(bytes);
  }
  static constexpr std::uint32_t no_token = detail::no_token;

  /// Testing hook: BPE of one piece (no whole-piece lookup) with a chosen algorithm of
  /// bpe.hpp — 0: array scan (≤ 128 bytes), 1: heap, 2: buckets, 3: windows (2 and 3: empty
  /// result if the algorithm declines the piece).
  [[nodiscard]] std::vector<std::uint32_t> merge_piece_for_testing(std::string_view piece,
                                                                   int algorithm) const {
    std::vector<std::uint32_t> ids;
    detail::bpe_scratch scratch;
    const auto* s = reinterpret_cast<const unsigned char*>(piece.data());
    const auto n = static_cast<std::uint32_t>(piece.size());
    auto sink = [&](std::uint32_t id) { ids.push_back(id); };
    auto go = [&](const auto& rule) {
      if (n < 2) {
        if (n == 1) ids.push_back(byte_id_[s[0]]);
      } else if (algorithm == 0) {
        detail::bpe_merge_small(rule, s, n, sink);
      } else if (algorithm == 1) {
        detail::bpe_merge_heap(rule, s, n, scratch, sink);
      } else if (algorithm == 2) {
        if (!detail::bpe_merge_buckets(rule, s, n, scratch, sink)) ids.clear();
      } else if (!detail::bpe_merge_windows(rule, s, n, scratch, sink)) {
        ids.clear();
      }
    };
    if (p_.rule == merge_rule::concat_rank)
      go(concat_rule_ref{this, s + n});
    else
      go(pair_rule_ref{this});
    return ids;
  }

 private:
  /// Appends ids to a vector through a small local buffer: a push is a store and a compare
  /// (vector::push_back per token is not inlined into the BPE loops).
  struct id_sink {
    explicit id_sink(std::vector<std::uint32_t>& v) noexcept : ids(v) {}
    std::vector<std::uint32_t>& ids;
    std::uint32_t n = 0;
    std::uint32_t buf[256];
    void push(std::uint32_t id) {
      buf[n++] = id;
      if (n == 256) flush();
    }
    void flush() {
      ids.insert(ids.end(), buf, buf + n);
      n = 0;
    }
  };

  static std::string hex2(unsigned b) {
    const char* d = "0123456789abcdef";
    return {d[(b >> 4) & 15], d[b & 15]};
  }

  /// decode's general step for ids[k]: checks the id, grows `out` (keeping ≥ 16 bytes of
  /// slack), appends the bytes; returns the new used size.
  std::size_t decode_slow(std::span<const std::uint32_t> ids, std::size_t k, std::string& out,
                          std::size_t used) const {
    const std::uint32_t id = ids[k];
    if (id >= dec_index_.size() || dec_index_[id].second == detail::no_token)
      throw error(errc::invalid_argument, p_.name + ": id " + std::to_string(id) + " at index " +
                                              std::to_string(k) + " is not a token (n_vocab " +
                                              std::to_string(n_vocab_) + ")");
    const auto [off, len] = dec_index_[id];
    if (used + len + 16 > out.size()) out.resize(std::max(out.size() * 2, used + len + 16));
    std::memcpy(out.data() + used, dec_arena_.data() + off, len);
    return used + len;
  }

  [[nodiscard]] std::string_view lookup_bytes(std::uint32_t id) const noexcept {
    if (id >= dec_index_.size() || dec_index_[id].second == detail::no_token) return {};
    return std::string_view(dec_arena_).substr(dec_index_[id].first, dec_index_[id].second);
  }
  [[nodiscard]] std::string_view token_bytes(std::uint32_t id) const noexcept { return lookup_bytes(id); }

  /// Leftmost, then longest, special token of `set` starting at or after `from`.
  [[nodiscard]] const special_token* find_special(std::string_view text, std::size_t from,
                                                  const special_set& set, std::size_t& at) const noexcept {
    for (std::size_t i = from; i < text.size(); ++i) {
      if (!first_byte_[static_cast<unsigned char>(text[i])]) continue;
      const special_token* best = nullptr;
      for (const special_token& s : p_.specials) {
        if (text.compare(i, s.text.size(), s.text) == 0 && (!best || s.text.size() > best->text.size()) &&
            set.contains(s.text))
          best = &s;
      }
      if (best) {
        at = i;
        return best;
      }
    }
    return nullptr;
  }

  void check_disallowed(std::string_view text, const special_set& allowed,
                        const special_set& disallowed) const {
    if (p_.specials.empty()) return;
    std::string fixed;
    const std::string_view t = utf8_view_or_fix(text, fixed);
    std::vector<std::string> bad;
    for (const special_token& s : p_.specials) {
      const bool is_disallowed =
          disallowed.is_all() ? !allowed.contains(s.text) : disallowed.contains(s.text);
      if (is_disallowed) bad.push_back(s.text);
    }
    if (bad.empty()) return;
    std::size_t at = 0;
    const special_set bad_set(std::move(bad));
    if (const special_token* s = find_special(t, 0, bad_set, at)) {
      throw error(
          errc::invalid_argument,
          p_.name + ": The text contains a special token that is not allowed: " + s->text + " (at byte " +
              std::to_string(at) +
              "). To encode it as the special token, add it to allowed_special; "
              "to encode it as ordinary text, remove it from disallowed_special; to disable the check "
              "for all special tokens, pass an empty disallowed_special (or use encode_ordinary).");
    }
  }

  /// Encodes `text`, matching the specials of `allowed` (none when null); calls out(id).
  template <class Out>
  void run(std::string_view text, const special_set* allowed, Out&& out) const {
    std::string fixed;
    const std::string_view t = utf8_view_or_fix(text, fixed);
    std::size_t pos = 0;
    if (allowed && !p_.specials.empty()) {
      std::size_t at = 0;
      while (const special_token* s = find_special(t, pos, *allowed, at)) {
        segment(t.substr(pos, at - pos), out);
        out(s->id);
        pos = at + s->text.size();
      }
    }
    segment(t.substr(pos), out);
  }

  template <class Out>
  void segment(std::string_view text, Out& out) const {
    if (text.empty()) return;
    if (p_.norm == normalizer::nfc && !nfc_quick_yes(text)) {
      const std::string normalized = nfc(text);
      pieces(normalized, out);
    } else {
      pieces(text, out);
    }
  }

  struct concat_rule_ref {
    const tokenizer* t;
    const unsigned char* end;  // the end of the text: the bytes before it may be read
    [[nodiscard]] std::uint32_t byte_id(unsigned char b) const noexcept { return t->byte_id_[b]; }
    [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t pair(const unsigned char* p, detail::bpe_symbol l,
                                                        detail::bpe_symbol r,
                                                        std::uint32_t& merged) const noexcept {
      const unsigned char* q = p + l.start;
      merged = t->p_.vocab.find_merged(q, r.end - l.start, static_cast<std::size_t>(end - q));
      return merged;
    }
    [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t first_pair(const unsigned char* q, std::uint32_t,
                                                              std::uint32_t,
                                                              std::uint32_t& merged) const noexcept {
      merged = t->p_.vocab.find_pair_of_bytes(q[0], q[1]);
      return merged;
    }
  };
  struct pair_rule_ref {
    const tokenizer* t;
    [[nodiscard]] std::uint32_t byte_id(unsigned char b) const noexcept { return t->byte_id_[b]; }
    [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t pair(const unsigned char*, detail::bpe_symbol l,
                                                        detail::bpe_symbol r,
                                                        std::uint32_t& merged) const noexcept {
      const detail::pair_table::value v = t->p_.merges.find(l.id, r.id);
      merged = v.id;
      return v.rank;
    }
    [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t first_pair(const unsigned char*, std::uint32_t a,
                                                              std::uint32_t b,
                                                              std::uint32_t& merged) const noexcept {
      const detail::pair_table::value v = t->p_.merges.find(a, b);
      merged = v.id;
      return v.rank;
    }
  };

  template <class Out>
  void pieces(std::string_view text, Out& out) const {
    static thread_local detail::bpe_scratch scratch;
    static thread_local piece_cache cache;
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
      const std::size_t e = next_piece(p_.pattern, s, i, n);
      const auto len = static_cast<std::uint32_t>(e - i);
      if (len == 1) {
        out(byte_id_[s[i]]);
        i = e;
        continue;
      }
      if (p_.whole_piece_lookup) {
        const std::uint32_t whole = p_.vocab.find(s + i, len, n - i);
        if (whole != detail::no_token) {
          out(whole);
          i = e;
          continue;
        }
      } else if (reachable_) {
        // Without ignore_merges a piece that is a token is still merged; but if merging the
        // token's own bytes gives the token back (checked once per token, remembered), the
        // answer is that token.
        const std::uint32_t whole = p_.vocab.find(s + i, len, n - i);
        if (whole != detail::no_token) {
          std::atomic<std::uint8_t>& flag = reachable_[static_cast<std::ptrdiff_t>(whole)];
          std::uint8_t st = flag.load(std::memory_order_relaxed);
          if (st == 0) {
            std::uint32_t got = detail::no_token, count = 0;
            merge(s + i, len, s + n, scratch, [&](std::uint32_t t) {
              got = t;
              ++count;
            });
            st = (count == 1 && got == whole) ? 1 : 2;
            flag.store(st, std::memory_order_relaxed);
          }
          if (st == 1) {
            out(whole);
            i = e;
            continue;
          }
        }
      }
      if (len > piece_cache::max_bytes) {
        merge(s + i, len, s + n, scratch, out);
        i = e;
        continue;
      }
      // Short pieces that need BPE repeat (identifiers, words of other scripts): cache them.
      const std::uint64_t h = detail::hash_bytes(s + i, len);
      piece_cache::entry& c = cache.slots[h & (piece_cache::n_slots - 1)];
      if (c.owner == serial_ && c.hash == h && c.len == len && std::memcmp(c.bytes, s + i, len) == 0) {
        for (std::uint32_t k = 0; k < c.n_ids; ++k) out(c.ids[k]);
        i = e;
        continue;
      }
      std::uint32_t buf[piece_cache::max_bytes];
      std::uint32_t m = 0;
      merge(s + i, len, s + n, scratch, [&](std::uint32_t id) { buf[m++] = id; });
      for (std::uint32_t k = 0; k < m; ++k) out(buf[k]);
      if (m <= piece_cache::max_ids) {
        c.owner = serial_;
        c.hash = h;
        c.len = static_cast<std::uint8_t>(len);
        c.n_ids = static_cast<std::uint8_t>(m);
        std::memcpy(c.bytes, s + i, len);
        std::memcpy(c.ids, buf, m * sizeof(std::uint32_t));
      }
      i = e;
    }
  }

  template <class Out>
  void merge(const unsigned char* p, std::uint32_t len, const unsigned char* end,
             detail::bpe_scratch& scratch, Out&& out) const {
    if (p_.rule == merge_rule::concat_rank)
      detail::bpe_merge(concat_rule_ref{this, end}, p, len, scratch, out);
    else
      detail::bpe_merge(pair_rule_ref{this}, p, len, scratch, out);
  }

  /// Per-thread, direct-mapped cache of BPE results of short pieces, tagged with the
  /// tokenizer's serial number (so tokenizers never see each other's entries).
  struct piece_cache {
    static constexpr std::uint32_t max_bytes = 24, max_ids = 12, n_slots = 2048;
    struct entry {
      std::uint64_t hash = 0;
      std::uint64_t owner = 0;
      std::uint8_t len = 0, n_ids = 0;
      unsigned char bytes[max_bytes];
      std::uint32_t ids[max_ids];
    };
    entry slots[n_slots];
  };

  static std::uint64_t next_serial() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    return ++counter;
  }

  tokenizer_parts p_;
  std::array<std::uint32_t, 256> byte_id_{};
  std::array<bool, 256> first_byte_{};
  std::vector<std::pair<std::uint32_t, std::uint32_t>> dec_index_;  // id → (offset, length) in dec_arena_
  std::string dec_arena_;
  std::size_t n_vocab_ = 0;
  std::uint64_t serial_ = next_serial();
  // pair_merges without ignore_merges: per token 0 unknown, 1 BPE(bytes) == [token], 2 not
  std::shared_ptr<std::atomic<std::uint8_t>[]>
      reachable_;  // never 0: an empty cache entry matches no tokenizer
};

/// Turns ids into text incrementally, holding back the bytes of a UTF-8 sequence that a
/// later token may complete; `finish()` returns whatever is held back (possibly invalid).
///
///   qlite::stream_decoder d(tok);
///   for (auto id : ids) std::fputs(d.push(id).c_str(), stdout);
///   std::fputs(d.finish().c_str(), stdout);
class stream_decoder {
 public:
  explicit stream_decoder(const tokenizer& t) : t_(&t) {}

  /// The bytes that are complete after appending token `id`.
  [[nodiscard]] std::string push(std::uint32_t id) {
    pending_.append(t_->decode_single_token_bytes(id));
    const std::size_t keep = incomplete_tail(pending_);
    std::string out = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return out;
  }
  /// The held-back bytes (empty when the stream ended on a complete sequence).
  [[nodiscard]] std::string finish() { return std::exchange(pending_, {}); }

 private:
  /// Length of a suffix that is a proper prefix of a valid UTF-8 sequence (0..3).
  static std::size_t incomplete_tail(std::string_view s) noexcept {
    const std::size_t n = s.size();
    for (std::size_t k = 1; k <= 3 && k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[n - k]);
      if ((b & 0xC0) == 0x80) continue;  // continuation: look further back
      std::size_t need = 0;
      if (b >= 0xC2 && b <= 0xDF)
        need = 2;
      else if (b >= 0xE0 && b <= 0xEF)
        need = 3;
      else if (b >= 0xF0 && b <= 0xF4)
        need = 4;
      if (need <= k) return 0;  // complete (or not a lead byte)
      // still a possible prefix? check the second byte's range for E0/ED/F0/F4
      std::string probe(s.substr(n - k));
      std::size_t sub = 0;
      const auto* u = reinterpret_cast<const unsigned char*>(probe.data());
      (void)utf8_sequence_length(u, 0, probe.size(), sub);
      return sub == k ? k : 0;
    }
    return 0;
  }

  const tokenizer* t_;
  std::string pending_;
};

}  // namespace qlite
