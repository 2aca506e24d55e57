// Helpers for the tokenizer tests: the shared corpus, its expected ids, cached tokenizers.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <qlite/tokenizer/tiktoken.hpp>

#include "../test_util.hpp"

namespace qlite::test {

inline std::vector<std::uint32_t> read_u32(const std::string& path) {
  const std::string raw = detail::read_file(path);
  std::vector<std::uint32_t> ids(raw.size() / 4);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto* b = reinterpret_cast<const unsigned char*>(raw.data() + 4 * i);
    ids[i] = std::uint32_t{b[0]} | (std::uint32_t{b[1]} << 8) | (std::uint32_t{b[2]} << 16) |
             (std::uint32_t{b[3]} << 24);
  }
  return ids;
}

/// The corpus documents ("category/name.txt") listed in expected/manifest.tsv for `encoding`.
inline std::vector<std::string> corpus_documents(const std::string& encoding) {
  const std::string manifest = detail::read_file(shared_data("tokenizer/expected/manifest.tsv"));
  std::vector<std::string> docs;
  std::size_t pos = manifest.find('\n') + 1;
  while (pos < manifest.size()) {
    std::size_t eol = manifest.find('\n', pos);
    if (eol == std::string::npos) eol = manifest.size();
    const std::string line = manifest.substr(pos, eol - pos);
    pos = eol + 1;
    const std::size_t t1 = line.find('\t');
    if (t1 == std::string::npos) continue;
    const std::size_t t2 = line.find('\t', t1 + 1);
    if (line.substr(0, t1) == encoding) docs.push_back(line.substr(t1 + 1, t2 - t1 - 1));
  }
  return docs;
}

/// The bytes spelled by a string of hex digit pairs ("68c3a9" → "hé"; special_cases.json).
inline std::string hex_to_bytes(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

/// Tokenizers are loaded once per test run.
inline const tokenizer& tiktoken_encoding(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    const std::string file = (name == "gpt2" || name == "r50k_base") ? "r50k_base" : name;
    slot = std::make_unique<tokenizer>(
        load_tiktoken(shared_data("tokenizer/vocab/" + file + ".tiktoken"), name));
  }
  return *slot;
}

/// Compares ids with the reference; on mismatch, a message with the first differing index.
inline std::string compare_ids(const tokenizer& tok, const std::vector<std::uint32_t>& got,
                               const std::vector<std::uint32_t>& want) {
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  if (i == got.size() && i == want.size()) return {};
  std::string m = "first difference at token " + std::to_string(i) + " (got " + std::to_string(got.size()) +
                  " tokens, want " + std::to_string(want.size()) + "):";
  auto show = [&](const std::vector<std::uint32_t>& v, const char* who) {
    m.append("\n  ").append(who).append(":");
    for (std::size_t k = i >= 3 ? i - 3 : 0; k < std::min(v.size(), i + 5); ++k) {
      std::string b;
      try {
        b = std::string(tok.decode_single_token_bytes(v[k]));
      } catch (...) {
        b = "?";
      }
      m.append(" ").append(std::to_string(v[k])).append("[").append(b).append("]");
    }
  };
  show(got, "got ");
  show(want, "want");
  return m;
}

/// Random text over a pool of code points that exercise every scanner branch.
inline std::string random_text(std::mt19937& rng, std::size_t n_cps) {
  static const std::uint32_t pool[] = {'a',     'Z',     ' ',    ' ',    '\n',    '\r',   '\t',   '\'',
                                       's',     '1',     '7',    '.',    '/',     0xA0,   0x3000, 0x2028,
                                       0x85,    0xE9,    0x301,  0x7684, 0x1F600, 0x200D, 0xFEFF, 0x0627,
                                       0x2EBF0, 0x1E030, 0xFFFD, '<',    '|',     'e'};
  std::string s;
  for (std::size_t i = 0; i < n_cps; ++i) utf8_append(s, pool[rng() % (sizeof pool / sizeof pool[0])]);
  return s;
}

/// BPE of random pieces by the four merge algorithms of bpe.hpp: they must agree.
inline void check_merge_algorithms(const tokenizer& tok, const char* name, std::mt19937& rng) {
  const std::string alphabet[] = {"a", "b", "e", "t", " ", "!", "0", "\xC3\xA9", "\xE7\x9A\x84"};
  for (int i = 0; i < 60; ++i) {
    std::string piece;
    const std::size_t len = 2 + rng() % (i < 30 ? 60 : 3000);
    while (piece.size() < len) piece += alphabet[rng() % (i % 3 == 0 ? 2 : 9)];
    INFO(name, " piece ", i, " of ", piece.size(), " bytes");
    const auto heap = tok.merge_piece_for_testing(piece, 1);
    CHECK(tok.decode(heap) == piece);
    if (piece.size() <= 128) CHECK(tok.merge_piece_for_testing(piece, 0) == heap);
    const auto buckets = tok.merge_piece_for_testing(piece, 2);
    if (!buckets.empty()) CHECK(buckets == heap);  // empty: it declined (non-monotone ranks)
    if (piece.size() > 128) {
      const auto windows = tok.merge_piece_for_testing(piece, 3);
      if (!windows.empty()) CHECK(windows == heap);  // empty: no two windows agreed
    }
  }
}

}  // namespace qlite::test
