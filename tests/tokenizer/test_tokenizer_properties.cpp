// Special-token semantics (special_cases.json), round trips, the invalid-UTF-8 policy,
// malformed files, streaming decode, offsets and batch encoding.
#include <doctest/doctest.h>

#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <qlite/tokenizer/tokenizer_json.hpp>

#include "tok_test_util.hpp"

namespace {

qlite::special_set to_set(const nlohmann::json& v) {
  if (v.is_string() && v.get<std::string>() == "all") return qlite::special_set::all();
  return qlite::special_set(v.get<std::vector<std::string>>());
}

/// Expects `fn` to throw qlite::error of category `c` whose message contains `part`.
template <class F>
void expect_error(F&& fn, qlite::errc c, const std::string& part) {
  try {
    fn();
    FAIL("no qlite::error thrown; expected one containing: ", part);
  } catch (const qlite::error& e) {
    INFO("message: ", std::string(e.what()), " | expected: ", part);
    CHECK(e.category() == c);
    CHECK(std::string(e.what()).find(part) != std::string::npos);
  }
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("special_cases.json: every tiktoken case") {
    const nlohmann::json cases = nlohmann::json::parse(
        qlite::detail::read_file(qlite::test::shared_data("tokenizer/special_cases.json")));
    std::size_t n = 0;
    for (const nlohmann::json& c : cases.at("cases")) {
      const std::string enc = c.at("encoding");
      const std::string text = qlite::test::hex_to_bytes(c.at("text_utf8_hex"));
      const bool tiktoken = c.at("family") == "tiktoken";
      if (!tiktoken) continue;  // the tokenizer.json cases run in test_tokenizer_json.cpp
      const qlite::tokenizer& tok = qlite::test::tiktoken_encoding(enc);
      INFO(enc, " ", c.dump());
      const nlohmann::json& want = c.at("expected");
      std::vector<std::uint32_t> got;
      std::string err;
      try {
        if (!tiktoken) {
          got = tok.encode(text);
        } else if (c.at("call") == "encode_ordinary") {
          got = tok.encode_ordinary(text);
        } else {
          got = tok.encode(text, to_set(c.at("allowed_special")), to_set(c.at("disallowed_special")));
        }
      } catch (const qlite::error& e) {
        err = e.what();
      }
      if (want.contains("error")) {
        CHECK(err.find(want.at("error").get<std::string>()) != std::string::npos);
        CHECK(err.find("allowed_special") != std::string::npos);
        CHECK(err.find("disallowed_special") != std::string::npos);
      } else {
        CHECK(err.empty());
        CHECK(got == want.at("ids").get<std::vector<std::uint32_t>>());
      }
      ++n;
    }
    CHECK(n == 198);
    // Lone surrogates reach the peers as U+FFFD.
    const auto& cl = qlite::test::tiktoken_encoding("cl100k_base");
    for (const nlohmann::json& c : cases.at("lone_surrogates")) {
      std::string text;
      for (const auto& h : c.at("text_codepoints_hex")) {
        const auto cp = static_cast<std::uint32_t>(std::stoul(h.get<std::string>(), nullptr, 16));
        qlite::utf8_append(text, (cp >= 0xD800 && cp < 0xE000) ? 0xFFFDu : cp);
      }
      CHECK(cl.encode_ordinary(text) == c.at("tiktoken cl100k").at("ids").get<std::vector<std::uint32_t>>());
    }
    // Decoding part of a code point gives its bytes (tiktoken's answer).
    CHECK(cl.decode_single_token_bytes(76460) == "\xF0\x9F\x98");
  }

  TEST_CASE(
      "round trip: decode of encode gives the text back on random mixed text for every tiktoken encoding") {
    std::mt19937 rng(1234);
    for (const char* name : {"gpt2", "cl100k_base", "o200k_base"}) {
      const auto& tok = qlite::test::tiktoken_encoding(name);
      for (int i = 0; i < 200; ++i) {
        const std::string s = qlite::test::random_text(rng, 1 + rng() % 200);
        INFO(name, " case ", i);
        const auto ids = tok.encode_ordinary(s);
        CHECK(tok.decode(ids) == s);
        CHECK(tok.count(s, true) == ids.size());
      }
    }
  }

  TEST_CASE("the four merge algorithms agree: scan + heap + buckets + windows") {
    std::mt19937 rng(42);
    for (const char* name : {"gpt2", "cl100k_base", "o200k_base"})
      qlite::test::check_merge_algorithms(qlite::test::tiktoken_encoding(name), name, rng);
  }

  TEST_CASE("windows: long pieces of every kind splice to exactly the heap's tokens") {
    // Random letters (windows agree after a few tokens), runs of one pattern (the window
    // memo), 128-space tokens (cl100k: a window that is one token is merged 256 wide), base64.
    std::mt19937 rng(11);
    auto random_of = [&](std::string_view alphabet, std::size_t n) {
      std::string s;
      for (std::size_t k = 0; k < n; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
      return s;
    };
    auto repeat = [](std::string_view unit, std::size_t n) {
      std::string s;
      while (s.size() < n) s += unit;
      return s;
    };
    struct piece {
      std::string text;
      bool splices;  // the windows agree (else they may decline and the heap merges it)
    };
    const piece pieces[] = {
        {random_of("abcdefghijklmnopqrstuvwxyz", 20000), true},
        {random_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 5000), true},
        {random_of("ab", 5000), true},
        {std::string(70000, 'a'), true},
        {std::string(70001, ' '), true},
        {std::string(3001, '\n'), true},
        {std::string(40000, '='), true},
        {repeat("-_=+", 16000), true},
        {repeat("\r\n", 8000), true},
        {std::string(129, 'x'), true},
        {std::string(300, ' ') + "x" + std::string(300, ' '), false},
    };
    for (const std::string name : {"gpt2", "cl100k_base", "o200k_base"}) {
      const auto& tok = qlite::test::tiktoken_encoding(name);
      for (std::size_t i = 0; i < std::size(pieces); ++i) {
        INFO(name, " piece ", i, " of ", pieces[i].text.size(), " bytes");
        const auto heap = tok.merge_piece_for_testing(pieces[i].text, 1);
        const auto windows = tok.merge_piece_for_testing(pieces[i].text, 3);
        if (pieces[i].splices) CHECK(!windows.empty());
        if (!windows.empty()) CHECK(windows == heap);
      }
    }
  }

  TEST_CASE("long pieces: a 1 MiB pre-token encodes and round-trips") {
    const auto& tok = qlite::test::tiktoken_encoding("cl100k_base");
    // Pieces longer than the scan path takes (> 128 bytes) round-trip and are stable.
    std::mt19937 rng(7);
    for (int i = 0; i < 50; ++i) {
      std::string word;
      const std::size_t len = 65 + rng() % 400;
      for (std::size_t k = 0; k < len; ++k) word.push_back(static_cast<char>('a' + rng() % 3));
      const auto ids = tok.encode_ordinary(word);
      CHECK(tok.decode(ids) == word);
      // every token a maximal merge: re-encoding the concatenation of halves' tokens is stable
      CHECK(tok.encode_ordinary(tok.decode(ids)) == ids);
    }
    const std::string big(1 << 20, 'a');  // 1 MiB, one pre-token
    const auto ids = tok.encode_ordinary(big);
    CHECK(tok.decode(ids) == big);
  }

  TEST_CASE("invalid UTF-8: maximal subparts become U+FFFD (WHATWG)") {
    const auto& tok = qlite::test::tiktoken_encoding("cl100k_base");
    const std::string fffd = "\xEF\xBF\xBD";
    struct c {
      std::string in, out;
    } cases[] = {
        {"a\xFF"
         "b",
         "a" + fffd + "b"},
        {"a\xC3", "a" + fffd},  // truncated 2-byte sequence
        {"\xE2\x82"
         "x",
         fffd + "x"},                                     // truncated 3-byte: one U+FFFD
        {"\xED\xA0\x80", fffd + fffd + fffd},             // UTF-8-encoded surrogate
        {"\xC0\xAF", fffd + fffd},                        // overlong
        {"\xF4\x90\x80\x80", fffd + fffd + fffd + fffd},  // above U+10FFFF
        {"\xF0\x9F\x98", fffd},                           // truncated emoji
    };
    for (const auto& k : cases) {
      std::string storage;
      CHECK(qlite::utf8_view_or_fix(k.in, storage) == k.out);
      CHECK(tok.encode_ordinary(k.in) == tok.encode_ordinary(k.out));
    }
    std::string storage;
    const std::string ok = "plain \xE2\x82\xAC";
    CHECK(qlite::utf8_view_or_fix(ok, storage).data() == ok.data());  // valid input: no copy
  }

  TEST_CASE("stream decoder holds back incomplete UTF-8") {
    const auto& tok = qlite::test::tiktoken_encoding("cl100k_base");
    const auto ids = tok.encode_ordinary("x😀y 的的 é");
    qlite::stream_decoder d(tok);
    std::string all;
    for (std::uint32_t id : ids) {
      const std::string part = d.push(id);
      CHECK(qlite::is_valid_utf8(part));
      all += part;
    }
    all += d.finish();
    CHECK(all == "x😀y 的的 é");
    qlite::stream_decoder d2(tok);
    CHECK(d2.push(76460).empty());  // f0 9f 98: held back
    CHECK(d2.finish() == "\xF0\x9F\x98");
  }

  TEST_CASE("offsets and batch encoding") {
    const auto& tok = qlite::test::tiktoken_encoding("o200k_base");
    const std::string text = "Hello world, it's 2026!\n\tdone";
    const qlite::encoding e = tok.encode_with_offsets(text);
    REQUIRE(e.ids.size() == e.offsets.size());
    for (std::size_t k = 0; k < e.ids.size(); ++k) {
      const std::string_view b = tok.decode_single_token_bytes(e.ids[k]);
      CHECK(text.compare(e.offsets[k], b.size(), b) == 0);
    }
    std::vector<std::string> owned;
    std::mt19937 rng(99);
    for (int i = 0; i < 37; ++i) owned.push_back(qlite::test::random_text(rng, 50 + rng() % 500));
    std::vector<std::string_view> views(owned.begin(), owned.end());
    const auto one = tok.encode_batch(views, 1);
    const auto two = tok.encode_batch(views, 2);
    REQUIRE(one.size() == views.size());
    CHECK(one == two);
    for (std::size_t i = 0; i < views.size(); ++i) CHECK(one[i] == tok.encode(views[i]));
  }

  TEST_CASE("decode rejects unknown ids and unknown encodings are errors") {
    const auto& tok = qlite::test::tiktoken_encoding("cl100k_base");
    const std::vector<std::uint32_t> bad = {15339, 100261};
    expect_error([&] { (void)tok.decode(bad); }, qlite::errc::invalid_argument, "id 100261 at index 1");
    CHECK(tok.decode(std::vector<std::uint32_t>{100257}) == "<|endoftext|>");
    CHECK(tok.n_vocab() == 100277);
    expect_error([] { (void)qlite::load_tiktoken("x.tiktoken", "p99k"); }, qlite::errc::invalid_argument,
                 "unknown encoding 'p99k'");
  }

  TEST_CASE("malformed .tiktoken files: qlite::error with file and line") {
    const std::vector<qlite::special_token> none;
    std::string base;  // a valid 256-byte vocabulary
    for (int b = 0; b < 256; ++b) {
      static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const auto v = static_cast<unsigned>(b);
      base += std::string{a[v >> 2], a[(v & 3) << 4], '=', '='} + " " + std::to_string(b) + "\n";
    }
    CHECK(qlite::make_tiktoken(base, "ok.tiktoken", qlite::pretokenizer::gpt2, none).n_vocab() == 256);
    auto load = [&](const std::string& data) {
      return [=] { (void)qlite::make_tiktoken(data, "bad.tiktoken", qlite::pretokenizer::gpt2, none); };
    };
    expect_error(load(base + "YW*= 256\n"), qlite::errc::format,
                 "bad.tiktoken:257: invalid base64 at column 3");
    expect_error(load(base + "YWE 256\n"), qlite::errc::format, "bad.tiktoken:257: invalid base64");
    expect_error(load(base + "YWE= 255\n"), qlite::errc::format, "bad.tiktoken:257: duplicate rank 255");
    expect_error(load(base + "YWE= 300\n"), qlite::errc::format, "rank 256 is missing");
    expect_error(load(base + "YWE=256\n"), qlite::errc::format,
                 "bad.tiktoken:257: expected 'base64 SP rank'");
    expect_error(load(base + "YWE= 2x\n"), qlite::errc::format, "bad.tiktoken:257: expected a decimal rank");
    expect_error(load(base + "QQ== 256\n"), qlite::errc::format, "have the same bytes");
    expect_error(load("QQ== 0\n"), qlite::errc::format, "no token for byte 0x00");
    expect_error(load(""), qlite::errc::format, "no tokens");
    expect_error([] { (void)qlite::load_tiktoken("/nonexistent/x.tiktoken", "gpt2"); }, qlite::errc::io,
                 "/nonexistent/x.tiktoken");
  }

  TEST_CASE("malformed tokenizer.json: qlite::error naming the JSON path or offset") {
    // A minimal valid byte-level BPE file to mutate.
    nlohmann::json vocab = nlohmann::json::object();
    for (unsigned b = 0; b < 256; ++b) {
      std::string k;
      qlite::utf8_append(k, qlite::detail::byte_to_unicode()[b]);
      vocab[k] = b;
    }
    vocab["ab"] = 256;
    const std::string split =
        R"({"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false})";
    nlohmann::json j = {
        {"normalizer", nullptr},
        {"pre_tokenizer",
         {{"type", "Sequence"},
          {"pretokenizers",
           {nlohmann::json::parse(split),
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
        {"added_tokens", {{{"id", 257}, {"content", "<s>"}, {"special", true}}}},
        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}, {"ignore_merges", false}}}};
    const qlite::tokenizer ok = qlite::parse_tokenizer_json(j.dump(), "t.json");
    CHECK(ok.encode("ab<s>") == std::vector<std::uint32_t>{256, 257});
    auto bad = [](nlohmann::json v) {
      return [v] { (void)qlite::parse_tokenizer_json(v.dump(), "t.json"); };
    };
    const std::string text = j.dump();
    expect_error([&] { (void)qlite::parse_tokenizer_json(text.substr(0, text.size() / 2), "t.json"); },
                 qlite::errc::format, "t.json: invalid JSON at byte");
    nlohmann::json m = j;
    m["model"]["merges"] = {"a zz"};
    expect_error(bad(m), qlite::errc::format, "t.json: model.merges[0]: unknown token \"zz\"");
    m["model"]["merges"] = nlohmann::json::array({nlohmann::json::array({"a", "c"})});
    expect_error(bad(m), qlite::errc::format,
                 "model.merges[0]: the merged token \"ac\" is not in model.vocab");
    m["model"]["merges"] = {"abc"};
    expect_error(bad(m), qlite::errc::format, "model.merges[0]: expected \"left right\"");
    m = j;
    m["normalizer"] = {{"type", "NFKC"}};
    expect_error(bad(m), qlite::errc::unsupported, "normalizer: normalizer 'NFKC' is not supported");
    m = j;
    m["model"]["byte_fallback"] = true;
    expect_error(bad(m), qlite::errc::unsupported, "model.byte_fallback");
    m = j;
    m["model"]["type"] = "WordPiece";
    expect_error(bad(m), qlite::errc::unsupported, "model 'WordPiece' is not supported");
    m = j;
    m["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
    expect_error(bad(m), qlite::errc::unsupported,
                 "pre_tokenizer.pretokenizers[0].pattern.Regex: unknown pre-tokenizer regex");
    m = j;
    m["added_tokens"][0]["lstrip"] = true;
    expect_error(bad(m), qlite::errc::unsupported, "added_tokens[0].lstrip");
    m = j;
    m["model"]["vocab"]["x\xE2\x82\xAC"] = 300;
    expect_error(bad(m), qlite::errc::format, "outside GPT-2's byte-to-unicode alphabet");
    m = j;
    m["model"]["vocab"]["zz"] = 256;
    expect_error(bad(m), qlite::errc::format, "duplicate id 256");
  }
}
