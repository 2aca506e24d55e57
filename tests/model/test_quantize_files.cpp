// qlite-quantize's engine (model/export.hpp) and the quantized safetensors convention
// (io/quantized_safetensors.hpp): ggml-exact GGUF bytes, llama.cpp's metadata, lossless
// safetensors round trips that run bitwise like the original, and bad files.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <qlite/io/gguf.hpp>
#include <qlite/io/quantized_safetensors.hpp>
#include <qlite/model/checkpoint.hpp>
#include <qlite/model/export.hpp>
#include <qlite/model/llama.hpp>

#include "../io/io_test_util.hpp"
#include "../test_util.hpp"

namespace quantize_files_test {

std::string data(const char* rel) { return qlite::test::shared_data(std::string("models/") + rel); }

template <class Block>
std::vector<std::byte> reference_blocks(const qlite::model_tensor& t) {
  const std::size_t per_row = t.cols() / qlite::block_traits<Block>::block_size;
  std::vector<Block> b(t.rows() * per_row);
  for (std::size_t r = 0; r < t.rows(); ++r)
    qlite::ref::quantize_row(t.values.subspan(r * t.cols(), t.cols()),
                             std::span<Block>(b.data() + r * per_row, per_row));
  const auto bytes = std::as_bytes(std::span<const Block>(b));
  return {bytes.begin(), bytes.end()};
}

template <class Block>
std::vector<float> dequantized(std::span<const std::byte> bytes, std::size_t n) {
  std::vector<Block> b(bytes.size() / sizeof(Block));
  std::memcpy(b.data(), bytes.data(), bytes.size());
  std::vector<float> out(n);
  qlite::ref::dequantize_row(std::span<const Block>(b), std::span<float>(out));
  return out;
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

bool same_value(const qlite::gguf_value& a, const qlite::gguf_value& b) {
  if (a.type() != b.type()) return false;
  if (const auto* x = a.get_if<qlite::gguf_array>()) {
    const auto* y = b.get_if<qlite::gguf_array>();
    if (x->element_type != y->element_type || x->packed != y->packed || x->items.size() != y->items.size())
      return false;
    for (std::size_t i = 0; i < x->items.size(); ++i)
      if (!same_value(x->items[i], y->items[i])) return false;
    return true;
  }
  return std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, qlite::gguf_array>)
          return false;
        else
          return v == *b.get_if<T>();
      },
      a.get());
}

bool same_quantized(const qlite::quantized_tensor& a, const qlite::quantized_tensor& b) {
  return a.rows == b.rows && a.cols == b.cols && a.bits == b.bits && a.scheme == b.scheme &&
         a.granularity == b.granularity && a.group_size == b.group_size && a.codes.size() == b.codes.size() &&
         std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()) == 0 && same_bits(a.scales, b.scales) &&
         a.zero_points == b.zero_points;
}

std::vector<float> logits_of(const qlite::checkpoint& ck, const qlite::precision_policy& p) {
  const qlite::llama_model m(ck, p);
  auto cache = m.make_cache();
  const std::vector<std::uint32_t> tokens = {1, 410, 259, 300, 17, 42, 511, 3, 260, 261};
  std::vector<float> logits(tokens.size() * ck.config.vocab_size);
  m.forward(tokens, cache, qlite::matrix_view<float>(logits.data(), tokens.size(), ck.config.vocab_size));
  return logits;
}

std::string replace_once(std::vector<std::byte>& file, const std::string& from, const std::string& to) {
  REQUIRE(from.size() == to.size());
  std::string s(reinterpret_cast<const char*>(file.data()), file.size());
  const std::size_t at = s.find(from);
  REQUIRE(at != std::string::npos);
  std::memcpy(file.data() + at, to.data(), to.size());
  return s;
}

// (the tests below stay in this namespace: test_model builds its files as one unity TU)

TEST_SUITE("quantize_files") {
  TEST_CASE("Q8_0 and Q4_0 GGUF files hold ggml's reference bytes; ffn_down falls back to F16") {
    const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.bin"));
    for (const char* type : {"q8_0", "q4_0"}) {
      CAPTURE(type);
      const std::string out = qlite::test::temp_path(std::string("s-") + type + ".gguf");
      qlite::export_options o;
      o.policy = type;
      o.tokenizer = data("tok512.bin");
      const qlite::export_report r = qlite::export_checkpoint(src, out, o);
      CHECK(r.file_type == (std::string(type) == "q8_0" ? 7u : 2u));
      CHECK(r.count_by_type().at(type) == 30);
      CHECK(r.count_by_type().at("f16") == 5);
      CHECK(r.output_bytes == std::filesystem::file_size(out));

      const qlite::gguf_file g(out);
      CHECK(g.find_tensor("output.weight") == nullptr);  // tied: llama.cpp uses token_embd
      const qlite::checkpoint back = qlite::load_checkpoint(out);
      CHECK(back.config.tied_classifier);
      CHECK(back.tensors.size() == src.tensors.size());
      for (const qlite::model_tensor& t : src.tensors) {
        CAPTURE(t.name);
        const qlite::gguf_tensor_info& info = g.tensor(t.name);
        const auto bytes = g.tensor_data(info);
        const qlite::model_tensor& b = back.at(t.name);
        if (t.shape.size() == 1 || t.name == "token_embd.weight") {
          CHECK(info.type == qlite::ggml_type::f32);
          CHECK(same_bits(b.values, t.values));
        } else if (t.name.ends_with("ffn_down.weight")) {
          CHECK(info.type == qlite::ggml_type::f16);
          for (std::size_t i = 0; i < t.values.size(); ++i)
            REQUIRE(b.values[i] == qlite::ref::fp16_bits_to_fp32(qlite::ref::fp32_to_fp16_bits(t.values[i])));
        } else if (std::string(type) == "q8_0") {
          CHECK(info.type == qlite::ggml_type::q8_0);
          const auto want = reference_blocks<qlite::block_q8_0>(t);
          REQUIRE(bytes.size() == want.size());
          CHECK(std::memcmp(bytes.data(), want.data(), want.size()) == 0);
          CHECK(same_bits(b.values, dequantized<qlite::block_q8_0>(want, t.values.size())));
          CHECK(b.blocks == want);
        } else {
          CHECK(info.type == qlite::ggml_type::q4_0);
          const auto want = reference_blocks<qlite::block_q4_0>(t);
          REQUIRE(bytes.size() == want.size());
          CHECK(std::memcmp(bytes.data(), want.data(), want.size()) == 0);
          CHECK(same_bits(b.values, dequantized<qlite::block_q4_0>(want, t.values.size())));
        }
      }
      // Running the file = running the original with the same policy.
      const auto p = qlite::precision_policy::parse(type);
      CHECK(logits_of(back, p) == logits_of(src, p));
    }
  }

  TEST_CASE("Q4_1 is a GGUF storage too; re-exporting blocks copies them") {
    const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.gguf"));
    const std::string q41 = qlite::test::temp_path("s-q4_1.gguf");
    qlite::export_options o;
    o.policy = "q4_1,token_embd.weight=q8_0";
    const auto r = qlite::export_checkpoint(src, q41, o);
    CHECK(r.file_type == 3);
    const qlite::gguf_file g(q41);
    CHECK(g.tensor("blk.2.attn_q.weight").type == qlite::ggml_type::q4_1);
    CHECK(g.tensor("token_embd.weight").type == qlite::ggml_type::q8_0);
    CHECK(g.tensor("output.weight").type == qlite::ggml_type::f32);  // untied input keeps its classifier
    const auto want = reference_blocks<qlite::block_q4_1>(src.at("blk.2.attn_q.weight"));
    const auto got = g.tensor_data(g.tensor("blk.2.attn_q.weight"));
    CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);

    // A Q8_0 input exported to Q8_0 keeps its blocks byte for byte.
    const qlite::checkpoint mid = qlite::load_checkpoint(q41);
    const std::string again = qlite::test::temp_path("again.safetensors");
    o.policy = "f32,token_embd.weight=q8_0";
    qlite::export_checkpoint(mid, again, o);
    const qlite::checkpoint a = qlite::load_checkpoint(again);
    CHECK(a.at("token_embd.weight").encoding == "q8_0");
    CHECK(a.at("token_embd.weight").blocks == mid.at("token_embd.weight").blocks);
  }

  TEST_CASE("GGUF metadata equals what llama.cpp's llama2c converter wrote") {
    const qlite::gguf_file ref(data("stories260K.gguf"));
    // From the llama2.c checkpoint + tokenizer.bin: every key both files have is equal, except
    // general.name (the converter wrote "llama"; qlite the file name) and
    // llama.context_length (the converter wrote its default 2048; qlite the checkpoint's 512).
    {
      const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.bin"));
      const std::string out = qlite::test::temp_path("meta.gguf");
      qlite::export_options o;
      o.tokenizer = data("tok512.bin");
      qlite::export_checkpoint(src, out, o);
      const qlite::gguf_file g(out);
      std::size_t compared = 0;
      for (const auto& [key, value] : ref.metadata()) {
        CAPTURE(key);
        const qlite::gguf_value* mine = g.find(key);
        if (mine == nullptr) {
          // Only the converter's "none" ids (0xFFFFFFFF) are left out.
          CHECK((key == "tokenizer.ggml.seperator_token_id" || key == "tokenizer.ggml.padding_token_id"));
          continue;
        }
        if (key == "general.name" || key == "llama.context_length") continue;
        CHECK(same_value(*mine, value));
        ++compared;
      }
      CHECK(compared == 15);
      CHECK(*g.find("llama.context_length")->get_if<std::uint32_t>() == 512);
      CHECK(*g.find("general.file_type")->get_if<std::uint32_t>() == 0);
      CHECK(*g.find("llama.rope.freq_base")->get_if<float>() == 10000.0f);
    }
    // From the GGUF itself: every key of the reference survives unchanged.
    {
      const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.gguf"));
      const std::string out = qlite::test::temp_path("meta2.gguf");
      qlite::export_checkpoint(src, out, {});
      const qlite::gguf_file g(out);
      for (const auto& [key, value] : ref.metadata()) {
        CAPTURE(key);
        REQUIRE(g.find(key) != nullptr);
        CHECK(same_value(*g.find(key), value));
      }
      // F32 → F32: the tensors are the reference's bytes.
      for (const auto& info : ref.tensors())
        CHECK(std::memcmp(g.tensor_data(g.tensor(info.name)).data(), ref.tensor_data(info).data(),
                          info.n_bytes) == 0);
    }
  }

  TEST_CASE("safetensors round trips run bitwise like the original") {
    const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.bin"));
    for (const char* f : {"int8", "int4_g32", "int4a_g128", "q4_0", "bf16", "int4a_g32@a8"}) {
      CAPTURE(f);
      const std::string out = qlite::test::temp_path(std::string("rt-") + f + ".safetensors");
      qlite::export_options o;
      o.policy = f;
      qlite::export_checkpoint(src, out, o);
      const qlite::checkpoint back = qlite::load_checkpoint(out);
      CHECK(back.format == "safetensors");
      CHECK(back.tensors.size() == src.tensors.size());  // components are not tensors
      const auto fmt = qlite::linear_format::parse(f);
      for (const auto& [name, shape] : qlite::checkpoint::expected_tensors(src.config)) {
        if (!qlite::precision_policy::is_block_linear(name)) continue;
        CAPTURE(name);
        const qlite::model_tensor& t = src.at(name);
        const qlite::model_tensor& b = back.at(name);
        const bool fallback = t.cols() % fmt.k_multiple() != 0;
        if (fallback) {
          CHECK(b.encoding == "f16");
        } else if (fmt.storage == "q4_0") {
          CHECK(b.encoding == "q4_0");
          CHECK(b.blocks == reference_blocks<qlite::block_q4_0>(t));
        } else if (fmt.storage == "bf16") {
          CHECK(b.encoding == "bf16");
          for (std::size_t i = 0; i < t.values.size(); ++i)
            REQUIRE(b.values[i] == qlite::ref::bf16_bits_to_fp32(qlite::ref::fp32_to_bf16_bits(t.values[i])));
        } else {
          CHECK(b.encoding == fmt.storage);
          REQUIRE(b.quantized);
          const auto want =
              qlite::find_scheme(fmt.storage)
                  .quantize(qlite::matrix_view<const float>(t.values.data(), t.rows(), t.cols()));
          CHECK(same_quantized(*b.quantized, want));
          std::vector<float> deq(t.values.size());
          qlite::dequantize(want, qlite::matrix_view<float>(deq.data(), t.rows(), t.cols()));
          CHECK(same_bits(b.values, deq));
        }
      }
      const auto p = qlite::precision_policy::parse(f);
      CHECK(logits_of(back, p) == logits_of(src, p));
    }
  }

  TEST_CASE("every named qlite scheme survives add_quantized / read_quantized, tail groups included") {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    const std::size_t rows = 5, cols = 300;
    std::vector<float> w(rows * cols);
    for (float& x : w) x = nd(rng);
    std::deque<qlite::quantized_tensor> keep;
    qlite::safetensors_writer out;
    std::vector<std::string> names;
    for (const qlite::named_scheme& s : qlite::named_schemes()) {
      if (!s.quantize) continue;
      keep.push_back(s.quantize(qlite::matrix_view<const float>(w.data(), rows, cols)));
      CHECK(qlite::scheme_name_of(keep.back()) == s.name);
      qlite::add_quantized(out, std::string(s.name) + ".weight", keep.back());
      names.emplace_back(s.name);
    }
    const std::string path = qlite::test::temp_path("all.safetensors");
    out.write(path);
    const qlite::safetensors_file f(path);
    const auto entries = qlite::find_quantized_entries(f);
    REQUIRE(entries.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      const auto& e = entries[i];  // metadata is a sorted map: find by name
      CAPTURE(e.name);
      const std::string scheme = e.name.substr(0, e.name.size() - 7);
      const auto it = std::find(names.begin(), names.end(), scheme);
      REQUIRE(it != names.end());
      CHECK(same_quantized(qlite::read_quantized(f, e), keep[static_cast<std::size_t>(it - names.begin())]));
    }
  }

  TEST_CASE("bad quantized safetensors are clear errors") {
    const qlite::checkpoint src = qlite::load_checkpoint(data("stories260K.bin"));
    const std::string good = qlite::test::temp_path("good.safetensors");
    qlite::export_options o;
    o.policy = "int4a_g32,blk.0.attn_q.weight=q8_0";
    qlite::export_checkpoint(src, good, o);
    const std::vector<std::byte> bytes = qlite::test::read_bytes(good);
    auto load_edited = [&](const std::string& from, const std::string& to) {
      std::vector<std::byte> b = bytes;
      replace_once(b, from, to);
      const std::string p = qlite::test::temp_path("bad.safetensors");
      qlite::test::write_bytes(p, b);
      return qlite::test::error_of([&] { (void)qlite::load_checkpoint(p); });
    };
    const std::string key = "blk.1.attn_k.weight";
    std::string m;
    m = load_edited(R"(\"bits\":4)", R"(\"bits\":5)");
    CHECK_MESSAGE(m.find("bits: expected 4") != std::string::npos, m);
    m = load_edited(R"(\"scheme\":\"int4a_g32)", R"(\"scheme\":\"int4x_g32)");
    CHECK(m.find("expected a named qlite scheme, found 'int4x_g32'") != std::string::npos);
    m = load_edited(R"(\"group_size\":32)", R"(\"group_size\":64)");
    CHECK(m.find("group_size: expected 32, found 64") != std::string::npos);
    m = load_edited(R"(\"rows\":32)", R"(\"rows\":31)");
    CHECK(m.find(".codes.shape: expected [31, 32], found [32, 32]") != std::string::npos);
    m = load_edited(R"({\"ggml_type\":\"q8_0\")", R"({\"ggml_type\":\"q8_1\")");
    CHECK(m.find("ggml_type: expected q8_0, q4_0 or q4_1, found 'q8_1'") != std::string::npos);
    m = load_edited(R"(\"cols\":64})", R"(\"cols\":64,)");  // broken JSON
    CHECK(m.find("__metadata__: expected a JSON object") != std::string::npos);
    m = load_edited(R"("{\"scheme\")", R"("[\"scheme\")");  // no longer a description
    CHECK(m.find("a component tensor that no __metadata__ entry describes") != std::string::npos);
    m = load_edited(R"(\"scheme_id\")", R"(\"schemeXid\")");
    CHECK(m.find("unexpected field 'schemeXid'") != std::string::npos);
    m = load_edited(key + ".zero_points", key + ".zero_pointz");
    CHECK(m.find("zero_points: expected a component tensor, found none") != std::string::npos);
    for (const std::string& s : {m}) CHECK(s.find(key) != std::string::npos);  // names the tensor

    // Data: a NaN scale, a zero point beyond 4 bits.
    const qlite::safetensors_file f(good);
    const auto& sc = f.tensor(key + ".scales");
    const auto& zp = f.tensor(key + ".zero_points");
    {
      std::vector<std::byte> b = bytes;
      qlite::test::poke(b, static_cast<std::size_t>(f.data_offset() + sc.begin), std::nanf(""));
      const std::string p = qlite::test::temp_path("nan.safetensors");
      qlite::test::write_bytes(p, b);
      m = qlite::test::error_of([&] { (void)qlite::load_checkpoint(p); });
      CHECK(m.find(key + ".scales: expected finite scales") != std::string::npos);
    }
    {
      std::vector<std::byte> b = bytes;
      qlite::test::poke(b, static_cast<std::size_t>(f.data_offset() + zp.begin + 3), std::uint8_t{16});
      const std::string p = qlite::test::temp_path("zp.safetensors");
      qlite::test::write_bytes(p, b);
      m = qlite::test::error_of([&] { (void)qlite::load_checkpoint(p); });
      CHECK(m.find("expected values below 2^4, found 16 at 3") != std::string::npos);
    }
    // Truncated anywhere: a clear qlite::error, never a crash.
    for (std::size_t n :
         {std::size_t{0}, std::size_t{7}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
      std::vector<std::byte> b(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      const std::string p = qlite::test::temp_path("trunc.safetensors");
      qlite::test::write_bytes(p, b);
      CHECK_THROWS_AS((void)qlite::load_checkpoint(p), qlite::error);
    }
    // Every single bit flip of the header is either harmless or a qlite::error.
    const std::uint64_t header = qlite::test::peek<std::uint64_t>(bytes, 0);
    std::mt19937 rng(1);
    for (int k = 0; k < 200; ++k) {
      std::vector<std::byte> b = bytes;
      const std::size_t at = 8 + rng() % header;
      b[at] ^= static_cast<std::byte>(1u << (rng() % 8));
      const std::string p = qlite::test::temp_path("flip.safetensors");
      qlite::test::write_bytes(p, b);
      try {
        (void)qlite::load_checkpoint(p);
      } catch (const qlite::error&) {
      }
      std::filesystem::remove(p);
    }
  }

  TEST_CASE("refusals: existing output, the input itself, GGUF with qlite formats, bad extensions") {
    const std::filesystem::path dir = qlite::test::temp_dir() / "refuse";
    std::filesystem::create_directories(dir);
    const std::string in_copy = (dir / "in.bin").string();
    std::filesystem::copy_file(data("stories260K.bin"), in_copy);
    const qlite::checkpoint src = qlite::load_checkpoint(in_copy);
    const std::string out = (dir / "out.gguf").string();
    qlite::export_checkpoint(src, out, {});
    const auto before = qlite::test::read_bytes(out);
    qlite::export_options o;
    o.policy = "q8_0";
    std::string m = qlite::test::error_of([&] { qlite::export_checkpoint(src, out, o); });
    CHECK(m.find("exists") != std::string::npos);
    CHECK(qlite::test::read_bytes(out) == before);
    o.overwrite = true;
    qlite::export_checkpoint(src, out, o);  // --force replaces it
    CHECK(qlite::load_checkpoint(out).at("blk.0.attn_q.weight").encoding == "q8_0");
    // Never the input, even with overwrite (the checkpoint maps it; also through another name).
    const std::string in_gguf = out;
    const qlite::checkpoint g = qlite::load_checkpoint(in_gguf);
    m = qlite::test::error_of([&] { qlite::export_checkpoint(g, in_gguf, o); });
    CHECK(m.find("refusing to overwrite") != std::string::npos);
    // Refused storages and containers write nothing.
    o.policy = "int4_g32";
    m = qlite::test::error_of([&] { qlite::export_checkpoint(src, (dir / "x.gguf").string(), o); });
    CHECK(m.find("int4_g32 is a qlite format, not a GGUF type") != std::string::npos);
    o.policy = "q4_0";
    m = qlite::test::error_of([&] { qlite::export_checkpoint(src, (dir / "x.bin").string(), o); });
    CHECK(m.find("must be .gguf or .safetensors") != std::string::npos);
    o.policy = "sim:q4_0";
    m = qlite::test::error_of([&] { qlite::export_checkpoint(src, (dir / "x.gguf").string(), o); });
    CHECK(m.find("simulates") != std::string::npos);
    o.policy = "q4_0,blk.*";
    CHECK_THROWS_AS(qlite::export_checkpoint(src, (dir / "x.gguf").string(), o), qlite::error);
    CHECK(qlite::test::count_files(dir) == 2);  // in.bin, out.gguf: no partial files
    // @a8 is a run-time mode: stored as the storage, with a notice.
    o.policy = "q8_0@a8";
    const auto r = qlite::export_checkpoint(src, (dir / "a8.gguf").string(), o);
    CHECK(r.notices.front().find("run-time activation mode") != std::string::npos);
  }
}

}  // namespace quantize_files_test
