// Hugging Face tokenizer.json (Qwen3, Llama 3) and GPT-2's encoder.json + vocab.bpe: exact
// ids on the shared corpus.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include <qlite/tokenizer/tokenizer_json.hpp>

#include "tok_test_util.hpp"

namespace {

const qlite::tokenizer& hf(const std::string& name) {
  static std::map<std::string, std::unique_ptr<qlite::tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot)
    slot = std::make_unique<qlite::tokenizer>(
        qlite::load_tokenizer_json(qlite::test::shared_data("tokenizer/vocab/" + name + "/tokenizer.json")));
  return *slot;
}

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
    CHECK(tok.decode(got) == (nfc ? qlite::nfc(text) : text));
  }
  MESSAGE(encoding, ": ", matched, "/", docs.size(), " corpus documents match the reference ids");
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("tokenizer.json qwen3: exact ids on the corpus") { check_corpus(hf("qwen3"), "qwen3", true); }
  TEST_CASE("tokenizer.json llama3: exact ids on the corpus") { check_corpus(hf("llama3"), "llama3", false); }
  TEST_CASE("GPT-2 encoder.json + vocab.bpe: the gpt2 ids on the corpus") {
    const qlite::tokenizer tok =
        qlite::load_gpt2_data_gym(qlite::test::shared_data("tokenizer/vocab/gpt2/encoder.json"),
                                  qlite::test::shared_data("tokenizer/vocab/gpt2/vocab.bpe"));
    CHECK(tok.n_vocab() == 50257);
    CHECK(tok.token_id("<|endoftext|>") == 50256);
    check_corpus(tok, "gpt2", false);
  }
}
