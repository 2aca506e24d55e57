// qlite — byte-pair encoding of one pre-token: the vocabulary tables and the merge loop.
//
// Glossary
//   piece   the bytes of one pre-token (pretokenizer.hpp); BPE never crosses pieces.
//   symbol  a run of bytes of the piece that is currently one token; at the start every
//           byte is a symbol.
//   rank    the priority of a merge: the lowest-ranked adjacent pair merges first, the
//           leftmost one on ties.
//
// Two merge rules, the two families of byte-level BPE files:
//   - concat_rank (tiktoken): a pair may merge when the concatenated bytes are a token; its
//     rank is that token's rank (= its id).
//   - pair_merges (Hugging Face, GPT-2 vocab.bpe): a pair may merge only when (left id,
//     right id) is in the merges list; its rank is the list index, the result the vocab id
//     of the concatenation.
//
// The algorithm (`bpe_merge`): pieces of ≤ 128 bytes use a scan over a small array (keys
// rank·128 + position in groups of 8 with their minima; merge, re-rank the two neighbours;
// symbols never move: O(n²) with n ≤ 128, cache-resident). Longer pieces are merged in
// overlapping 64-byte windows spliced where two windows share a token (bpe_merge_windows:
// exact, ~1.1 merges per byte, repeated windows memoized); if two windows never agree, a
// bucket queue per rank (bpe_merge_buckets) or an 8-ary heap of candidate pairs keyed (rank,
// position) over a linked list of symbols (O(n log n), no recursion) merges the piece. All
// give exactly the merge order "lowest rank, then leftmost" (tests compare them on random
// pieces).
//
// Cost: the first pairs (two single bytes) are one load from a direct table; every other
// candidate one hash lookup (of ≤ 8 bytes, most: one load and a mask, one multiply, 3 filter
// bits in one word, one slot, all inline; longer ones hash 8 bytes per step). Random text
// makes "is this candidate a token" random: the merge loop branches on it only in the filter
// test (~10 % of candidates pass), not in computing keys or updating the group minima.
//
//   qlite::detail::byte_table t;  t.build(...);  std::uint32_t id = t.find(bytes);
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "qlite/config.hpp"

namespace qlite::detail {

inline constexpr std::uint32_t no_token = std::numeric_limits<std::uint32_t>::max();

inline std::uint64_t load_u64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

/// The key word of a byte string: the little-endian value of its first min(n, 8) bytes (the
/// rest zero). With the length it identifies a string of ≤ 8 bytes; it is the first 8 bytes
/// of a longer one. Fixed-size loads only (two overlapping ones): no memcpy call.
QLITE_FORCE_INLINE std::uint64_t key_word(const unsigned char* p, std::size_t n) noexcept {
  if (n >= 8) return load_u64(p);
  if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + n - 4, 4);
    return std::uint64_t{a} | (std::uint64_t{b} << (8 * (n - 4)));
  }
  if (n >= 2) {
    std::uint16_t a, b;
    std::memcpy(&a, p, 2);
    std::memcpy(&b, p + n - 2, 2);
    return std::uint64_t{a} | (std::uint64_t{b} << (8 * (n - 2)));
  }
  return n == 1 ? p[0] : 0;
}

/// key_word when at least 8 bytes may be read at p: one load and a mask, no branch on n
/// (on a big-endian machine the mask would keep the wrong bytes: there, key_word).
QLITE_FORCE_INLINE std::uint64_t key_word(const unsigned char* p, std::size_t n,
                                          std::size_t readable) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    if (readable >= 8) {
      const std::uint64_t mask = n >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * n)) - 1;
      return load_u64(p) & mask;
    }
  }
  return key_word(p, n);
}

inline constexpr std::uint64_t hash_k0 = 0x9E3779B97F4A7C15ULL, hash_k1 = 0xBF58476D1CE4E5B9ULL;

/// hash_bytes of a string of n ≤ 8 bytes whose key_word is `key` (one multiply: the table
/// index takes the low bits, which the shift mixes with the high ones).
QLITE_FORCE_INLINE std::uint64_t hash_short(std::uint64_t key, std::size_t n) noexcept {
  const std::uint64_t h = ((n + 1) * hash_k0 ^ key) * hash_k1;
  return h ^ (h >> 29);
}

/// A fast, non-cryptographic hash of a byte string (multiply-xorshift over 8-byte words).
inline std::uint64_t hash_bytes(const unsigned char* p, std::size_t n) noexcept {
  if (n <= 8) return hash_short(key_word(p, n), n);
  std::uint64_t h = (n + 1) * hash_k0;
  while (n >= 8) {
    h = (h ^ load_u64(p)) * hash_k1;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    h = (h ^ key_word(p, n)) * hash_k1;
    h ^= h >> 31;
  }
  h *= hash_k0;
  return h ^ (h >> 29);
}

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDULL;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ULL;
  return x ^ (x >> 33);
}

/// The token byte strings by id (an arena) and an open-addressing table bytes → id. A slot
/// holds the key_word, the length and the id, so a lookup of a token of ≤ 8 bytes (most
/// BPE candidates) touches one cache line; longer ones compare the rest in the arena.
/// Strings of 1 and 2 bytes (every first pair of a BPE merge) are looked up in direct
/// tables instead: one load from 256 KiB that stays in L2, no hash.
class byte_table {
 public:
  /// Sets the bytes of token `id` (ids may be added in any order; gaps stay empty).
  void set(std::uint32_t id, std::string_view bytes) {
    if (id >= offsets_.size()) {
      offsets_.resize(std::size_t{id} + 1, {0, 0});
      present_.resize(std::size_t{id} + 1, 0);
    }
    offsets_[id] = {static_cast<std::uint32_t>(arena_.size()), static_cast<std::uint32_t>(bytes.size())};
    present_[id] = 1;
    arena_.append(bytes);
  }
  /// Builds the lookup table over every present id; returns the id of the first duplicate
  /// byte string found (the later id), or no_token.
  std::uint32_t build(std::uint32_t* first_of_duplicate = nullptr) {
    std::size_t cap = 16;
    while (cap < offsets_.size() * 2) cap <<= 1;
    slots_.assign(cap, slot{0, no_token, 0});
    mask_ = cap - 1;
    one_.fill(no_token);
    two_.assign(std::size_t{1} << 16, no_token);
    // membership filter: 4 bits per slot (~10 per token) — 128 KiB for cl100k_base, 256 KiB
    // for o200k_base (a simulated 1 MiB L2 missed more with twice the bits); each token sets
    // 3 bits of one 64-bit word (a blocked Bloom filter: one load per test), ~2 % false
    // positives (1 bit: ~9 %). Most candidates of BPE are not tokens: every one the filter
    // passes is a branch mispredicted and a slot probe that misses the cache.
    filter_.assign(std::max<std::size_t>(cap / 16, 64), 0);
    filter_mask_ = filter_.size() - 1;
    for (std::uint32_t id = 0; id < offsets_.size(); ++id) {
      if (!present_[id]) continue;
      const std::string_view b = bytes(id);
      const auto* p = reinterpret_cast<const unsigned char*>(b.data());
      if (const std::uint32_t old = find(p, b.size()); old != no_token) {
        if (first_of_duplicate) *first_of_duplicate = old;
        return id;
      }
      const std::uint64_t h = hash_bytes(p, b.size());
      std::size_t i = h & mask_;
      while (slots_[i].id != no_token) i = (i + 1) & mask_;
      slots_[i] = {key_word(p, b.size()), id, len_tag(b.size(), h)};
      if (b.size() == 1) one_[p[0]] = id;
      if (b.size() == 2) two_[std::size_t{p[0]} << 8 | p[1]] = id;
      filter_[filter_word(h)] |= filter_bits(h);
    }
    return no_token;
  }
  /// The id of a byte string, or no_token. `readable` (≥ n): how many bytes may be read at
  /// p (8 or more let a string of ≤ 8 bytes be read with one load).
  [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t find(const unsigned char* p, std::size_t n,
                                                      std::size_t readable = 0) const noexcept {
    if (n == 2) return two_[std::size_t{p[0]} << 8 | p[1]];
    if (n == 1) return one_[p[0]];
    return find_merged(p, n, readable);
  }
  /// find() without the direct tables (every string is in the hash table too): for strings
  /// of ≥ 3 bytes, i.e. every merge after the first pairs; inlined into the merge loops.
  [[nodiscard]] QLITE_FORCE_INLINE std::uint32_t find_merged(const unsigned char* p, std::size_t n,
                                                             std::size_t readable = 0) const noexcept {
    if (n > 8) return find_long(p, n);
    const std::uint64_t key = key_word(p, n, readable);
    const std::uint64_t h = hash_short(key, n);
    if ((filter_[filter_word(h)] & filter_bits(h)) != filter_bits(h)) return no_token;
    const std::uint32_t lt = len_tag(n, h);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.id == no_token) return no_token;
      if (s.len_tag == lt && s.prefix == key) return s.id;
    }
  }
  /// find() of the two bytes b0 b1.
  [[nodiscard]] std::uint32_t find_pair_of_bytes(unsigned char b0, unsigned char b1) const noexcept {
    return two_[std::size_t{b0} << 8 | b1];
  }
  [[nodiscard]] std::uint32_t find(std::string_view b) const noexcept {
    return find(reinterpret_cast<const unsigned char*>(b.data()), b.size());
  }
  [[nodiscard]] std::string_view bytes(std::uint32_t id) const noexcept {
    const auto [off, len] = offsets_[id];
    return std::string_view(arena_).substr(off, len);
  }
  [[nodiscard]] bool contains_id(std::uint32_t id) const noexcept {
    return id < present_.size() && present_[id];
  }
  [[nodiscard]] std::size_t id_bound() const noexcept { return offsets_.size(); }
  [[nodiscard]] bool empty() const noexcept { return slots_.empty(); }

 private:
  [[nodiscard]] std::uint32_t find_long(const unsigned char* p, std::size_t n) const noexcept {
    const std::uint64_t key = load_u64(p);
    const std::uint64_t h = hash_bytes(p, n);
    if ((filter_[filter_word(h)] & filter_bits(h)) != filter_bits(h)) return no_token;
    const std::uint32_t lt = len_tag(n, h);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.id == no_token) return no_token;
      if (s.len_tag == lt && s.prefix == key && offsets_[s.id].second == n &&
          rest_equal(arena_.data() + offsets_[s.id].first, p, n))
        return s.id;
    }
  }
  // a and b (n > 8 bytes each) agree in bytes 8..n (the first 8 are equal already)
  static bool rest_equal(const char* a, const unsigned char* b, std::size_t n) noexcept {
    if (n <= 16) return load_u64(reinterpret_cast<const unsigned char*>(a) + n - 8) == load_u64(b + n - 8);
    return std::memcmp(a + 8, b + 8, n - 8) == 0;
  }
  // The filter word of a hash and the 3 bits of it that a token with this hash sets
  [[nodiscard]] std::size_t filter_word(std::uint64_t h) const noexcept { return (h >> 20) & filter_mask_; }
  static std::uint64_t filter_bits(std::uint64_t h) noexcept {
    return (std::uint64_t{1} << (h & 63)) | (std::uint64_t{1} << ((h >> 6) & 63)) |
           (std::uint64_t{1} << ((h >> 12) & 63));
  }
  // low 8 bits: length (saturated at 255), high 24 bits: hash bits not used by the index
  static std::uint32_t len_tag(std::size_t n, std::uint64_t h) noexcept {
    return static_cast<std::uint32_t>(n < 255 ? n : 255) | (static_cast<std::uint32_t>(h >> 40) << 8);
  }
  struct slot {
    std::uint64_t prefix;
    std::uint32_t id;
    std::uint32_t len_tag;
  };
  std::string arena_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets_;
  std::vector<std::uint8_t> present_;
  std::vector<slot> slots_;
  std::array<std::uint32_t, 256> one_{};
  std::vector<std::uint32_t> two_;  // [first byte · 256 + second byte] → id
  std::vector<std::uint64_t> filter_;
  std::size_t mask_ = 0, filter_mask_ = 0;
};

/// Open-addressing map (left id, right id) → (rank, merged id) for pair_merges.
class pair_table {
 public:
  struct value {
    std::uint32_t rank;
    std::uint32_t id;
  };
  void reserve(std::size_t n) {
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    slots_.assign(cap, {empty_key, {no_token, no_token}});
    mask_ = cap - 1;
  }
  /// Inserts or overwrites (later merges of the same pair win, as in Hugging Face).
  void put(std::uint32_t a, std::uint32_t b, value v) {
    if (v.rank > max_rank_ || max_rank_ == no_token) max_rank_ = v.rank;
    const std::uint64_t key = (std::uint64_t{a} << 32) | b;
    for (std::size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == empty_key || slots_[i].key == key) {
        slots_[i] = {key, v};
        return;
      }
    }
  }
  /// The largest rank put (no_token when empty).
  [[nodiscard]] std::uint32_t max_rank() const noexcept { return max_rank_; }
  [[nodiscard]] value find(std::uint32_t a, std::uint32_t b) const noexcept {
    const std::uint64_t key = (std::uint64_t{a} << 32) | b;
    for (std::size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      const entry& e = slots_[i];
      if (e.key == key) return e.v;
      if (e.key == empty_key) return {no_token, no_token};
    }
  }

 private:
  static constexpr std::uint64_t empty_key = ~std::uint64_t{0};
  struct entry {
    std::uint64_t key;
    value v;
  };
  std::vector<entry> slots_;
  std::size_t mask_ = 0;
  std::uint32_t max_rank_ = no_token;
};

/// A symbol of the piece being merged: bytes [start, end) of the piece, token `id`.
struct bpe_symbol {
  std::uint32_t start;
  std::uint32_t end;
  std::uint32_t id;
};

/// The longest piece the small-piece merge takes; the width of the windows of longer pieces
/// (64 bytes: a merge there takes the min of 8 group minima, not 16 — ~10 % faster per byte
/// of random letters than 128-byte windows despite ~4 % more overlap), widened to 128 and
/// then 256 bytes for long tokens (e.g. 128 spaces in cl100k_base); and the ranks it
/// accepts: a candidate is the 32-bit key rank·256 + position at most, so ranks stay below
/// 2^24 − 1 (the tokenizer rejects larger vocabularies and merge lists; real ones have
/// < 2^18).
inline constexpr std::uint32_t small_piece_max = 128, window_min = 64, window_max = 2 * small_piece_max;
inline constexpr std::uint32_t small_rank_limit = (1u << 24) - 1;

/// The tokens of recent windows of the piece being merged (bpe_merge_windows): a long run of
/// one repeated pattern ("aaaa", "\r\n\r\n", "-_=+-_=+") has few distinct windows, so
/// each is merged once. Two slots per hash of the bytes (a window goes into the first that
/// this call has not filled, else the second: two windows that alternate, as the windows of
/// "-_=+-_=+" do, keep each other when their first slots collide); an entry is valid only for the
/// call that wrote it (`call` counts calls, so no entry outlives its piece or its tokenizer).
struct bpe_window_memo {
  static constexpr std::uint32_t n_entries = 16;
  struct entry {
    std::uint64_t call = 0, hash = 0;
    std::uint32_t width = 0, n_tokens = 0;
    unsigned char bytes[window_max];
    std::uint16_t end[window_max];  // end of token k, relative to the window
    std::uint32_t id[window_max];
  };
  std::vector<entry> entries = std::vector<entry>(n_entries);
  std::uint64_t call = 0;
};

/// Scratch space reused across pieces (one per thread).
struct bpe_scratch {
  bpe_window_memo memo;
  std::vector<std::uint32_t> next, prev, end, id, rank, merged, out;
  std::vector<std::uint64_t> heap;
  std::vector<std::uint32_t> bucket_of_rank;  // rank → bucket (no_token: none), all none between calls
  std::vector<std::vector<std::uint32_t>> buckets;
  std::vector<std::uint32_t> free_buckets;
};

/// An 8-ary min-heap of 64-bit keys in a vector: the 8 children of node i are 8i+1..8i+8,
/// so a level costs one or two cache lines (a binary heap of a 1 MiB piece is 20 levels of
/// cache misses; this one is 7).
struct key_heap {
  static constexpr std::size_t d = 8;
  static void sift_down(std::vector<std::uint64_t>& a, std::size_t i) noexcept {
    const std::size_t n = a.size();
    const std::uint64_t x = a[i];
    for (;;) {
      const std::size_t c0 = d * i + 1;
      if (c0 >= n) break;
      const std::size_t c1 = std::min(c0 + d, n);
      std::size_t best = c0;
      for (std::size_t c = c0 + 1; c < c1; ++c)
        if (a[c] < a[best]) best = c;
      if (a[best] >= x) break;
      a[i] = a[best];
      i = best;
    }
    a[i] = x;
  }
  static void make(std::vector<std::uint64_t>& a) noexcept {
    if (a.size() < 2) return;
    for (std::size_t i = (a.size() - 2) / d + 1; i-- > 0;) sift_down(a, i);
  }
  static void push(std::vector<std::uint64_t>& a, std::uint64_t x) {
    std::size_t i = a.size();
    a.push_back(x);
    while (i > 0) {
      const std::size_t parent = (i - 1) / d;
      if (a[parent] <= x) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = x;
  }
  static std::uint64_t pop(std::vector<std::uint64_t>& a) noexcept {
    const std::uint64_t top = a[0];
    a[0] = a.back();
    a.pop_back();
    if (!a.empty()) sift_down(a, 0);
    return top;
  }
};

/// The minimum of k[0, N), written as a tree of pairwise minima without a loop (GCC -O2
/// does not unroll the loop it replaces, whose branches cost more than the compares; the
/// compiler may still reorder the compares into a chain).
template <std::uint32_t N>
QLITE_FORCE_INLINE std::uint32_t min_tree(const std::uint32_t* k) noexcept {
  static_assert(N > 0 && (N & (N - 1)) == 0, "a power of two");
  if constexpr (N == 1) {
    return k[0];
  } else {
    const std::uint32_t a = min_tree<N / 2>(k), b = min_tree<N / 2>(k + N / 2);
    return b < a ? b : a;
  }
}

/// BPE of a short piece (n ≤ Max, Max ∈ {64, 128, 256}, ranks < small_rank_limit): array
/// scan, O(n²) in cache. Symbols stay where they start (no shifting): key[i] = rank·Max + i
/// of the pair whose left symbol starts at byte i (all ones: none), so the minimum key is
/// the lowest rank, leftmost. The keys are kept in groups of 8 with each group's minimum: a merge
/// changes at most three keys, so it recomputes at most three group minima (8 words each)
/// and then takes the min of ≤ Max/8 group minima, instead of a min over all n keys.
/// Calls out(id, start, end) for each token, left to right.
template <std::uint32_t Max, class Rule, class Out>
QLITE_FORCE_INLINE void bpe_merge_small_spans(const Rule& rule, const unsigned char* p, std::uint32_t n,
                                              Out&& out) {
  static_assert(Max == 64 || Max == 128 || Max == 256, "positions are the low 6, 7 or 8 bits of a key");
  constexpr std::uint32_t none = 0xFFFFFFFFu, position_bits = std::countr_zero(Max), n_groups = Max / 8;
  // a pair that does not merge gets (no_token << position_bits) | position ≥ stop, without a
  // branch on whether the lookup found a token (ranks < 2^24 − 1 keep real keys below stop)
  constexpr std::uint32_t stop = none << position_bits;
  using pos = std::conditional_t<(Max < 256), std::uint8_t, std::uint16_t>;
  std::uint32_t key[Max], id[Max], merged[Max], group_min[n_groups];
  pos end[Max], prev[Max + 1];  // prev[n] is written, never read: no branch on "is there a next"
  // one loop (not two) over the bytes: each loop's exit is a mispredicted branch per piece
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    end[i] = static_cast<pos>(i + 1);
    prev[i] = static_cast<pos>(i - 1);
    id[i] = rule.byte_id(p[i]);
    const std::uint32_t r = rule.first_pair(p + i, id[i], rule.byte_id(p[i + 1]), merged[i]);
    key[i] = (r << position_bits) | i;
  }
  end[n - 1] = static_cast<pos>(n);
  prev[n - 1] = static_cast<pos>(n - 2);
  id[n - 1] = rule.byte_id(p[n - 1]);
  auto rank_at = [&](std::uint32_t left) {
    const std::uint32_t right = end[left];
    std::uint32_t r = no_token;
    if (right < n) r = rule.pair(p, {left, right, id[left]}, {right, end[right], id[right]}, merged[left]);
    key[left] = (r << position_bits) | left;
  };
  auto regroup = [&](std::uint32_t g) { group_min[g] = min_tree<8>(key + 8 * g); };
  const std::uint32_t groups = (n + 7) / 8;
  for (std::uint32_t i = n - 1; i < 8 * groups; ++i) key[i] = none;
  for (std::uint32_t g = 0; g < groups; ++g) regroup(g);
  for (std::uint32_t g = groups; g < n_groups; ++g) group_min[g] = none;
  // the min over the first 4 groups or (pieces > 32 bytes) over all: no loop whose trip
  // count varies from piece to piece (each would mispredict its exit)
  for (;;) {
    const std::uint32_t best = groups > 4 ? min_tree<n_groups>(group_min) : min_tree<4>(group_min);
    if (best >= stop) break;
    const std::uint32_t at = best & (Max - 1), right = end[at];
    end[at] = end[right];
    id[at] = merged[at];
    key[right] = none;
    prev[end[at]] = static_cast<pos>(at);
    rank_at(at);
    const std::uint32_t left = at > 0 ? prev[at] : at;
    if (at > 0) rank_at(left);
    // whether the neighbours are in at's group is random in random text: no branch on it,
    // only on the piece having more than one group
    regroup(at / 8);
    if (groups > 1) {
      regroup(right / 8);
      regroup(left / 8);
    }
  }
  for (std::uint32_t i = 0; i < n; i = end[i]) out(id[i], i, std::uint32_t{end[i]});
}

/// BPE of a piece of n ≤ small_piece_max bytes; calls out(id) for each token.
template <class Rule, class Out>
void bpe_merge_small(const Rule& rule, const unsigned char* p, std::uint32_t n, Out&& out) {
  bpe_merge_small_spans<small_piece_max>(rule, p, n,
                                         [&](std::uint32_t id, std::uint32_t, std::uint32_t) { out(id); });
}

/// BPE of a long piece (n > 128) by overlapping windows of 64 bytes, each merged on its own
/// with bpe_merge_small_spans, spliced where two windows agree; returns false (having called
/// nothing) if two consecutive windows share no token, and the caller merges the whole piece.
///
/// Why splicing is exact (the properties of BPE proved in GitHub's `bpe` crate; they need
/// only that the next merge is the lowest (rank, position) pair, which holds for both rules):
/// call a token sequence valid if it is the BPE of its own bytes. Then (II) every run of
/// consecutive tokens of a valid sequence is valid, and (III) if e₀..eᵢ and eᵢ..eₘ are valid
/// and share the token eᵢ at the same bytes, e₀..eᵢ..eₘ is valid. Window B starts at a token
/// boundary of window A; if A and B hold the same token t at the same bytes, A up to t
/// followed by B after t is the valid sequence of their union, and tokens up to t are final
/// (later splices only cut after them). The BPE of a piece is its unique valid sequence.
///
///   piece  ..................................................
///   A      [aa|bbb|cc|d|eee|ff]                  window [s, s+64)
///   B               [cc|d|ee|eg|hh|..]           starts at a boundary of A
///                     ^ same token, same bytes: emit A through "d", continue with B
///
/// A piece continues with 128-byte windows once a 64-byte one holds fewer than 8 tokens or
/// comes from the memo (see merge_window); a window that is one token (128 spaces in
/// cl100k_base) cannot share a token with a later one: it is merged again 256 bytes wide.
///
/// Cost: a byte is merged in ~1.1 windows (the next one starts 3 tokens, ~6 bytes of random
/// letters, before the end of this one; nearer its start if they do not agree), all state in
/// a few KiB of stack (the heap and buckets touch arrays as large as the piece in random
/// order); repeated windows come from bpe_window_memo.
template <class Rule, class Out>
bool bpe_merge_windows(const Rule& rule, const unsigned char* p, std::uint32_t n, bpe_scratch& scratch,
                       Out&& out) {
  struct span {
    std::uint32_t start, end, id;
  };
  span tokens_a[window_max], tokens_b[window_max];
  span *cur = tokens_a, *nxt = tokens_b;  // swapped, not copied, after each splice
  std::uint32_t n_cur = 0, n_nxt = 0;
  bpe_window_memo& memo = scratch.memo;
  const std::uint64_t call = ++memo.call;
  // 64-byte windows until one holds fewer than 8 tokens (long tokens: whitespace runs, where
  // 64-byte windows seldom agree) or comes from the memo (a repeating piece, where a window
  // costs its hash and copy, not its merges); 128 bytes from then on.
  bool wide = false;
  // The tokens of p[start, start + width) (or to the end of the piece), from the memo if there.
  auto merge_width = [&]<std::uint32_t Width>(std::uint32_t start, span* into) {
    std::uint32_t k = 0;
    const unsigned char* w = p + start;
    if (n - start <= Width) {  // the last window: not remembered
      bpe_merge_small_spans<Width>(rule, w, n - start,
                                   [&](std::uint32_t id, std::uint32_t b, std::uint32_t e) {
                                     into[k++] = {start + b, start + e, id};
                                   });
      return k;
    }
    std::uint64_t h = Width;
    for (std::uint32_t i = 0; i < Width; i += 8) h = (h ^ load_u64(w + i)) * hash_k1;
    h ^= h >> 29;
    static_assert(bpe_window_memo::n_entries == 16);
    bpe_window_memo::entry* e1 = &memo.entries[h >> 60];  // the high bits are the well-mixed ones
    bpe_window_memo::entry* e2 = &memo.entries[(h >> 56) & 15];
    for (const bpe_window_memo::entry* x : {e1, e2}) {
      if (x->call != call || x->hash != h || x->width != Width || std::memcmp(x->bytes, w, Width) != 0)
        continue;
      wide = true;  // a repeating piece: fewer, wider windows (each costs a hash and a copy)
      for (std::uint32_t b = 0; k < x->n_tokens; b = x->end[k++])
        into[k] = {start + b, start + x->end[k], x->id[k]};
      return k;
    }
    bpe_window_memo::entry& e = e1->call != call ? *e1 : *e2;
    bpe_merge_small_spans<Width>(rule, w, Width, [&](std::uint32_t id, std::uint32_t b, std::uint32_t en) {
      e.end[k] = static_cast<std::uint16_t>(en);
      e.id[k] = id;
      into[k++] = {start + b, start + en, id};
    });
    e.call = call;
    e.hash = h;
    e.width = Width;
    e.n_tokens = k;
    std::memcpy(e.bytes, w, Width);
    return k;
  };
  auto merge_window = [&](std::uint32_t start, span* into) {
    std::uint32_t k = 0;
    if (!wide) {
      k = merge_width.template operator()<window_min>(start, into);
      if (k >= 8 || into[k - 1].end == n) return k;
      wide = true;
    }
    k = merge_width.template operator()<small_piece_max>(start, into);
    if (k == 1 && into[0].end < n) k = merge_width.template operator()<window_max>(start, into);
    return k;
  };
  auto& done = scratch.out;  // final tokens, emitted only if every splice succeeds
  if (done.size() < n) done.resize(n);
  std::uint32_t n_done = 0;
  n_cur = merge_window(0, cur);
  std::uint32_t first = 0;  // cur[first..] are not final yet
  std::uint32_t win_start = 0;
  // index of the token of nxt (cur from cur_from on) that both hold, or n_nxt if none
  auto shared_token = [&](std::uint32_t cur_from, std::uint32_t& in_cur) {
    std::uint32_t a = cur_from, b = 0;
    while (a < n_cur && b < n_nxt) {
      if (cur[a].start == nxt[b].start) {
        if (cur[a].end == nxt[b].end) break;
        ++a;
        ++b;
      } else if (cur[a].start < nxt[b].start) {
        ++a;
      } else {
        ++b;
      }
    }
    in_cur = a;
    return a < n_cur ? b : n_nxt;
  };
  while (cur[n_cur - 1].end < n) {
    // The next window starts at a token of cur (a token already final, first − 1, may be the
    // shared one): first one about 15/16 into the window but at least 3 tokens before its
    // end when it has 8 or more (the last tokens of a window are often cut short; 2 tokens
    // of overlap agreed too rarely, 4 cost more merges: both measured slower on random
    // letters), then, if the windows do not agree, one about halfway, then one near its start.
    const std::uint32_t win_len = cur[n_cur - 1].end - win_start;
    std::uint32_t a = 0, b = n_nxt = 0, start = 0;
    for (const std::uint32_t at : {15 * win_len / 16, win_len / 2, win_len / 8}) {
      const std::uint32_t lowest = first > 0 ? first - 1 : 0;
      std::uint32_t j = lowest;
      while (j + 1 < n_cur && cur[j].start < win_start + at) ++j;
      if (n_cur >= 8) j = std::max(lowest, std::min(j, n_cur - 3));      // ≥ 3 tokens overlap
      if (cur[j].start == win_start || cur[j].start == start) continue;  // no progress / tried
      start = cur[j].start;
      n_nxt = merge_window(start, nxt);
      b = shared_token(j, a);
      if (b < n_nxt) break;
    }
    if (b >= n_nxt) return false;  // the windows never agree
    for (std::uint32_t k = first; k <= a; ++k) done[n_done++] = cur[k].id;
    std::swap(cur, nxt);
    n_cur = n_nxt;
    first = b + 1;
    win_start = start;
  }
  for (std::uint32_t k = first; k < n_cur; ++k) done[n_done++] = cur[k].id;
  for (std::uint32_t k = 0; k < n_done; ++k) out(done[k]);
  return true;
}

/// BPE of any piece: linked list + 8-ary heap, O(n log n).
template <class Rule, class Out>
void bpe_merge_heap(const Rule& rule, const unsigned char* p, std::uint32_t n, bpe_scratch& scratch,
                    Out&& out) {
  // Long piece: linked list of symbols indexed by their start byte, plus a min-heap of
  // candidate merges keyed (rank << 32 | left start). cur_rank[left] is the rank of the pair
  // that currently starts at `left` (no_token: none): a popped key whose rank differs is
  // stale; one that equals it names a real pair with that very key, so merging it is right.
  auto& nx = scratch.next;
  auto& pv = scratch.prev;
  auto& en = scratch.end;
  auto& id = scratch.id;
  auto& cur_rank = scratch.rank;
  auto& cur_merged = scratch.merged;
  auto& heap = scratch.heap;
  nx.resize(n);
  pv.resize(n);
  en.resize(n);
  id.resize(n);
  cur_rank.resize(n);
  cur_merged.resize(n);
  heap.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    nx[i] = i + 1;
    pv[i] = i == 0 ? no_token : i - 1;
    en[i] = i + 1;
    id[i] = rule.byte_id(p[i]);
  }
  auto rank_pair = [&](std::uint32_t left) {
    const std::uint32_t right = nx[left];
    std::uint32_t merged = no_token;
    const std::uint32_t r =
        right >= n ? no_token
                   : rule.pair(p, {left, en[left], id[left]}, {right, en[right], id[right]}, merged);
    cur_rank[left] = r;
    cur_merged[left] = merged;
    return r;
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    const std::uint32_t r = rank_pair(i);
    if (r != no_token) heap.push_back((std::uint64_t{r} << 32) | i);
  }
  cur_rank[n - 1] = no_token;
  key_heap::make(heap);
  auto push = [&](std::uint32_t left) {
    const std::uint32_t r = rank_pair(left);
    if (r == no_token) return;
    key_heap::push(heap, (std::uint64_t{r} << 32) | left);
  };
  while (!heap.empty()) {
    const std::uint64_t key = key_heap::pop(heap);
    const auto left = static_cast<std::uint32_t>(key & 0xFFFFFFFFu);
    if (id[left] == no_token || cur_rank[left] != static_cast<std::uint32_t>(key >> 32)) continue;  // stale
    const std::uint32_t right = nx[left];
    en[left] = en[right];
    id[left] = cur_merged[left];
    id[right] = no_token;
    cur_rank[right] = no_token;
    nx[left] = nx[right];
    if (nx[left] < n) pv[nx[left]] = left;
    if (pv[left] != no_token) push(pv[left]);
    push(left);
  }
  for (std::uint32_t i = 0; i < n; i = nx[i]) out(id[i]);
}

/// BPE of a long piece with a bucket queue: one bucket of positions per rank, ranks taken
/// in increasing order from a small heap of the distinct ranks present, each bucket sorted
/// and processed left to right. Exact because a merge creates pairs of a *different* rank
/// (a longer token, or a different merge-list entry); if one ever has a *lower* rank than
/// the bucket being processed (a vocabulary whose ranks are not monotone in merge order),
/// returns false and the caller uses the heap. O(n log n) worst case, ~O(n) in practice, and
/// sequential memory access instead of a heap spanning megabytes.
template <class Rule, class Out>
bool bpe_merge_buckets(const Rule& rule, const unsigned char* p, std::uint32_t n, bpe_scratch& scratch,
                       Out&& out) {
  auto& nx = scratch.next;
  auto& pv = scratch.prev;
  auto& en = scratch.end;
  auto& id = scratch.id;
  auto& cur_rank = scratch.rank;
  auto& cur_merged = scratch.merged;
  auto& ranks = scratch.heap;  // distinct ranks with a non-empty bucket (min-heap)
  auto& slot_of = scratch.bucket_of_rank;
  auto& buckets = scratch.buckets;
  auto reset_slots = [&] {  // leave slot_of all none for the next piece
    for (const std::uint64_t r : ranks) slot_of[static_cast<std::size_t>(r)] = no_token;
  };
  nx.resize(n);
  pv.resize(n);
  en.resize(n);
  id.resize(n);
  cur_rank.resize(n);
  cur_merged.resize(n);
  auto& free_slots = scratch.free_buckets;
  ranks.clear();
  free_slots.clear();
  for (std::uint32_t k = 0; k < buckets.size(); ++k) free_slots.push_back(k);
  for (std::uint32_t i = 0; i < n; ++i) {
    nx[i] = i + 1;
    pv[i] = i == 0 ? no_token : i - 1;
    en[i] = i + 1;
    id[i] = rule.byte_id(p[i]);
  }
  auto rank_pair = [&](std::uint32_t left) {
    const std::uint32_t right = nx[left];
    std::uint32_t merged = no_token;
    const std::uint32_t r =
        right >= n ? no_token
                   : rule.pair(p, {left, en[left], id[left]}, {right, en[right], id[right]}, merged);
    cur_rank[left] = r;
    cur_merged[left] = merged;
    return r;
  };
  auto add = [&](std::uint32_t r, std::uint32_t left) {
    if (r >= slot_of.size()) slot_of.resize(std::size_t{r} + 1, no_token);
    std::uint32_t& slot = slot_of[r];
    if (slot == no_token) {
      if (free_slots.empty()) {
        free_slots.push_back(static_cast<std::uint32_t>(buckets.size()));
        buckets.emplace_back();
      }
      slot = free_slots.back();
      free_slots.pop_back();
      buckets[slot].clear();
      key_heap::push(ranks, r);
    }
    buckets[slot].push_back(left);
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) {
    const std::uint32_t r = rank_pair(i);
    if (r != no_token) add(r, i);
  }
  cur_rank[n - 1] = no_token;
  while (!ranks.empty()) {
    const auto r = static_cast<std::uint32_t>(key_heap::pop(ranks));
    const std::uint32_t slot = slot_of[r];
    std::vector<std::uint32_t> bucket;
    bucket.swap(buckets[slot]);
    slot_of[r] = no_token;
    if (!std::is_sorted(bucket.begin(), bucket.end())) std::sort(bucket.begin(), bucket.end());
    for (const std::uint32_t left : bucket) {
      if (id[left] == no_token || cur_rank[left] != r) continue;  // stale
      const std::uint32_t right = nx[left];
      en[left] = en[right];
      id[left] = cur_merged[left];
      id[right] = no_token;
      cur_rank[right] = no_token;
      nx[left] = nx[right];
      if (nx[left] < n) pv[nx[left]] = left;
      for (const std::uint32_t q : {pv[left], left}) {
        if (q == no_token) continue;
        const std::uint32_t nr = rank_pair(q);
        if (nr == no_token) continue;
        if (nr <= r) {  // not monotone: let the heap do it
          reset_slots();
          buckets[slot].swap(bucket);
          return false;
        }
        add(nr, q);
      }
    }
    bucket.clear();
    buckets[slot].swap(bucket);  // keep the capacity for the next bucket
    free_slots.push_back(slot);
  }
  for (std::uint32_t i = 0; i < n; i = nx[i]) out(id[i]);
  return true;
}

/// Merges the piece p[0, n) (n ≥ 2) and calls out(id) for each resulting token, left to
/// right. `Rule` provides: `std::uint32_t byte_id(unsigned char)`,
/// `first_pair(const unsigned char* q, id of q[0], id of q[1], std::uint32_t& merged) → rank`
/// (the pair of the single bytes q[0] q[1]: the first pairs of every merge), and
/// `pair(const unsigned char* p, bpe_symbol l, bpe_symbol r, std::uint32_t& merged) → rank`
/// (no_token when the pair does not merge).
template <class Rule, class Out>
void bpe_merge(const Rule& rule, const unsigned char* p, std::uint32_t n, bpe_scratch& scratch, Out&& out) {
  if (n <= small_piece_max) {
    bpe_merge_small(rule, p, n, out);
    return;
  }
  if (bpe_merge_windows(rule, p, n, scratch, out)) return;
  if (n > 256) {
    scratch.out.clear();
    if (bpe_merge_buckets(rule, p, n, scratch, [&](std::uint32_t t) { scratch.out.push_back(t); })) {
      for (std::uint32_t t : scratch.out) out(t);
      return;
    }
  }
  bpe_merge_heap(rule, p, n, scratch, out);
}

}  // namespace qlite::detail
