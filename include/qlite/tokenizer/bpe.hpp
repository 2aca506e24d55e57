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
// The algorithm (`bpe_merge`): pieces of ≤ 64 bytes use a scan over a small array (find the
// minimum rank, merge, re-rank the two neighbours: O(n²) with n ≤ 64, cache-resident);
// longer pieces use a binary heap of candidate pairs keyed (rank, position) over a linked
// list of symbols, with stale entries skipped on pop: O(n log n) for any length, no
// recursion. Both give exactly the merge order "lowest rank, then leftmost".
//
// Cost: one hash lookup per candidate pair; the byte-string table hashes 8 bytes per step.
//
//   qlite::detail::byte_table t;  t.build(...);  std::uint32_t id = t.find(bytes);
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qlite::detail {

inline constexpr std::uint32_t no_token = std::numeric_limits<std::uint32_t>::max();

inline std::uint64_t load_u64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

/// A fast, non-cryptographic hash of a byte string (multiply-xorshift over 8-byte words).
inline std::uint64_t hash_bytes(const unsigned char* p, std::size_t n) noexcept {
  constexpr std::uint64_t k0 = 0x9E3779B97F4A7C15ULL, k1 = 0xBF58476D1CE4E5B9ULL;
  std::uint64_t h = (n + 1) * k0;
  while (n >= 8) {
    h = (h ^ load_u64(p)) * k1;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t t = 0;
    if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      t = (std::uint64_t{a} << 32) | b;
    } else {
      t = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[n / 2]} << 8) | p[n - 1];
    }
    h = (h ^ t) * k1;
    h ^= h >> 31;
  }
  h *= k0;
  return h ^ (h >> 29);
}

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDULL;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ULL;
  return x ^ (x >> 33);
}

/// First ≤ 8 bytes of a string, zero-padded, as one word (the inline key of byte_table).
inline std::uint64_t prefix8(const unsigned char* p, std::size_t n) noexcept {
  if (n >= 8) return load_u64(p);
  std::uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

/// The token byte strings by id (an arena) and an open-addressing table bytes → id. A slot
/// holds the first 8 bytes, the length and the id, so a lookup of a token of ≤ 8 bytes (most
/// BPE candidates) touches one cache line; longer ones compare the rest in the arena.
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
    // membership filter: 16 bits per slot-pair, so ~1/8 of its bits are set (fits in L2)
    filter_.assign(std::max<std::size_t>(cap / 8, 64), 0);
    filter_mask_ = filter_.size() * 64 - 1;
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
      slots_[i] = {prefix8(p, b.size()), id, len_tag(b.size(), h)};
      const std::size_t f = (h >> 20) & filter_mask_;
      filter_[f >> 6] |= std::uint64_t{1} << (f & 63);
    }
    return no_token;
  }
  /// The id of a byte string, or no_token.
  [[nodiscard]] std::uint32_t find(const unsigned char* p, std::size_t n) const noexcept {
    const std::uint64_t h = hash_bytes(p, n);
    const std::size_t f = (h >> 20) & filter_mask_;
    if (!((filter_[f >> 6] >> (f & 63)) & 1)) return no_token;
    const std::uint64_t pre = prefix8(p, n);
    const std::uint32_t lt = len_tag(n, h);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const slot& s = slots_[i];
      if (s.id == no_token) return no_token;
      if (s.len_tag == lt && s.prefix == pre) {
        if (n <= 8) return s.id;
        const std::uint32_t off = offsets_[s.id].first;
        if (offsets_[s.id].second == n && std::memcmp(arena_.data() + off + 8, p + 8, n - 8) == 0) return s.id;
      }
    }
  }
  [[nodiscard]] std::uint32_t find(std::string_view b) const noexcept {
    return find(reinterpret_cast<const unsigned char*>(b.data()), b.size());
  }
  [[nodiscard]] std::string_view bytes(std::uint32_t id) const noexcept {
    const auto [off, len] = offsets_[id];
    return std::string_view(arena_).substr(off, len);
  }
  [[nodiscard]] bool contains_id(std::uint32_t id) const noexcept { return id < present_.size() && present_[id]; }
  [[nodiscard]] std::size_t id_bound() const noexcept { return offsets_.size(); }
  [[nodiscard]] bool empty() const noexcept { return slots_.empty(); }

 private:
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
    const std::uint64_t key = (std::uint64_t{a} << 32) | b;
    for (std::size_t i = mix64(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == empty_key || slots_[i].key == key) {
        slots_[i] = {key, v};
        return;
      }
    }
  }
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
};

/// A symbol of the piece being merged: bytes [start, end) of the piece, token `id`.
struct bpe_symbol {
  std::uint32_t start;
  std::uint32_t end;
  std::uint32_t id;
};

/// Scratch space reused across pieces (one per thread).
struct bpe_scratch {
  std::vector<std::uint32_t> next, prev, end, id;
  struct cand {
    std::uint32_t rank, left, right_end, merged;
  };
  std::vector<cand> heap;
};

/// Merges the piece p[0, n) (n ≥ 2) and calls out(id) for each resulting token, left to
/// right. `Rule` provides: `std::uint32_t byte_id(unsigned char)`, and
/// `pair(const unsigned char* p, bpe_symbol l, bpe_symbol r, std::uint32_t& merged) → rank`
/// (no_token when the pair does not merge).
template <class Rule, class Out>
void bpe_merge(const Rule& rule, const unsigned char* p, std::uint32_t n, bpe_scratch& scratch, Out&& out) {
  constexpr std::uint32_t small = 64;
  if (n <= small) {
    bpe_symbol sym[small];
    std::uint32_t rank[small], merged[small];
    std::uint32_t m = n;
    for (std::uint32_t i = 0; i < n; ++i) sym[i] = {i, i + 1, rule.byte_id(p[i])};
    for (std::uint32_t i = 0; i + 1 < m; ++i) rank[i] = rule.pair(p, sym[i], sym[i + 1], merged[i]);
    while (m > 1) {
      std::uint32_t best = no_token, at = 0;
      for (std::uint32_t i = 0; i + 1 < m; ++i) {
        if (rank[i] < best) {
          best = rank[i];
          at = i;
        }
      }
      if (best == no_token) break;
      sym[at] = {sym[at].start, sym[at + 1].end, merged[at]};
      for (std::uint32_t i = at + 1; i + 1 < m; ++i) {
        sym[i] = sym[i + 1];
        rank[i] = rank[i + 1];
        merged[i] = merged[i + 1];
      }
      --m;
      if (at + 1 < m) rank[at] = rule.pair(p, sym[at], sym[at + 1], merged[at]);
      if (at > 0) rank[at - 1] = rule.pair(p, sym[at - 1], sym[at], merged[at - 1]);
    }
    for (std::uint32_t i = 0; i < m; ++i) out(sym[i].id);
    return;
  }
  // Long piece: linked list of symbols indexed by their start byte + heap of candidates.
  auto& nx = scratch.next;
  auto& pv = scratch.prev;
  auto& en = scratch.end;
  auto& id = scratch.id;
  auto& heap = scratch.heap;
  nx.resize(n);
  pv.resize(n);
  en.resize(n);
  id.resize(n);
  heap.clear();
  for (std::uint32_t i = 0; i < n; ++i) {
    nx[i] = i + 1;
    pv[i] = i == 0 ? no_token : i - 1;
    en[i] = i + 1;
    id[i] = rule.byte_id(p[i]);
  }
  // min-heap on (rank, left): std heap functions with an inverted comparison
  auto later = [](const bpe_scratch::cand& a, const bpe_scratch::cand& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  auto push = [&](std::uint32_t left) {
    const std::uint32_t right = nx[left];
    if (right >= n) return;
    std::uint32_t merged = no_token;
    const std::uint32_t r = rule.pair(p, {left, en[left], id[left]}, {right, en[right], id[right]}, merged);
    if (r == no_token) return;
    heap.push_back({r, left, en[right], merged});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (std::uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const bpe_scratch::cand c = heap.back();
    heap.pop_back();
    const std::uint32_t left = c.left;
    if (id[left] == no_token) continue;  // left was merged into its neighbour
    const std::uint32_t right = nx[left];
    if (right >= n || en[right] != c.right_end || en[left] != right) continue;  // stale
    // merge right into left
    en[left] = en[right];
    id[left] = c.merged;
    id[right] = no_token;
    nx[left] = nx[right];
    if (nx[left] < n) pv[nx[left]] = left;
    if (pv[left] != no_token) push(pv[left]);
    push(left);
  }
  for (std::uint32_t i = 0; i < n; i = nx[i]) out(id[i]);
}

}  // namespace qlite::detail
