// qlite — loading tiktoken rank files and the named OpenAI encodings.
//
// Format (.tiktoken): text, one token per line, `base64(token bytes) SP decimal rank LF`
// (CRLF accepted; an empty last line is fine). The rank is the token id and the merge
// priority. Ranks must be exactly 0..n-1: a duplicate rank, a gap, duplicate bytes, bad
// base64 or a malformed line throw qlite::error(format) naming the file and line.
//
// Named encodings (patterns and special tokens of tiktoken 0.x / npm tiktoken 1.0.22):
//
//   name                   pattern  special tokens
//   gpt2, r50k_base        gpt2     <|endoftext|> 50256
//   cl100k_base            cl100k   <|endoftext|> 100257, <|fim_prefix|> 100258,
//                                   <|fim_middle|> 100259, <|fim_suffix|> 100260, <|endofprompt|> 100276
//   o200k_base             o200k    <|endoftext|> 199999, <|endofprompt|> 200018
//
// Cost: one pass over the file; loading cl100k_base (1.7 MB) takes a few milliseconds.
//
//   qlite::tokenizer tok = qlite::load_tiktoken("o200k_base.tiktoken", "o200k_base");
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "qlite/core/error.hpp"
#include "qlite/tokenizer/tokenizer.hpp"

namespace qlite {

namespace detail {

/// Reads a whole file; throws qlite::error(io) naming the path.
inline std::string read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw error(errc::io, path + ": cannot open file");
  std::string data;
  char buf[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, got);
  const bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) throw error(errc::io, path + ": read error");
  return data;
}

/// Decodes standard base64 (with '=' padding); returns false on any invalid character,
/// bad padding or a length that is not a multiple of 4. `bad_at` is the offending index.
inline bool base64_decode(std::string_view in, std::string& out, std::size_t& bad_at) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  if (in.empty() || in.size() % 4 != 0) {
    bad_at = in.size();
    return false;
  }
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      v[k] = val(c);
      if (v[k] < 0 || pad > 0) {
        bad_at = i + static_cast<std::size_t>(k);
        return false;
      }
    }
    const auto w = static_cast<std::uint32_t>((v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3]);
    out.push_back(static_cast<char>(w >> 16));
    if (pad < 2) out.push_back(static_cast<char>((w >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(w & 0xFF));
  }
  return true;
}

}  // namespace detail

/// Parses the contents of a .tiktoken file (`source` names it in messages) into `vocab`.
inline void parse_tiktoken(std::string_view data, const std::string& source, detail::byte_table& vocab) {
  std::size_t line_no = 0, pos = 0, count = 0;
  std::vector<std::uint8_t> seen;
  std::string bytes;
  while (pos < data.size()) {
    ++line_no;
    std::size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) eol = data.size();
    std::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = source + ":" + std::to_string(line_no);
    if (line.empty()) {
      if (pos >= data.size()) break;
      throw error(errc::format, where + ": empty line (expected 'base64 rank')");
    }
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || sp == 0)
      throw error(errc::format, where + ": expected 'base64 SP rank', found no separating space");
    std::size_t bad = 0;
    if (!detail::base64_decode(line.substr(0, sp), bytes, bad))
      throw error(errc::format, where + ": invalid base64 at column " + std::to_string(bad + 1) +
                                    " (expected A-Z a-z 0-9 + / and '=' padding, length a multiple of 4)");
    const std::string_view num = line.substr(sp + 1);
    if (num.empty() || num.size() > 10)
      throw error(errc::format,
                  where + ": expected a decimal rank after the space, found '" + std::string(num) + "'");
    std::uint64_t rank = 0;
    for (char c : num) {
      if (c < '0' || c > '9')
        throw error(errc::format, where + ": expected a decimal rank, found '" + std::string(num) + "'");
      rank = rank * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (rank >= 0xFFFFFFF0ULL)
      throw error(errc::format, where + ": rank " + std::string(num) + " is too large");
    const auto r = static_cast<std::uint32_t>(rank);
    if (r >= seen.size()) seen.resize(std::size_t{r} + 1, 0);
    if (seen[r]) throw error(errc::format, where + ": duplicate rank " + std::to_string(r));
    seen[r] = 1;
    vocab.set(r, bytes);
    ++count;
  }
  if (count == 0) throw error(errc::format, source + ": no tokens (expected lines 'base64 rank')");
  for (std::size_t r = 0; r < seen.size(); ++r) {
    if (!seen[r])
      throw error(errc::format, source + ": rank " + std::to_string(r) + " is missing (expected ranks 0.." +
                                    std::to_string(seen.size() - 1) + " without gaps)");
  }
}

/// A named encoding's pattern and special tokens. Throws qlite::error(invalid_argument)
/// for a name it does not know (listing the names it knows).
inline void named_encoding(std::string_view name, pretokenizer& pattern,
                           std::vector<special_token>& specials) {
  specials.clear();
  if (name == "gpt2" || name == "r50k_base") {
    pattern = pretokenizer::gpt2;
    specials = {{"<|endoftext|>", 50256}};
  } else if (name == "cl100k_base") {
    pattern = pretokenizer::cl100k;
    specials = {{"<|endoftext|>", 100257},
                {"<|fim_prefix|>", 100258},
                {"<|fim_middle|>", 100259},
                {"<|fim_suffix|>", 100260},
                {"<|endofprompt|>", 100276}};
  } else if (name == "o200k_base") {
    pattern = pretokenizer::o200k;
    specials = {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
  } else {
    throw error(errc::invalid_argument, "unknown encoding '" + std::string(name) +
                                            "' (expected gpt2, r50k_base, cl100k_base or o200k_base)");
  }
}

/// A tokenizer from the text of a .tiktoken file and an explicit pattern and specials.
inline tokenizer make_tiktoken(std::string_view data, const std::string& source, pretokenizer pattern,
                               std::vector<special_token> specials) {
  tokenizer_parts parts;
  parts.name = source;
  parts.pattern = pattern;
  parts.rule = merge_rule::concat_rank;
  parts.whole_piece_lookup = true;
  parts.specials_always_match = false;
  parse_tiktoken(data, source, parts.vocab);
  for (const special_token& s : specials) {
    if (parts.vocab.contains_id(s.id))
      throw error(errc::format, source + ": special token " + s.text + " has id " + std::to_string(s.id) +
                                    ", which is also an ordinary rank");
  }
  parts.specials = std::move(specials);
  return tokenizer(std::move(parts));
}

/// Loads `path` (.tiktoken) as the named encoding (gpt2, r50k_base, cl100k_base, o200k_base).
inline tokenizer load_tiktoken(const std::string& path, std::string_view encoding_name) {
  pretokenizer pattern{};
  std::vector<special_token> specials;
  named_encoding(encoding_name, pattern, specials);
  return make_tiktoken(detail::read_file(path), path, pattern, std::move(specials));
}

}  // namespace qlite
