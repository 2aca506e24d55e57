// SentencePiece-style BPE (llama2.c tokenizer.bin, GGUF "llama" vocabularies): exact ids on
// the 4,300 TinyStories eval paragraphs with both vocabularies, the heap against llama2.c's
// O(n²) loop, byte fallback, invalid UTF-8, decode, malformed vocabularies, long inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <qlite/tokenizer/sentencepiece.hpp>
#include <qlite/tokenizer/tiktoken.hpp>

#include "../io/io_test_util.hpp"
#include "tok_test_util.hpp"

namespace {

using ids_t = std::vector<std::uint32_t>;

const qlite::sentencepiece_tokenizer& llama2c_tok() {
  static const auto tok = std::make_unique<qlite::sentencepiece_tokenizer>(qlite::sentencepiece_from_llama2c(
      qlite::read_llama2c_tokenizer(qlite::test::shared_data("models/tok512.bin")), "tok512.bin"));
  return *tok;
}

const qlite::sentencepiece_tokenizer& gguf_tok() {
  static const auto tok = std::make_unique<qlite::sentencepiece_tokenizer>(
      qlite::sentencepiece_from_gguf(qlite::gguf_file(qlite::test::shared_data("models/stories260K.gguf"))));
  return *tok;
}

// Python's str.strip(): Unicode White_Space at both ends (ASCII ones, \x1c-\x1f, and the
// non-ASCII ones below, all of which are 2 or 3 UTF-8 bytes).
std::string_view py_strip(std::string_view s) {
  auto space_at_end = [](std::string_view t, bool front) -> std::size_t {
    if (t.empty()) return 0;
    const auto c = static_cast<unsigned char>(front ? t.front() : t.back());
    if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
    static const char* const wide[] = {"\xC2\x85",     "\xC2\xA0",     "\xE1\x9A\x80", "\xE2\x80\x80",
                                       "\xE2\x80\x81", "\xE2\x80\x82", "\xE2\x80\x83", "\xE2\x80\x84",
                                       "\xE2\x80\x85", "\xE2\x80\x86", "\xE2\x80\x87", "\xE2\x80\x88",
                                       "\xE2\x80\x89", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9",
                                       "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
    for (const char* w : wide) {
      const std::string_view ws(w);
      if (front ? t.starts_with(ws) : t.ends_with(ws)) return ws.size();
    }
    return 0;
  };
  for (std::size_t k; (k = space_at_end(s, true)) > 0;) s.remove_prefix(k);
  for (std::size_t k; (k = space_at_end(s, false)) > 0;) s.remove_suffix(k);
  return s;
}

/// The eval paragraphs: text.split("\n\n"), strip(), non-empty.
const std::vector<std::string>& paragraphs() {
  static const std::vector<std::string> p = [] {
    const std::string text = qlite::detail::read_file(qlite::test::shared_data("models/tinystories_val.txt"));
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (true) {
      const std::size_t end = text.find("\n\n", pos);
      const std::string_view block = py_strip(
          std::string_view(text).substr(pos, end == std::string::npos ? std::string::npos : end - pos));
      if (!block.empty()) out.emplace_back(block);
      if (end == std::string::npos) break;
      pos = end + 2;
    }
    return out;
  }();
  return p;
}

/// tinystories_val_tok512.bin: int32 n; int32 len[n]; the ids back to back.
std::vector<ids_t> reference_sequences() {
  const std::string raw =
      qlite::detail::read_file(qlite::test::shared_data("models/tinystories_val_tok512.bin"));
  auto i32 = [&](std::size_t at) {
    REQUIRE(at + 4 <= raw.size());
    std::int32_t v;
    std::memcpy(&v, raw.data() + at, 4);
    return v;
  };
  const auto n = static_cast<std::size_t>(i32(0));
  std::vector<ids_t> seqs(n);
  std::size_t at = 4 + 4 * n;
  for (std::size_t i = 0; i < n; ++i) {
    const auto len = static_cast<std::size_t>(i32(4 + 4 * i));
    for (std::size_t k = 0; k < len; ++k, at += 4) seqs[i].push_back(static_cast<std::uint32_t>(i32(at)));
  }
  REQUIRE(at == raw.size());
  return seqs;
}

void check_eval_paragraphs(const qlite::sentencepiece_tokenizer& tok, const char* name) {
  const auto& paras = paragraphs();
  const auto want = reference_sequences();
  REQUIRE(paras.size() == 4300);
  REQUIRE(want.size() == paras.size());
  std::size_t matched = 0, tokens = 0;
  for (std::size_t i = 0; i < paras.size(); ++i) {
    ids_t got = tok.encode(paras[i], true);
    const ids_t full = got;
    if (got.size() > 512) got.resize(512);
    tokens += got.size();
    INFO(name, " paragraph ", i, ": ", paras[i].substr(0, 80));
    CHECK(got == want[i]);
    if (got == want[i]) ++matched;
    CHECK(tok.count(paras[i], true) == full.size());
    CHECK(tok.decode(full) == paras[i]);
  }
  CHECK(tokens == 384962);
  MESSAGE(std::string(name), ": ", matched, "/", paras.size(),
          " eval paragraphs match tinystories_val_tok512.bin id for id");
}

/// llama2.c's encode, literally: code-point groups, then the O(n²) "highest score, leftmost"
/// loop, with merges restricted to normal pieces (tok.find) as qlite's contract says.
ids_t llama2c_oracle(const qlite::sentencepiece_tokenizer& tok, std::string_view text) {
  ids_t ids;
  std::vector<std::string> txt;  // text of each mergeable symbol ("" for byte fallback)
  auto group = [&](std::string_view g) {
    const std::uint32_t id = tok.find(g);
    if (id != qlite::detail::no_token) {
      ids.push_back(id);
      txt.emplace_back(g);
    } else {
      for (char c : g) {
        ids.push_back(tok.byte_id(static_cast<std::uint8_t>(c)));
        txt.emplace_back();
      }
    }
  };
  if (text.empty()) return ids;
  group(" ");
  for (std::size_t i = 0; i < text.size();) {
    std::size_t len = 1;
    while (i + len < text.size() && (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80 && len < 4)
      ++len;
    group(text.substr(i, len));
    i += len;
  }
  while (true) {
    float best = -std::numeric_limits<float>::infinity();
    std::size_t at = ids.size();
    std::uint32_t best_id = 0;
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
      if (txt[i].empty() || txt[i + 1].empty()) continue;
      const std::uint32_t id = tok.find(txt[i] + txt[i + 1]);
      if (id != qlite::detail::no_token && (at == ids.size() || tok.score(id) > best)) {
        best = tok.score(id);
        best_id = id;
        at = i;
      }
    }
    if (at == ids.size()) break;
    ids[at] = best_id;
    txt[at] += txt[at + 1];
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    txt.erase(txt.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  return ids;
}

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// A tiny hand-made vocabulary: <unk> <s> </s>, 256 byte pieces, then normal pieces.
qlite::sentencepiece_vocab small_vocab(const std::vector<std::pair<std::string, float>>& normal) {
  qlite::sentencepiece_vocab v;
  v.name = "small";
  v.pieces = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.types = {qlite::piece_type::unknown, qlite::piece_type::control, qlite::piece_type::control};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    v.pieces.emplace_back(buf);
    v.scores.push_back(0);
    v.types.push_back(qlite::piece_type::byte);
  }
  for (const auto& [p, s] : normal) {
    v.pieces.push_back(p);
    v.scores.push_back(s);
    v.types.push_back(qlite::piece_type::normal);
  }
  return v;
}

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const qlite::error& e) {
    return e.what();
  }
  return {};
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

/// A GGUF holding only tokenizer metadata; `patch` edits the writer before writing.
std::string tokenizer_gguf_error(auto patch) {
  const auto& ref = llama2c_tok();
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (std::uint32_t id = 0; id < ref.size(); ++id) {
    tokens.push_back(ref.type(id) == qlite::piece_type::control ? (id == 1 ? "<s>" : "</s>") : ref.piece(id));
    scores.push_back(ref.score(id));
    types.push_back(static_cast<std::int32_t>(ref.type(id)));
  }
  qlite::gguf_writer w;
  w.set("general.architecture", "llama");
  w.set("tokenizer.ggml.model", "llama");
  patch(w, tokens, scores, types);
  w.set("tokenizer.ggml.tokens", qlite::gguf_value::array(tokens));
  w.set("tokenizer.ggml.scores", qlite::gguf_value::array(scores));
  w.set("tokenizer.ggml.token_type", qlite::gguf_value::array(types));
  const std::string path = qlite::test::temp_path("tok.gguf");
  w.write(path);
  return error_of([&] { (void)qlite::sentencepiece_from_gguf(qlite::gguf_file(path)); });
}

}  // namespace

TEST_SUITE("tokenizer.sentencepiece") {
  TEST_CASE("tok512.bin: the 4300 eval paragraphs match tinystories_val_tok512.bin") {
    check_eval_paragraphs(llama2c_tok(), "tok512.bin");
  }

  TEST_CASE("stories260K.gguf vocabulary: the 4300 eval paragraphs match too") {
    const auto& g = gguf_tok();
    const auto& l = llama2c_tok();
    REQUIRE(g.size() == l.size());
    CHECK(g.bos_id() == 1);
    CHECK(g.eos_id() == 2);
    CHECK(g.unk_id() == 0);
    for (std::uint32_t id = 3; id < g.size(); ++id) {
      INFO("id ", id);
      CHECK(g.type(id) == l.type(id));
      CHECK(g.piece(id) == l.piece(id));  // "▁" read as ' '
      CHECK(g.score(id) == l.score(id));
    }
    check_eval_paragraphs(g, "stories260K.gguf");
    // SentencePiece escaping: an input "▁" is a space
    CHECK(g.encode("a\xE2\x96\x81"
                   "b") == g.encode("a b"));
    CHECK(l.encode("a\xE2\x96\x81"
                   "b") != l.encode("a b"));
  }

  TEST_CASE("the heap merges exactly like llama2.c's O(n^2) loop") {
    const auto& tok = llama2c_tok();
    std::mt19937 rng(5);
    const auto& paras = paragraphs();
    for (int i = 0; i < 200; ++i) {
      const std::string& p = paras[rng() % paras.size()];
      CHECK(tok.encode(p) == llama2c_oracle(tok, p));
    }
    for (int i = 0; i < 300; ++i) {
      const std::string t = i % 2 ? random_bytes(rng, rng() % 40) : qlite::test::random_text(rng, rng() % 40);
      INFO("case ", i);
      CHECK(tok.encode(t) == llama2c_oracle(tok, t));
    }
    // equal scores everywhere: only "leftmost first" decides
    const qlite::sentencepiece_tokenizer ties(small_vocab(
        {{"a", 0}, {"b", 0}, {" ", 0}, {"aa", -1}, {"ab", -1}, {"ba", -1}, {"aaa", -1}, {"aba", -1}}));
    for (int i = 0; i < 300; ++i) {
      std::string t;
      for (std::size_t k = rng() % 30; k > 0; --k) t.push_back("ab "[rng() % 3]);
      INFO("'", t, "'");
      CHECK(ties.encode(t) == llama2c_oracle(ties, t));
      CHECK(ties.decode(ties.encode(t, true)) == t);
    }
    // random vocabularies whose pieces hold spaces anywhere (no segment cuts), with tied
    // scores and duplicate pieces
    for (int v = 0; v < 20; ++v) {
      std::vector<std::pair<std::string, float>> pieces = {{"a", 0}, {"b", 0}, {" ", 0}};
      for (int k = 0; k < 40; ++k) {
        std::string p;
        for (std::size_t len = 2 + rng() % 4; p.size() < len;) p.push_back("ab "[rng() % 3]);
        pieces.emplace_back(p, -static_cast<float>(rng() % 6));
      }
      const qlite::sentencepiece_tokenizer rnd(small_vocab(pieces));
      for (int i = 0; i < 50; ++i) {
        std::string t;
        for (std::size_t k = rng() % 60; k > 0; --k) t.push_back("ab \xC3"[rng() % 4]);
        INFO("vocabulary ", v, " '", t, "'");
        CHECK(rnd.encode(t) == llama2c_oracle(rnd, t));
        CHECK(rnd.decode(rnd.encode(t, true)) == t);
      }
    }
    CHECK(ties.encode("aaaa") == ids_t{261, 265, 259});  // " " "aaa" "a": leftmost pair first, twice
  }

  TEST_CASE("encode: BOS and EOS and the dummy prefix and empty text") {
    const auto& tok = llama2c_tok();
    CHECK(tok.encode("").empty());
    CHECK(tok.encode("", true) == ids_t{1});
    CHECK(tok.encode("", true, true) == ids_t{1, 2});
    CHECK(tok.encode(" ") == ids_t{410, 410});  // " " + " ": no "  " piece
    const ids_t once = tok.encode("Once upon a time", true, true);
    CHECK(once.front() == 1);
    CHECK(once.back() == 2);
    CHECK(tok.piece(once[1]).starts_with(" "));  // the dummy prefix merged into " Once" (or its start)
    CHECK(tok.count("Once upon a time", true, true) == once.size());
    CHECK(tok.decode(once) == "Once upon a time");
    CHECK(tok.decode(tok.encode("Once upon a time")) == " Once upon a time");  // no BOS: prefix kept
    qlite::sentencepiece_vocab v = small_vocab({{"a", 0}, {" ", 0}, {" a", 1}});
    v.add_dummy_prefix = false;
    const qlite::sentencepiece_tokenizer no_prefix(std::move(v));
    CHECK(no_prefix.encode("aa a") == ids_t{259, 259, 261});
  }

  TEST_CASE("byte fallback for characters not in the vocabulary") {
    const auto& tok = llama2c_tok();
    CHECK(tok.encode("\xC3\xBC", true) == ids_t{1, 410, 0xC3 + 3, 0xBC + 3});  // ü
    CHECK(tok.encode("\xC3\xA9") == ids_t{410, 485});                          // é is a piece of tok512.bin
    CHECK(tok.encode("\xF0\x9F\x98\x80") == ids_t{410, 0xF0 + 3, 0x9F + 3, 0x98 + 3, 0x80 + 3});  // 😀
    CHECK(tok.encode("\xE7\x9A\x84") == ids_t{410, 0xE7 + 3, 0x9A + 3, 0x84 + 3});                // 的
    const std::string mixed = "Tim said \xE4\xBD\xA0\xE5\xA5\xBD to the caf\xC3\xA9.";
    CHECK(tok.decode(tok.encode(mixed, true)) == mixed);
    for (std::uint32_t b = 0; b < 256; ++b) CHECK(tok.byte_id(static_cast<std::uint8_t>(b)) == b + 3);
    // a vocabulary without byte pieces: unknown characters become <unk>, byte by byte
    qlite::sentencepiece_vocab v;
    v.name = "nobytes";
    v.pieces = {"<unk>", "<s>", "</s>", " ", "a"};
    v.scores = {0, 0, 0, 0, 0};
    v.types = {qlite::piece_type::unknown, qlite::piece_type::control, qlite::piece_type::control,
               qlite::piece_type::normal, qlite::piece_type::normal};
    const qlite::sentencepiece_tokenizer nb(std::move(v));
    CHECK(nb.encode("a\xC3\xA9") == ids_t{3, 4, 0, 0});
    CHECK(nb.decode(ids_t{1, 4, 0}) == "a<unk>");
  }

  TEST_CASE("invalid UTF-8: llama2.c's groups then byte fallback") {
    const auto& tok = llama2c_tok();
    const std::uint32_t A = tok.find("A"), paren = tok.find("(");
    REQUIRE(A != qlite::detail::no_token);
    REQUIRE(paren != qlite::detail::no_token);
    CHECK(tok.encode("\xC3(") == ids_t{410, 0xC3 + 3, paren});    // truncated sequence
    CHECK(tok.encode("A\x80") == ids_t{410, 'A' + 3, 0x80 + 3});  // "A\x80" is one group, not a piece
    CHECK(tok.encode("\x80"
                     "A") == ids_t{410, 0x80 + 3, A});  // a stray continuation byte
    CHECK(tok.encode("\xF0\x80\x80\x80\x80") ==         // a 5th continuation byte
          ids_t{410, 0xF0 + 3, 0x80 + 3, 0x80 + 3, 0x80 + 3, 0x80 + 3});
    CHECK(tok.encode(std::string_view("a\0b", 3)) == ids_t{tok.find(" a"), 3, tok.find("b")});  // NUL: <0x00>
    CHECK(tok.encode(std::string_view("\0", 1)) == ids_t{410, 3});
  }

  TEST_CASE("decode and decode_piece: llama2.c's rules") {
    const auto& tok = llama2c_tok();
    const std::uint32_t once = tok.find(" Once");
    REQUIRE(once != qlite::detail::no_token);
    CHECK(tok.decode_piece(1, once) == "Once");  // after BOS the leading space goes
    CHECK(tok.decode_piece(once, once) == " Once");
    CHECK(tok.decode_piece(qlite::detail::no_token, once) == " Once");
    CHECK(tok.decode_piece(1, 0x20 + 3) == " ");  // a byte token keeps its space
    CHECK(tok.decode_piece(5, 0x41 + 3) == "A");
    CHECK(tok.decode_piece(5, 0x00 + 3) == std::string_view("\0", 1));
    CHECK(tok.decode_piece(5, 1).empty());  // BOS, EOS: nothing
    CHECK(tok.decode_piece(5, 2).empty());
    CHECK(tok.decode_piece(5, 0) == "<unk>");
    CHECK(tok.decode(ids_t{1, once, 2, 1, once}) == "OnceOnce");  // EOS then BOS: strips again
    CHECK(tok.decode(ids_t{}).empty());
    const std::string m = error_of([&] { (void)tok.decode(ids_t{1, 512}); });
    CHECK(contains(m, "id 512 at index 1 is not a token"));
    CHECK(contains(error_of([&] { (void)tok.decode_piece(1, 99999); }), "id 99999"));
  }

  TEST_CASE("round trip: decode of encode with BOS gives x back for text and random bytes") {
    const auto& tok = llama2c_tok();
    const auto& gg = gguf_tok();
    std::mt19937 rng(17);
    for (const std::string& p : paragraphs()) {
      REQUIRE(tok.decode(tok.encode(p, true)) == p);
      REQUIRE(tok.decode(tok.encode(" " + p + "  ", true)) == " " + p + "  ");  // x's own spaces stay
    }
    for (int i = 0; i < 2000; ++i) {
      const std::string b = random_bytes(rng, rng() % 64);
      REQUIRE(tok.decode(tok.encode(b, true)) == b);
      const std::string t = qlite::test::random_text(rng, rng() % 64);
      REQUIRE(tok.decode(tok.encode(t, true)) == t);
      // the GGUF vocabulary reads "▁" as ' ': it round-trips whatever holds no U+2581
      if (b.find("\xE2\x96\x81") == std::string::npos) REQUIRE(gg.decode(gg.encode(b, true)) == b);
    }
  }

  TEST_CASE("long inputs: 1 MiB of one letter or random bytes or random text or stories") {
    const auto& tok = llama2c_tok();
    std::mt19937 rng(3);
    std::string stories;
    for (const std::string& p : paragraphs()) {
      if (stories.size() > (1u << 20)) break;
      stories += p + "\n\n";
    }
    const std::string inputs[] = {std::string(1u << 20, 'a'), random_bytes(rng, 1u << 20),
                                  qlite::test::random_text(rng, 1u << 19), stories,
                                  std::string(1u << 20, ' ')};
    for (const std::string& x : inputs) {
      const ids_t ids = tok.encode(x, true);
      CHECK(ids.size() > 1);
      CHECK(tok.count(x, true) == ids.size());
      CHECK(tok.decode(ids) == x);
    }
    // a vocabulary where long runs merge: one segment of 1 MiB, the heap at full size
    const qlite::sentencepiece_tokenizer runs(
        small_vocab({{"a", 0}, {" ", 0}, {"aa", -1}, {"aaaa", -2}, {"aaaaaaaa", -3}, {" a", -4}}));
    const std::string as(1u << 20, 'a');
    const ids_t ids = runs.encode(as, true);
    CHECK(ids.size() == 2 + (1u << 17));  // BOS " " "aaaaaaaa"×2^17 (" a" scores lowest)
    CHECK(runs.decode(ids) == as);
  }

  TEST_CASE("duplicate pieces: the lowest id encodes and every id decodes") {
    const qlite::sentencepiece_tokenizer tok(
        small_vocab({{" ", 0}, {"a", 0}, {"b", 0}, {"ab", -1}, {"ab", 5}}));
    CHECK(tok.find("ab") == 262);
    CHECK(tok.encode("ab") == ids_t{259, 262});
    CHECK(tok.score(262) == -1);
    CHECK(tok.decode(ids_t{263}) == "ab");
  }

  TEST_CASE("malformed vocabularies: clear errors") {
    auto bad = [](auto edit) {
      qlite::sentencepiece_vocab v = small_vocab({{" ", 0}, {"a", 0}});
      edit(v);
      return error_of([&] { qlite::sentencepiece_tokenizer t(std::move(v)); });
    };
    CHECK(
        contains(bad([](auto& v) { v.scores.pop_back(); }), "small: scores has 260 entries, pieces has 261"));
    CHECK(contains(bad([](auto& v) { v.types.pop_back(); }), "token types has 260 entries"));
    CHECK(contains(bad([](auto& v) { v.scores[260] = std::nanf(""); }),
                   "small: scores[260]: expected a number, found NaN"));
    CHECK(contains(bad([](auto& v) { v.bos_id = 261; }), "bos id 261 is out of range"));
    CHECK(contains(bad([](auto& v) { v.eos_id = 9999; }), "eos id 9999"));
    CHECK(contains(bad([](auto& v) { v.unk_id = 261; }), "unk id 261"));
    CHECK(
        contains(bad([](auto& v) { v.pieces[3] = "<0x0g>"; }), "pieces[3] is a byte token spelled '<0x0g>'"));
    CHECK(contains(bad([](auto& v) { v.types[5] = static_cast<qlite::piece_type>(9); }),
                   "token type of pieces[5] is 9"));
    CHECK(contains(bad([](auto& v) {
                     v.pieces.clear();
                     v.scores.clear();
                     v.types.clear();
                   }),
                   "small: the vocabulary is empty"));
    CHECK(bad([](auto& v) { v.scores[260] = -INFINITY; }).empty());  // ±inf is a score
    qlite::llama2c_tokenizer two;
    two.pieces = {"<unk>", "<s>"};
    two.scores = {0, 0};
    CHECK(contains(error_of([&] { (void)qlite::sentencepiece_from_llama2c(two, "two.bin"); }),
                   "two.bin: 2 pieces (expected at least 3"));
  }

  TEST_CASE("malformed GGUF vocabularies: clear errors naming the file and key") {
    using w_t = qlite::gguf_writer;
    using s_t = std::vector<std::string>;
    using f_t = std::vector<float>;
    using i_t = std::vector<std::int32_t>;
    CHECK(tokenizer_gguf_error([](w_t&, s_t&, f_t&, i_t&) {}).empty());  // the unpatched file loads
    std::string m =
        tokenizer_gguf_error([](w_t& w, s_t&, f_t&, i_t&) { w.set("tokenizer.ggml.model", "gpt2"); });
    CHECK(contains(m, "tok.gguf: tokenizer.ggml.model is 'gpt2'"));
    m = tokenizer_gguf_error([](w_t&, s_t&, f_t& s, i_t&) { s.pop_back(); });
    CHECK(contains(m, "tokenizer.ggml.scores has 511 entries, tokenizer.ggml.tokens has 512"));
    m = tokenizer_gguf_error([](w_t&, s_t&, f_t&, i_t& t) { t.push_back(1); });
    CHECK(contains(m, "tokenizer.ggml.token_type has 513 entries"));
    m = tokenizer_gguf_error([](w_t&, s_t& t, f_t&, i_t&) { t.pop_back(); });
    CHECK(contains(m, "tokenizer.ggml.scores has 512 entries, tokenizer.ggml.tokens has 511"));
    m = tokenizer_gguf_error([](w_t&, s_t&, f_t& s, i_t&) { s[300] = std::nanf(""); });
    CHECK(contains(m, "tok.gguf: tokenizer.ggml.scores[300]: expected a number, found NaN"));
    m = tokenizer_gguf_error([](w_t&, s_t&, f_t&, i_t& t) { t[7] = 0; });
    CHECK(contains(m, "tokenizer.ggml.token_type[7] is 0"));
    m = tokenizer_gguf_error(
        [](w_t& w, s_t&, f_t&, i_t&) { w.set("tokenizer.ggml.bos_token_id", std::uint32_t{512}); });
    CHECK(contains(m, "tok.gguf: bos id 512 is out of range"));
    m = tokenizer_gguf_error(
        [](w_t& w, s_t&, f_t&, i_t&) { w.set("tokenizer.ggml.eos_token_id", std::int32_t{-1}); });
    CHECK(contains(m, "'tokenizer.ggml.eos_token_id': expected a token id"));
    m = tokenizer_gguf_error(
        [](w_t& w, s_t&, f_t&, i_t&) { w.set("tokenizer.ggml.add_space_prefix", 1.0f); });
    CHECK(contains(m, "add_space_prefix': expected type bool"));
    m = tokenizer_gguf_error([](w_t&, s_t& t, f_t&, i_t&) { t[10] = "byte"; });
    CHECK(contains(m, "pieces[10] is a byte token spelled 'byte'"));
    // keys missing or of the wrong type
    {
      qlite::gguf_writer w;
      w.set("tokenizer.ggml.model", "llama");
      w.set("tokenizer.ggml.tokens",
            qlite::gguf_value::array(std::vector<std::string>{"<unk>", "<s>", "</s>"}));
      w.set("tokenizer.ggml.scores", qlite::gguf_value::array(std::vector<std::int32_t>{0, 0, 0}));
      const std::string path = qlite::test::temp_path("types.gguf");
      w.write(path);
      m = error_of([&] { (void)qlite::sentencepiece_from_gguf(qlite::gguf_file(path)); });
      CHECK(contains(m, "'tokenizer.ggml.scores': expected an array of f32, found an array of i32"));
    }
    {
      qlite::gguf_writer w;
      w.set("general.architecture", "llama");
      const std::string path = qlite::test::temp_path("none.gguf");
      w.write(path);
      m = error_of([&] { (void)qlite::sentencepiece_from_gguf(qlite::gguf_file(path)); });
      CHECK(contains(m, "metadata key 'tokenizer.ggml.model' is missing"));
    }
    // no token_type array: types derived as for llama2.c; add_space_prefix false honoured
    {
      qlite::gguf_writer w;
      w.set("tokenizer.ggml.model", "llama");
      w.set("tokenizer.ggml.tokens", qlite::gguf_value::array(std::vector<std::string>{
                                         "<unk>", "<s>", "</s>", "<0x41>", "\xE2\x96\x81", "b",
                                         "\xE2\x96\x81"
                                         "b"}));
      w.set("tokenizer.ggml.scores", qlite::gguf_value::array(std::vector<float>{0, 0, 0, 0, -1, -2, -3}));
      w.set("tokenizer.ggml.add_space_prefix", false);
      const std::string path = qlite::test::temp_path("derived.gguf");
      w.write(path);
      const auto tok = qlite::sentencepiece_from_gguf(qlite::gguf_file(path));
      CHECK(tok.type(3) == qlite::piece_type::byte);
      CHECK(tok.type(1) == qlite::piece_type::control);
      CHECK(tok.encode("b bA") == ids_t{5, 6, 3});
      CHECK(tok.decode(ids_t{1, 6, 3}) == "bA");
    }
  }
}
