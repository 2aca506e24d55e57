// llama2.c checkpoints and tokenizer.bin, checked against stories260K's three files.
#include <qlite/io/gguf.hpp>
#include <qlite/io/llama2c.hpp>

#include <cstring>
#include <string>

#include "../test_util.hpp"
#include "io_test_util.hpp"

TEST_SUITE("io.llama2c") {
  TEST_CASE("legacy and v1 headers give stories260K's config") {
    const qlite::llama2c_checkpoint legacy(qlite::test::shared_data("models/stories260K.bin"));
    const qlite::llama2c_checkpoint v1(qlite::test::shared_data("models/stories260K_v1.bin"));
    for (const auto* ck : {&legacy, &v1}) {
      const auto& c = ck->config();
      CHECK(c.dim == 64);
      CHECK(c.hidden_dim == 172);
      CHECK(c.n_layers == 5);
      CHECK(c.n_heads == 8);
      CHECK(c.n_kv_heads == 4);
      CHECK(c.vocab_size == 512);
      CHECK(c.seq_len == 512);
      CHECK(c.shared_classifier);
      CHECK(c.head_size() == 8);
      CHECK(c.kv_dim() == 32);
      CHECK(ck->tensors().size() == 2 + 9 * 5);  // tied: no output.weight
      CHECK(ck->find("output.weight") == nullptr);
    }
    CHECK(legacy.config().version == 0);
    CHECK(v1.config().version == 1);
    const auto& w2 = legacy.at("blk.3.ffn_down.weight");
    CHECK(w2.shape == std::vector<std::size_t>{64, 172});
    CHECK(legacy.at("blk.0.attn_k.weight").shape == std::vector<std::size_t>{32, 64});
    CHECK(legacy.at("token_embd.weight").file_offset == 28);
    CHECK(v1.at("blk.0.attn_norm.weight").file_offset == 256);
    CHECK_THROWS_AS((void)legacy.at("nope"), qlite::error);
  }

  TEST_CASE("legacy .bin, v1 .bin and .gguf hold bit-identical weights for every tensor") {
    const qlite::llama2c_checkpoint legacy(qlite::test::shared_data("models/stories260K.bin"));
    const qlite::llama2c_checkpoint v1(qlite::test::shared_data("models/stories260K_v1.bin"));
    const qlite::gguf_file gguf(qlite::test::shared_data("models/stories260K.gguf"));
    std::size_t compared = 0;
    for (const auto& t : legacy.tensors()) {
      CAPTURE(t.name);
      const auto& u = v1.at(t.name);
      REQUIRE(u.shape == t.shape);
      REQUIRE(u.data.size() == t.data.size());
      CHECK(std::memcmp(u.data.data(), t.data.data(), t.data.size_bytes()) == 0);
      const auto& g = gguf.tensor(t.name);
      REQUIRE(g.type == qlite::ggml_type::f32);
      REQUIRE(g.shape() == t.shape);
      const auto gv = gguf.f32_view(g);
      CHECK(std::memcmp(gv.data(), t.data.data(), t.data.size_bytes()) == 0);
      // Also through the generic conversion path.
      const auto gd = gguf.dequantize(g);
      CHECK(std::memcmp(gd.data(), t.data.data(), t.data.size_bytes()) == 0);
      ++compared;
    }
    CHECK(compared == 47);
    // GGUF's untied-looking output.weight is a copy of the embedding.
    const auto out = gguf.f32_view(gguf.tensor("output.weight"));
    const auto& emb = legacy.at("token_embd.weight");
    CHECK(std::memcmp(out.data(), emb.data.data(), emb.data.size_bytes()) == 0);
  }

  TEST_CASE("tok512.bin: pieces, scores, max_token_length - and equal to the GGUF vocabulary") {
    const auto tok = qlite::read_llama2c_tokenizer(qlite::test::shared_data("models/tok512.bin"), 512);
    CHECK(tok.max_token_length == 7);
    REQUIRE(tok.pieces.size() == 512);
    CHECK(tok.pieces[0] == "<unk>");
    CHECK(tok.pieces[3] == "<0x00>");
    CHECK(tok.pieces[258] == "<0xFF>");
    CHECK(tok.pieces[410] == " ");
    CHECK(tok.scores[259] == 0.f);
    CHECK(tok.scores[260] == -1.f);
    CHECK(tok.scores[511] == -252.f);
    std::size_t longest = 0;
    for (const auto& p : tok.pieces) longest = std::max(longest, p.size());
    CHECK(longest <= 7);
    // Without a vocab size the reader reads to the end and finds the same table.
    const auto all = qlite::read_llama2c_tokenizer(qlite::test::shared_data("models/tok512.bin"));
    CHECK(all.pieces == tok.pieces);
    CHECK(all.scores == tok.scores);

    const qlite::gguf_file gguf(qlite::test::shared_data("models/stories260K.gguf"));
    const auto tokens = gguf.get_array<std::string>("tokenizer.ggml.tokens");
    const auto scores = gguf.get_array<float>("tokenizer.ggml.scores");
    REQUIRE(tokens.size() == 512);
    REQUIRE(scores.size() == 512);
    for (std::size_t i = 0; i < 512; ++i) {
      CAPTURE(i);
      // GGUF (SentencePiece convention) writes a space as U+2581 "▁"; tokenizer.bin uses 0x20.
      std::string g;
      for (std::size_t k = 0; k < tokens[i].size(); ++k) {
        if (tokens[i].compare(k, 3, "\xe2\x96\x81") == 0) {
          g.push_back(' ');
          k += 2;
        } else {
          g.push_back(tokens[i][k]);
        }
      }
      if (i != 1 && i != 2) CHECK(g == tok.pieces[i]);
      CHECK(scores[i] == tok.scores[i]);
    }
    CHECK(tokens[1] == "<s>");
    CHECK(tok.pieces[1] == "\n<s>\n");
  }

  TEST_CASE("untied classifier (negative vocab_size) and v1 with shared_classifier = 0") {
    // Build a tiny legacy checkpoint: D=8 H=4 L=1 heads=2 kv=1 V=-3 S=2.
    const std::int32_t hdr[7] = {8, 4, 1, 2, 1, -3, 2};
    const std::size_t D = 8, H = 4, V = 3, S = 2, hs = 4, KV = 4;
    const std::size_t floats =
        V * D + D + D * D + 2 * KV * D + D * D + D + 3 * H * D + D + 2 * S * hs / 2 + V * D;
    std::vector<std::byte> b(28 + 4 * floats);
    std::memcpy(b.data(), hdr, 28);
    for (std::size_t i = 0; i < floats; ++i) qlite::test::poke<float>(b, 28 + 4 * i, static_cast<float>(i));
    const auto path = qlite::test::temp_path("untied.bin");
    qlite::test::write_bytes(path, b);
    const qlite::llama2c_checkpoint ck(path);
    CHECK_FALSE(ck.config().shared_classifier);
    CHECK(ck.config().vocab_size == 3);
    const auto& out = ck.at("output.weight");
    CHECK(out.shape == std::vector<std::size_t>{3, 8});
    CHECK(out.data[0] == static_cast<float>(floats - V * D));
    CHECK(ck.at("blk.0.ffn_down.weight").shape == std::vector<std::size_t>{8, 4});
  }

}  // TEST_SUITE
