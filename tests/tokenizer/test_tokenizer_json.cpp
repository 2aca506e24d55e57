// Hugging Face tokenizer.json (Qwen3, Llama 3) and GPT-2's encoder.json + vocab.bpe: exact
// ids on the shared corpus, special_cases.json, round trips, merge algorithms. Each model is
// one test case, so each large file is parsed once per process.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <qlite/tokenizer/tokenizer_json.hpp>

#include "tok_test_util.hpp"

namespace {

void check_corpus(const qlite::tokenizer& tok, const std::string& encoding, bool nfc) {
  const auto docs = qlite::test::corpus_documents(encoding);
  REQUIRE(docs.size() == 22);
  std::size_t matched = 0;
  for (const std::string& doc : docs) {
    const std::string text = qlite::detail::read_file(qlite::test::shared_data("tokenizer/corpus/" + doc));
    const auto want = qlite::test::read_u32(qlite::test::shared_data("tokenizer/expected/" + encoding + "/" +
                                                                     doc.substr(0, doc.size() - 4) + ".u32"));
    const auto got = tok.encode(text);
    const std::string diff = qlite::test::compare_ids(tok, got, want);
    INFO(encoding, " ", doc, ": ", diff);
    CHECK(diff.empty());
    if (diff.empty()) ++matched;
    CHECK(tok.count(text) == want.size());
    CHECK(tok.decode(got) == (nfc ? qlite::nfc(text) : text));
  }
  MESSAGE(encoding, ": ", matched, "/", docs.size(), " corpus documents match the reference ids");
}

/// Corpus, special cases, lone surrogates, round trips and merge algorithms for one model.
void check_model(const std::string& name) {
  const qlite::tokenizer tok =
      qlite::load_tokenizer_json(qlite::test::shared_data("tokenizer/vocab/" + name + "/tokenizer.json"));
  const bool nfc = name == "qwen3";
  check_corpus(tok, name, nfc);

  const nlohmann::json cases = nlohmann::json::parse(
      qlite::detail::read_file(qlite::test::shared_data("tokenizer/special_cases.json")));
  std::size_t n = 0;
  for (const nlohmann::json& c : cases.at("cases")) {
    if (c.at("encoding") != name) continue;
    INFO(c.dump());
    // HF matches added tokens whatever add_special_tokens says; neither file adds BOS.
    CHECK(tok.encode(qlite::test::hex_to_bytes(c.at("text_utf8_hex"))) ==
          c.at("expected").at("ids").get<std::vector<std::uint32_t>>());
    ++n;
  }
  CHECK(n == 30);
  if (name == "llama3") {
    for (const nlohmann::json& c : cases.at("lone_surrogates")) {
      std::string text;
      for (const auto& h : c.at("text_codepoints_hex")) {
        const auto cp = static_cast<std::uint32_t>(std::stoul(h.get<std::string>(), nullptr, 16));
        qlite::utf8_append(text, (cp >= 0xD800 && cp < 0xE000) ? 0xFFFDu : cp);
      }
      CHECK(tok.encode(text) == c.at("tokenizers llama3").at("ids").get<std::vector<std::uint32_t>>());
    }
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 100; ++i) {
    const std::string s = qlite::test::random_text(rng, 1 + rng() % 200);
    CHECK(tok.decode(tok.encode(s)) == (nfc ? qlite::nfc(s) : s));
  }
  qlite::test::check_merge_algorithms(tok, name.c_str(), rng);
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("tokenizer.json qwen3: exact ids on the corpus + special cases + round trips") {
    check_model("qwen3");
  }
  TEST_CASE("tokenizer.json llama3: exact ids on the corpus + special cases + round trips") {
    check_model("llama3");
  }
  TEST_CASE("GPT-2 encoder.json + vocab.bpe: the gpt2 ids on the corpus") {
    const qlite::tokenizer tok =
        qlite::load_gpt2_data_gym(qlite::test::shared_data("tokenizer/vocab/gpt2/encoder.json"),
                                  qlite::test::shared_data("tokenizer/vocab/gpt2/vocab.bpe"));
    CHECK(tok.n_vocab() == 50257);
    CHECK(tok.token_id("<|endoftext|>") == 50256);
    // tiktoken semantics: the special text is disallowed by default
    CHECK_THROWS_AS((void)tok.encode("a<|endoftext|>"), qlite::error);
    CHECK(tok.encode("a<|endoftext|>", qlite::special_set::all(), qlite::special_set::none()).back() ==
          50256);
    std::size_t matched = 0;
    for (const std::string& doc : qlite::test::corpus_documents("gpt2")) {
      const std::string text = qlite::detail::read_file(qlite::test::shared_data("tokenizer/corpus/" + doc));
      const auto want = qlite::test::read_u32(
          qlite::test::shared_data("tokenizer/expected/gpt2/" + doc.substr(0, doc.size() - 4) + ".u32"));
      const std::string diff = qlite::test::compare_ids(tok, tok.encode_ordinary(text), want);
      INFO(doc, ": ", diff);
      CHECK(diff.empty());
      if (diff.empty()) ++matched;
    }
    CHECK(matched == 22);
    MESSAGE("gpt2 (encoder.json + vocab.bpe): ", matched, "/22 corpus documents match the reference ids");
  }
}
