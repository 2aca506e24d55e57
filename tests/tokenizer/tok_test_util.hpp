// Helpers for the tokenizer tests: the shared corpus, its expected ids, cached tokenizers.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
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

/// Tokenizers are loaded once per test run.
inline const tokenizer& tiktoken_encoding(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) {
    const std::string file = (name == "gpt2" || name == "r50k_base") ? "r50k_base" : name;
    slot = std::make_unique<tokenizer>(load_tiktoken(shared_data("tokenizer/vocab/" + file + ".tiktoken"), name));
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
    m += std::string("\n  ") + who + ":";
    for (std::size_t k = i >= 3 ? i - 3 : 0; k < std::min(v.size(), i + 5); ++k) {
      std::string b;
      try {
        b = std::string(tok.decode_single_token_bytes(v[k]));
      } catch (...) {
        b = "?";
      }
      m += " " + std::to_string(v[k]) + "[" + b + "]";
    }
  };
  show(got, "got ");
  show(want, "want");
  return m;
}

}  // namespace qlite::test
