// Unicode tables (generated from UCD 15.0 + the 16.0 category delta), UTF-8 and NFC.
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <qlite/tokenizer/bpe.hpp>
#include <qlite/tokenizer/pretokenizer.hpp>
#include <qlite/tokenizer/unicode.hpp>

namespace {

std::string u8(std::initializer_list<std::uint32_t> cps) {
  std::string s;
  for (auto c : cps) qlite::utf8_append(s, c);
  return s;
}

std::vector<std::string> pieces(qlite::pretokenizer k, const std::string& text) {
  std::vector<std::string> out;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t e = qlite::next_piece(k, s, i, text.size());
    REQUIRE(e > i);
    out.push_back(text.substr(i, e - i));
    i = e;
  }
  return out;
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("code-point classes") {
    using namespace qlite;
    CHECK(class_bits('a') == (ucp::letter | ucp::lowerish));
    CHECK(class_bits('A') == (ucp::letter | ucp::upperish));
    CHECK((class_bits('7') & ucp::number));
    CHECK((class_bits(0x0085) & ucp::space));  // NEL is White_Space
    CHECK((class_bits(0x3000) & ucp::space));
    CHECK(!(class_bits(0xFEFF) & ucp::space));  // BOM is not
    CHECK(!(class_bits(0x200B) & ucp::space));  // nor ZWSP
    CHECK((class_bits(0x7684) & ucp::letter));  // 的 Lo: letter, in both o200k sets
    CHECK((class_bits(0x7684) & ucp::upperish));
    CHECK((class_bits(0x7684) & ucp::lowerish));
    CHECK((class_bits(0x0301) & ucp::mark));  // combining acute: M, not L
    CHECK(!(class_bits(0x0301) & ucp::letter));
    CHECK((class_bits(0x0301) & ucp::nonstarter));
    CHECK((class_bits(0x00BD) & ucp::number));   // ½ No
    CHECK((class_bits(0x2163) & ucp::number));   // Ⅳ Nl
    CHECK((class_bits(0x2EBF0) & ucp::letter));  // CJK Ext. I: letter since Unicode 15.1
    CHECK((class_bits(0x1E5D0) & ucp::letter));  // Ol Onal: letter since Unicode 16.0
    CHECK((class_bits(0x11F02) & ucp::letter));  // Kawi: letter since 15.0
    CHECK(class_bits(0x0378) == 0);              // unassigned
    CHECK(class_bits(0xE000) == 0);              // private use
    CHECK(class_bits(0x110000) == 0);
  }

  TEST_CASE("NFC") {
    CHECK(qlite::nfc("plain ascii") == "plain ascii");
    CHECK(qlite::nfc(u8({'e', 0x301})) == u8({0xE9}));                // é
    CHECK(qlite::nfc(u8({0x1100, 0x1161, 0x11A8})) == u8({0xAC01}));  // Hangul LVT
    CHECK(qlite::nfc(u8({'a', 0x323, 0x302})) == u8({0x1EAD}));       // ậ: reorder + compose
    CHECK(qlite::nfc(u8({'a', 0x302, 0x323})) == u8({0x1EAD}));
    CHECK(qlite::nfc(u8({0x212B})) == u8({0xC5}));                    // Angstrom sign → Å
    CHECK(qlite::nfc(u8({0x0958})) == u8({0x0915, 0x093C}));          // composition exclusion
    CHECK(qlite::nfc(u8({'e', 0x301, 0x301})) == u8({0xE9, 0x301}));  // second mark blocked
    CHECK(qlite::nfc(u8({0xE9})) == u8({0xE9}));
    CHECK(qlite::nfc_quick_yes("abc"));
    CHECK(!qlite::nfc_quick_yes(u8({'e', 0x301})));
  }

  TEST_CASE("pretokenizer scanners resolve the regex backtracking") {
    using P = qlite::pretokenizer;
    using V = std::vector<std::string>;
    CHECK(pieces(P::cl100k, "Hello world") == V{"Hello", " world"});
    CHECK(pieces(P::cl100k, "a  \n\n  b") == V{"a", "  \n\n", " ", " b"});
    CHECK(pieces(P::cl100k, "x   ") == V{"x", "   "});
    CHECK(pieces(P::cl100k, "12345") == V{"123", "45"});
    CHECK(pieces(P::qwen2, "123") == V{"1", "2", "3"});
    CHECK(pieces(P::cl100k, "it'S ok") == V{"it", "'S", " ok"});
    CHECK(pieces(P::gpt2, "it'S ok") == V{"it", "'", "S", " ok"});
    CHECK(pieces(P::gpt2, "12345 !!\n") == V{"12345", " !!", "\n"});
    CHECK(pieces(P::cl100k, "?!\n\nx") == V{"?!\n\n", "x"});
    CHECK(pieces(P::o200k, "HelloWORLD's") == V{"Hello", "WORLD's"});
    CHECK(pieces(P::o200k, "a/b//\n") == V{"a", "/b", "//\n"});
    CHECK(pieces(P::cl100k, "\t\tx") == V{"\t", "\tx"});
  }

  TEST_CASE("known patterns are recognised and others are not") {
    qlite::pretokenizer k{};
    CHECK(qlite::pretokenizer_from_pattern(
        R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", k));
    CHECK(k == qlite::pretokenizer::gpt2);
    CHECK(!qlite::pretokenizer_from_pattern(R"(\w+|\s+)", k));
  }

  TEST_CASE("word-at-a-time forms equal their byte-at-a-time definitions") {
    // ascii::run (8 bytes per step) against a byte loop, and key_word's one-load form
    // against the two-load one, on random bytes biased to letters and their neighbours
    std::mt19937 rng(7);
    const std::string alphabet = "@AMZ[`amz{09 '\x7f\x80\xc3\xff";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    for (int round = 0; round < 2000; ++round) {
      std::string text(static_cast<std::size_t>(1 + round % 40), ' ');
      for (char& c : text) c = (rng() % 3 != 0) ? static_cast<char>('a' + rng() % 26) : alphabet[pick(rng)];
      const auto* s = reinterpret_cast<const unsigned char*>(text.data());
      const std::size_t n = text.size(), from = rng() % n;
      auto slow = [&](unsigned lo, unsigned hi, bool fold) {
        std::size_t j = from;
        while (j < n && (fold ? (s[j] | 0x20u) : s[j]) >= lo && (fold ? (s[j] | 0x20u) : s[j]) <= hi) ++j;
        return j;
      };
      CHECK(qlite::detail::ascii::run<'a', 'z', true>(s, from, n) == slow('a', 'z', true));
      CHECK(qlite::detail::ascii::run<'a', 'z', false>(s, from, n) == slow('a', 'z', false));
      CHECK(qlite::detail::ascii::run<'A', 'Z', false>(s, from, n) == slow('A', 'Z', false));
      const std::size_t len = std::min<std::size_t>(n - from, rng() % 10);
      std::string padded = text.substr(from, len) + std::string(8, static_cast<char>(rng()));
      const auto* q = reinterpret_cast<const unsigned char*>(padded.data());
      CHECK(qlite::detail::key_word(q, len, padded.size()) == qlite::detail::key_word(s + from, len));
    }
  }
}
