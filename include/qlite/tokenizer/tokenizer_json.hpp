// qlite — loading Hugging Face tokenizer.json (byte-level BPE) and GPT-2's encoder.json +
// vocab.bpe. This is the one tokenizer header that needs nlohmann_json (Debian
// nlohmann-json3-dev; CMake: find_package(nlohmann_json 3) and link nlohmann_json::nlohmann_json).
//
// What is supported (anything else is qlite::error(unsupported) naming the feature and its
// JSON path — never a silently different tokenization):
//   normalizer     null, NFC, or a Sequence of those
//   pre_tokenizer  Sequence[Split(Regex = a known pattern, behavior Isolated, invert false),
//                  ByteLevel(add_prefix_space false, use_regex false)], or ByteLevel(use_regex
//                  true, add_prefix_space false) alone (GPT-2's pattern)
//   model          BPE: vocab in byte-to-unicode form, merges as "a b" strings or ["a","b"]
//                  pairs (merge i has rank i; a later duplicate pair wins, as in HF),
//                  ignore_merges (a pre-token that is a token is emitted whole), dropout
//                  null/0, byte_fallback false, empty continuing_subword_prefix and
//                  end_of_word_suffix
//   added_tokens   matched in the input by `encode(text)` whatever their `special` flag
//                  (HF semantics); lstrip/rstrip/single_word must be false
//   post_processor, decoder: ignored — qlite never adds BOS/EOS (HF add_special_tokens=false)
//
// Malformed input: invalid JSON gives qlite::error(format) with the byte offset; a merge
// naming an unknown token, a vocab key outside the byte-level alphabet, duplicate ids, a
// missing field give qlite::error(format) with the file and the JSON path
// (e.g. "model.merges[17]").
//
// Cost: parsing dominates (≈ 0.3 s for an 11 MB tokenizer.json).
//
//   qlite::tokenizer tok = qlite::load_tokenizer_json("qwen3/tokenizer.json");
//   auto ids = tok.encode("<|im_start|>user\nhi<|im_end|>");   // added tokens match
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "qlite/core/error.hpp"
#include "qlite/tokenizer/tiktoken.hpp"
#include "qlite/tokenizer/tokenizer.hpp"

namespace qlite {

namespace detail {

/// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100...
inline const std::array<std::uint32_t, 256>& byte_to_unicode() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

/// Inverse of byte_to_unicode over U+0000..U+0143 (-1 outside the alphabet).
inline int unicode_to_byte(std::uint32_t cp) {
  static const std::array<int, 324> table = [] {
    std::array<int, 324> t{};
    t.fill(-1);
    for (unsigned b = 0; b < 256; ++b) t[byte_to_unicode()[b]] = static_cast<int>(b);
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

/// Bytes of a token written in byte-to-unicode form; false if a character is outside it.
inline bool byte_level_decode(std::string_view s, std::string& out) {
  out.clear();
  if (!is_valid_utf8(s)) return false;
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t i = 0, len = 0;
  while (i < s.size()) {
    const int b = unicode_to_byte(utf8_decode(u, i, len));
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

struct json_ctx {
  const std::string& file;
  [[noreturn]] void fail(errc c, const std::string& path, const std::string& what) const {
    throw error(c, file + ": " + path + ": " + what);
  }
  const nlohmann::json& member(const nlohmann::json& obj, const char* key, const std::string& path) const {
    if (!obj.is_object() || !obj.contains(key))
      fail(errc::format, path, std::string("missing field '") + key + "'");
    return obj.at(key);
  }
  std::string string_of(const nlohmann::json& v, const std::string& path) const {
    if (!v.is_string()) fail(errc::format, path, "expected a string, found " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::uint32_t id_of(const nlohmann::json& v, const std::string& path) const {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() >= 0xFFFFFFF0ULL)
      fail(errc::format, path, "expected a token id (unsigned integer), found " + v.dump());
    return static_cast<std::uint32_t>(v.get<std::uint64_t>());
  }
  bool flag(const nlohmann::json& obj, const char* key) const {
    return obj.contains(key) && obj.at(key).is_boolean() && obj.at(key).get<bool>();
  }
  bool empty_or_null(const nlohmann::json& obj, const char* key) const {
    if (!obj.contains(key) || obj.at(key).is_null()) return true;
    return obj.at(key).is_string() && obj.at(key).get<std::string>().empty();
  }
};

inline nlohmann::json parse_json(const std::string& data, const std::string& file) {
  try {
    return nlohmann::json::parse(data);
  } catch (const nlohmann::json::parse_error& e) {
    throw error(errc::format,
                file + ": invalid JSON at byte " + std::to_string(e.byte) + " (" + e.what() + ")");
  }
}

inline normalizer parse_normalizer(const json_ctx& cx, const nlohmann::json& n, const std::string& path) {
  if (n.is_null()) return normalizer::none;
  const std::string type = cx.string_of(cx.member(n, "type", path), path + ".type");
  if (type == "NFC") return normalizer::nfc;
  if (type == "Sequence") {
    normalizer out = normalizer::none;
    const nlohmann::json& list = cx.member(n, "normalizers", path);
    for (std::size_t i = 0; i < list.size(); ++i)
      if (parse_normalizer(cx, list[i], path + ".normalizers[" + std::to_string(i) + "]") == normalizer::nfc)
        out = normalizer::nfc;
    return out;
  }
  cx.fail(errc::unsupported, path, "normalizer '" + type + "' is not supported (qlite supports null, NFC)");
}

inline pretokenizer parse_pre_tokenizer(const json_ctx& cx, const nlohmann::json& p,
                                        const std::string& path) {
  if (p.is_null())
    cx.fail(errc::unsupported, path, "a null pre_tokenizer is not supported (expected Split+ByteLevel)");
  auto byte_level = [&](const nlohmann::json& b, const std::string& bp, bool regex_expected) {
    if (cx.flag(b, "add_prefix_space"))
      cx.fail(errc::unsupported, bp + ".add_prefix_space",
              "ByteLevel add_prefix_space=true is not supported");
    const bool use_regex = !b.contains("use_regex") || cx.flag(b, "use_regex");
    if (use_regex != regex_expected)
      cx.fail(errc::unsupported, bp + ".use_regex",
              regex_expected ? "ByteLevel alone must use its regex"
                             : "ByteLevel after Split must have use_regex=false");
  };
  const std::string type = cx.string_of(cx.member(p, "type", path), path + ".type");
  if (type == "ByteLevel") {
    byte_level(p, path, true);
    return pretokenizer::gpt2;
  }
  if (type != "Sequence")
    cx.fail(errc::unsupported, path,
            "pre_tokenizer '" + type + "' is not supported (expected Sequence[Split, ByteLevel])");
  const nlohmann::json& list = cx.member(p, "pretokenizers", path);
  if (!list.is_array() || list.size() != 2)
    cx.fail(errc::unsupported, path + ".pretokenizers", "expected exactly [Split, ByteLevel]");
  const std::string p0 = path + ".pretokenizers[0]", p1 = path + ".pretokenizers[1]";
  const std::string t0 = cx.string_of(cx.member(list[0], "type", p0), p0 + ".type");
  const std::string t1 = cx.string_of(cx.member(list[1], "type", p1), p1 + ".type");
  if (t0 != "Split" || t1 != "ByteLevel")
    cx.fail(errc::unsupported, path + ".pretokenizers",
            "pre_tokenizer Sequence[" + t0 + ", " + t1 + "] is not supported (expected [Split, ByteLevel])");
  byte_level(list[1], p1, false);
  const nlohmann::json& pat = cx.member(list[0], "pattern", p0);
  if (!pat.contains("Regex"))
    cx.fail(errc::unsupported, p0 + ".pattern",
            "only Regex split patterns are supported, found " + pat.dump());
  const std::string regex = cx.string_of(pat.at("Regex"), p0 + ".pattern.Regex");
  const std::string behavior =
      list[0].contains("behavior") ? cx.string_of(list[0].at("behavior"), p0 + ".behavior") : "";
  if (behavior != "Isolated")
    cx.fail(errc::unsupported, p0 + ".behavior",
            "Split behavior '" + behavior + "' is not supported (expected Isolated)");
  if (cx.flag(list[0], "invert"))
    cx.fail(errc::unsupported, p0 + ".invert", "Split invert=true is not supported");
  pretokenizer kind{};
  if (!pretokenizer_from_pattern(regex, kind))
    cx.fail(errc::unsupported, p0 + ".pattern.Regex",
            "unknown pre-tokenizer regex (qlite scans the gpt2, cl100k, qwen2 and o200k patterns): " + regex);
  return kind;
}

}  // namespace detail

/// Builds a tokenizer from the text of a tokenizer.json (`source` names it in messages).
inline tokenizer parse_tokenizer_json(const std::string& data, const std::string& source) {
  const detail::json_ctx cx{source};
  const nlohmann::json j = detail::parse_json(data, source);
  if (!j.is_object()) cx.fail(errc::format, "(root)", "expected a JSON object");
  tokenizer_parts parts;
  parts.name = source;
  parts.rule = merge_rule::pair_merges;
  parts.specials_always_match = true;
  parts.norm = detail::parse_normalizer(cx, j.contains("normalizer") ? j.at("normalizer") : nlohmann::json(),
                                        "normalizer");
  parts.pattern = detail::parse_pre_tokenizer(
      cx, j.contains("pre_tokenizer") ? j.at("pre_tokenizer") : nlohmann::json(), "pre_tokenizer");
  const nlohmann::json& model = cx.member(j, "model", "(root)");
  if (model.contains("type") && cx.string_of(model.at("type"), "model.type") != "BPE")
    cx.fail(errc::unsupported, "model.type",
            "model '" + model.at("type").get<std::string>() + "' is not supported (expected BPE)");
  if (model.contains("dropout") && !model.at("dropout").is_null() &&
      !(model.at("dropout").is_number() && model.at("dropout").get<double>() == 0.0))
    cx.fail(errc::unsupported, "model.dropout", "BPE dropout is not supported");
  if (cx.flag(model, "byte_fallback"))
    cx.fail(errc::unsupported, "model.byte_fallback", "byte_fallback is not supported");
  if (!cx.empty_or_null(model, "continuing_subword_prefix"))
    cx.fail(errc::unsupported, "model.continuing_subword_prefix",
            "a continuing_subword_prefix is not supported");
  if (!cx.empty_or_null(model, "end_of_word_suffix"))
    cx.fail(errc::unsupported, "model.end_of_word_suffix", "an end_of_word_suffix is not supported");
  parts.whole_piece_lookup = cx.flag(model, "ignore_merges");

  const nlohmann::json& vocab = cx.member(model, "vocab", "model");
  if (!vocab.is_object()) cx.fail(errc::format, "model.vocab", "expected an object token → id");
  std::string bytes;
  std::vector<std::uint8_t> seen;
  for (const auto& [key, value] : vocab.items()) {
    const std::uint32_t id = cx.id_of(value, "model.vocab[\"" + key + "\"]");
    if (!detail::byte_level_decode(key, bytes))
      cx.fail(errc::format, "model.vocab[\"" + key + "\"]",
              "token has a character outside GPT-2's byte-to-unicode alphabet (expected a byte-level "
              "vocabulary)");
    if (id >= seen.size()) seen.resize(std::size_t{id} + 1, 0);
    if (seen[id]) cx.fail(errc::format, "model.vocab[\"" + key + "\"]", "duplicate id " + std::to_string(id));
    seen[id] = 1;
    parts.vocab.set(id, bytes);
  }
  // Token ids by their byte-level strings, for the merges.
  std::unordered_map<std::string, std::uint32_t> by_name;
  by_name.reserve(vocab.size());
  for (const auto& [key, value] : vocab.items()) by_name.emplace(key, value.get<std::uint32_t>());

  const nlohmann::json& merges = cx.member(model, "merges", "model");
  if (!merges.is_array()) cx.fail(errc::format, "model.merges", "expected an array");
  parts.merges.reserve(merges.size());
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::string mp = "model.merges[" + std::to_string(i) + "]";
    std::string a, b;
    if (merges[i].is_string()) {
      const std::string s = merges[i].get<std::string>();
      const std::size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        cx.fail(errc::format, mp, "expected \"left right\" with one space, found \"" + s + "\"");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (merges[i].is_array() && merges[i].size() == 2) {
      a = cx.string_of(merges[i][0], mp + "[0]");
      b = cx.string_of(merges[i][1], mp + "[1]");
    } else {
      cx.fail(errc::format, mp, "expected \"a b\" or [\"a\", \"b\"], found " + merges[i].dump());
    }
    const auto ia = by_name.find(a), ib = by_name.find(b), iab = by_name.find(a + b);
    if (ia == by_name.end()) cx.fail(errc::format, mp, "unknown token \"" + a + "\" (not in model.vocab)");
    if (ib == by_name.end()) cx.fail(errc::format, mp, "unknown token \"" + b + "\" (not in model.vocab)");
    if (iab == by_name.end())
      cx.fail(errc::format, mp, "the merged token \"" + a + b + "\" is not in model.vocab");
    parts.merges.put(ia->second, ib->second, {static_cast<std::uint32_t>(i), iab->second});
  }
  if (j.contains("added_tokens") && !j.at("added_tokens").is_null()) {
    const nlohmann::json& added = j.at("added_tokens");
    for (std::size_t i = 0; i < added.size(); ++i) {
      const std::string ap = "added_tokens[" + std::to_string(i) + "]";
      for (const char* f : {"lstrip", "rstrip", "single_word"})
        if (cx.flag(added[i], f))
          cx.fail(errc::unsupported, ap + "." + f,
                  std::string("added token option ") + f + "=true is not supported");
      parts.specials.push_back({cx.string_of(cx.member(added[i], "content", ap), ap + ".content"),
                                cx.id_of(cx.member(added[i], "id", ap), ap + ".id")});
    }
  }
  return tokenizer(std::move(parts));
}

/// Loads a Hugging Face tokenizer.json.
inline tokenizer load_tokenizer_json(const std::string& path) {
  return parse_tokenizer_json(detail::read_file(path), path);
}

/// Loads GPT-2's original files (encoder.json: byte-to-unicode token → id; vocab.bpe:
/// "#version" line then one merge "a b" per line in priority order). <|endoftext|> becomes
/// the special token; the pattern is gpt2's; encode semantics are tiktoken's.
inline tokenizer load_gpt2_data_gym(const std::string& encoder_json_path, const std::string& vocab_bpe_path) {
  const detail::json_ctx cx{encoder_json_path};
  const nlohmann::json enc = detail::parse_json(detail::read_file(encoder_json_path), encoder_json_path);
  if (!enc.is_object()) cx.fail(errc::format, "(root)", "expected an object token → id");
  tokenizer_parts parts;
  parts.name = encoder_json_path;
  parts.pattern = pretokenizer::gpt2;
  parts.rule = merge_rule::pair_merges;
  parts.whole_piece_lookup = false;
  std::unordered_map<std::string, std::uint32_t> by_name;
  std::string bytes;
  for (const auto& [key, value] : enc.items()) {
    const std::uint32_t id = cx.id_of(value, "[\"" + key + "\"]");
    if (key == "<|endoftext|>") {
      parts.specials.push_back({key, id});
      continue;
    }
    if (!detail::byte_level_decode(key, bytes))
      cx.fail(errc::format, "[\"" + key + "\"]",
              "token has a character outside GPT-2's byte-to-unicode alphabet");
    if (!by_name.emplace(key, id).second || parts.vocab.contains_id(id))
      cx.fail(errc::format, "[\"" + key + "\"]", "duplicate id " + std::to_string(id));
    parts.vocab.set(id, bytes);
  }
  const std::string bpe = detail::read_file(vocab_bpe_path);
  std::size_t pos = 0, line_no = 0, rank = 0;
  std::vector<std::string> lines;
  while (pos < bpe.size()) {
    std::size_t eol = bpe.find('\n', pos);
    if (eol == std::string::npos) eol = bpe.size();
    lines.push_back(bpe.substr(pos, eol - pos));
    pos = eol + 1;
  }
  parts.merges.reserve(lines.size());
  for (std::string& line : lines) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const std::string where = vocab_bpe_path + ":" + std::to_string(line_no);
    const std::size_t sp = line.find(' ');
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      throw error(errc::format, where + ": expected 'left SP right', found '" + line + "'");
    const std::string a = line.substr(0, sp), b = line.substr(sp + 1);
    const auto ia = by_name.find(a), ib = by_name.find(b), iab = by_name.find(a + b);
    if (ia == by_name.end() || ib == by_name.end() || iab == by_name.end())
      throw error(errc::format,
                  where + ": merge '" + line + "' names a token that is not in " + encoder_json_path);
    parts.merges.put(ia->second, ib->second, {static_cast<std::uint32_t>(rank++), iab->second});
  }
  return tokenizer(std::move(parts));
}

}  // namespace qlite
