// tiktoken rank files and the named encodings: exact ids on the shared corpus, special-token
// semantics, malformed files.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <qlite/tokenizer/tiktoken.hpp>

#include "tok_test_util.hpp"

namespace {

void check_corpus(const std::string& encoding) {
  const qlite::tokenizer& tok = qlite::test::tiktoken_encoding(encoding);
  const auto docs = qlite::test::corpus_documents(encoding);
  REQUIRE(docs.size() == 22);
  std::size_t matched = 0;
  for (const std::string& doc : docs) {
    const std::string text = qlite::detail::read_file(qlite::test::shared_data("tokenizer/corpus/" + doc));
    const auto want = qlite::test::read_u32(qlite::test::shared_data("tokenizer/expected/" + encoding + "/" +
                                                                     doc.substr(0, doc.size() - 4) + ".u32"));
    const auto got = tok.encode_ordinary(text);
    const std::string diff = qlite::test::compare_ids(tok, got, want);
    INFO(encoding, " ", doc, ": ", diff);
    CHECK(diff.empty());
    if (diff.empty()) ++matched;
    CHECK(tok.count(text, true) == want.size());
    CHECK(tok.decode(got) == text);
  }
  MESSAGE(encoding, ": ", matched, "/", docs.size(), " corpus documents match the reference ids");
}

}  // namespace

TEST_SUITE("tokenizer") {
  TEST_CASE("tiktoken gpt2: exact ids on the corpus") { check_corpus("gpt2"); }
  TEST_CASE("tiktoken cl100k_base: exact ids on the corpus") { check_corpus("cl100k_base"); }
  TEST_CASE("tiktoken o200k_base: exact ids on the corpus") { check_corpus("o200k_base"); }
}
