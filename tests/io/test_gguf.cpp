// GGUF reader and writer: stories260K's metadata, write → read round trips, writer safety.
#include <qlite/io/gguf.hpp>
#include <qlite/io/llama2c.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "../test_util.hpp"
#include "io_test_util.hpp"

namespace {
template <class Block>
std::vector<Block> ref_blocks(std::span<const float> w, std::size_t rows, std::size_t cols) {
  std::vector<Block> out(rows * qlite::blocks_for<Block>(cols));
  for (std::size_t r = 0; r < rows; ++r) {
    qlite::ref::quantize_row(
        w.subspan(r * cols, cols),
        std::span<Block>(out).subspan(r * qlite::blocks_for<Block>(cols), qlite::blocks_for<Block>(cols)));
  }
  return out;
}
}  // namespace

TEST_SUITE("io.gguf") {
  TEST_CASE("stories260K.gguf: header, metadata and tensor infos as the README lists") {
    const qlite::gguf_file g(qlite::test::shared_data("models/stories260K.gguf"));
    CHECK(g.version() == 3);
    CHECK(g.alignment() == 32);
    CHECK(g.data_offset() == 14176);
    CHECK(g.metadata().size() == 19);
    CHECK(g.tensors().size() == 48);
    CHECK(g.get<std::string>("general.architecture") == "llama");
    CHECK(g.get<std::uint32_t>("llama.context_length") == 2048);
    CHECK(g.get<std::uint32_t>("llama.embedding_length") == 64);
    CHECK(g.get<std::uint32_t>("llama.feed_forward_length") == 172);
    CHECK(g.get<std::uint32_t>("llama.attention.head_count") == 8);
    CHECK(g.get<std::uint32_t>("llama.attention.head_count_kv") == 4);
    CHECK(g.get<std::uint32_t>("llama.block_count") == 5);
    CHECK(g.get<std::uint32_t>("llama.rope.dimension_count") == 8);
    CHECK(g.get<float>("llama.attention.layer_norm_rms_epsilon") == 1e-5f);
    CHECK(g.get<std::string>("tokenizer.ggml.model") == "llama");
    CHECK(g.get<std::uint32_t>("tokenizer.ggml.bos_token_id") == 1);
    CHECK(g.get<std::uint32_t>("tokenizer.ggml.eos_token_id") == 2);
    CHECK(g.get<std::uint32_t>("tokenizer.ggml.unknown_token_id") == 0);
    const auto types = g.get_array<std::int32_t>("tokenizer.ggml.token_type");
    REQUIRE(types.size() == 512);
    CHECK(types[0] == 2);
    CHECK(types[1] == 3);
    CHECK(types[2] == 3);
    CHECK(types[3] == 6);
    CHECK(types[258] == 6);
    CHECK(types[259] == 1);
    CHECK(types[511] == 1);
    // Wrong type requests are errors that name the key.
    const auto msg = qlite::test::error_of([&] { (void)g.get<std::int32_t>("llama.block_count"); });
    CHECK(msg.find("llama.block_count") != std::string::npos);
    CHECK(msg.find("expected type i32, found u32") != std::string::npos);
    CHECK_THROWS_AS((void)g.get<std::string>("no.such.key"), qlite::error);

    const auto& down = g.tensor("blk.0.ffn_down.weight");
    CHECK(down.n_dims == 2);
    CHECK(down.ne[0] == 172);
    CHECK(down.ne[1] == 64);
    CHECK(down.shape() == std::vector<std::size_t>{64, 172});
    CHECK(g.tensor("token_embd.weight").shape() == std::vector<std::size_t>{512, 64});
    CHECK(g.tensor("output_norm.weight").shape() == std::vector<std::size_t>{64});
    for (const auto& t : g.tensors()) {
      CHECK(t.type == qlite::ggml_type::f32);
      CHECK(t.offset % 32 == 0);
    }
  }

  TEST_CASE("write → read: every metadata type, nested arrays, every writable tensor type") {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.f, 0.5f);
    std::vector<float> w(8 * 64);
    for (auto& x : w) x = nd(rng);
    std::vector<float> odd(3 * 5);  // F32 / F16 / BF16 take any row length
    for (auto& x : odd) x = nd(rng);

    qlite::gguf_writer out;
    out.set("u8", std::uint8_t{200});
    out.set("i8", std::int8_t{-100});
    out.set("u16", std::uint16_t{60000});
    out.set("i16", std::int16_t{-30000});
    out.set("u32", std::uint32_t{4000000000u});
    out.set("i32", std::int32_t{-2000000000});
    out.set("f32", 1.25f);
    out.set("bool", true);
    out.set("str", std::string("héllo"));
    out.set("u64", std::uint64_t{1} << 60);
    out.set("i64", -(std::int64_t{1} << 60));
    out.set("f64", 3.141592653589793);
    out.set("floats", qlite::gguf_value::array(std::vector<float>{1.f, -2.f, 3.5f}));
    out.set("strings", qlite::gguf_value::array(std::vector<std::string>{"a", "", "ccc"}));
    qlite::gguf_array nested;
    nested.element_type = qlite::gguf_type::array;
    nested.items.push_back(qlite::gguf_value::array(std::vector<std::int32_t>{1, 2}));
    nested.items.push_back(qlite::gguf_value::array(std::vector<std::int32_t>{}));
    out.set("nested", qlite::gguf_value(nested));
    out.set("u32", std::uint32_t{7});  // replaces, keeps position
    const qlite::ggml_type types[] = {qlite::ggml_type::f32,  qlite::ggml_type::f16,  qlite::ggml_type::bf16,
                                      qlite::ggml_type::q8_0, qlite::ggml_type::q4_0, qlite::ggml_type::q4_1};
    for (auto t : types) out.add_tensor("w." + std::string(qlite::ggml_type_traits(t)->name), {8, 64}, t, w);
    out.add_tensor("odd.f16", {3, 5}, qlite::ggml_type::f16, odd);
    out.add_tensor("odd.bf16", {3, 5}, qlite::ggml_type::bf16, odd);
    out.add_tensor("vec", {64}, qlite::ggml_type::f32, std::span<const float>(w).first(64));
    const auto qk = ref_blocks<qlite::block_q6_k>(std::span<const float>(w).first(512), 2, 256);
    out.add_tensor_bytes("raw.q6_k", {2, 256}, qlite::ggml_type::q6_k, std::as_bytes(std::span(qk)));
    const auto path = qlite::test::temp_path("rt.gguf");
    out.write(path);

    const qlite::gguf_file g(path);
    CHECK(g.version() == 3);
    CHECK(g.metadata().size() == 15);
    CHECK(g.metadata()[4].first == "u32");
    CHECK(g.get<std::uint8_t>("u8") == 200);
    CHECK(g.get<std::int8_t>("i8") == -100);
    CHECK(g.get<std::uint16_t>("u16") == 60000);
    CHECK(g.get<std::int16_t>("i16") == -30000);
    CHECK(g.get<std::uint32_t>("u32") == 7);
    CHECK(g.get<std::int32_t>("i32") == -2000000000);
    CHECK(g.get<float>("f32") == 1.25f);
    CHECK(g.get<bool>("bool"));
    CHECK(g.get<std::string>("str") == "héllo");
    CHECK(g.get<std::uint64_t>("u64") == std::uint64_t{1} << 60);
    CHECK(g.get<std::int64_t>("i64") == -(std::int64_t{1} << 60));
    CHECK(g.get<double>("f64") == 3.141592653589793);
    CHECK(g.get_array<float>("floats") == std::vector<float>{1.f, -2.f, 3.5f});
    CHECK(g.get_array<std::string>("strings") == std::vector<std::string>{"a", "", "ccc"});
    const auto& n = g.get<qlite::gguf_array>("nested");
    REQUIRE(n.items.size() == 2);
    CHECK(n.items[0].get_if<qlite::gguf_array>()->size() == 2);
    CHECK(n.items[0].get_if<qlite::gguf_array>()->scalar<std::int32_t>(1) == 2);
    CHECK(n.items[1].get_if<qlite::gguf_array>()->element_type == qlite::gguf_type::i32);

    REQUIRE(g.tensors().size() == 10);
    // F32 exact; Q blocks byte-identical to the reference quantizer; dequantized = ref dequantized.
    CHECK(std::memcmp(g.f32_view(g.tensor("w.f32")).data(), w.data(), w.size() * 4) == 0);
    auto check_blocks = [&](const char* name, auto tag) {
      using Block = decltype(tag);
      const auto expect = ref_blocks<Block>(w, 8, 64);
      const auto& t = g.tensor(name);
      REQUIRE(t.n_bytes == expect.size() * sizeof(Block));
      CHECK(std::memcmp(g.tensor_data(t).data(), expect.data(), t.n_bytes) == 0);
      std::vector<float> y(w.size());
      qlite::ref::dequantize_row(std::span<const Block>(expect),
                                 std::span<float>(y));  // rows of 64 = 2 blocks: one long row
      CHECK(g.dequantize(t) == y);
    };
    check_blocks("w.q8_0", qlite::block_q8_0{});
    check_blocks("w.q4_0", qlite::block_q4_0{});
    check_blocks("w.q4_1", qlite::block_q4_1{});
    const auto f16 = g.dequantize(g.tensor("w.f16"));
    const auto bf16 = g.dequantize(g.tensor("w.bf16"));
    for (std::size_t i = 0; i < w.size(); ++i) {
      CHECK(f16[i] == qlite::ref::fp16_bits_to_fp32(qlite::ref::fp32_to_fp16_bits(w[i])));
      CHECK(std::fabs(bf16[i] - w[i]) <= std::fabs(w[i]) / 256.f);
    }
    CHECK(g.dequantize(g.tensor("odd.f16")).size() == 15);
    CHECK(g.tensor("odd.bf16").shape() == std::vector<std::size_t>{3, 5});
    CHECK(g.tensor("vec").shape() == std::vector<std::size_t>{64});
    // Pre-encoded Q6_K bytes come back unchanged and dequantize like the ref.
    const auto& q6 = g.tensor("raw.q6_k");
    CHECK(std::memcmp(g.tensor_data(q6).data(), qk.data(), q6.n_bytes) == 0);
    std::vector<float> y6(512);
    qlite::ref::dequantize_row(std::span<const qlite::block_q6_k>(qk), std::span<float>(y6));
    CHECK(g.dequantize(q6) == y6);
    for (const auto& t : g.tensors()) CHECK((g.data_offset() + t.offset) % 32 == 0);
  }

  TEST_CASE("custom alignment is written and honoured") {
    std::vector<float> w(32 * 3, 1.5f);
    qlite::gguf_writer out;
    out.set("general.alignment", std::uint32_t{64});
    out.add_tensor("a", {1, 32}, qlite::ggml_type::q4_0, std::span<const float>(w).first(32));
    out.add_tensor("b", {2, 32}, qlite::ggml_type::f32, std::span<const float>(w).first(64));
    const auto path = qlite::test::temp_path("align.gguf");
    out.write(path);
    const qlite::gguf_file g(path);
    CHECK(g.alignment() == 64);
    CHECK(g.data_offset() % 64 == 0);
    CHECK(g.tensor("b").offset == 64);
    CHECK_THROWS_AS(out.set("general.alignment", std::uint32_t{48}), qlite::error);
  }

  TEST_CASE("stories260K → Q8_0 / Q4_0 GGUF: blocks equal the reference quantizer and read back") {
    const qlite::gguf_file in(qlite::test::shared_data("models/stories260K.gguf"));
    for (auto type : {qlite::ggml_type::q8_0, qlite::ggml_type::q4_0}) {
      qlite::gguf_writer out;
      for (const auto& [k, v] : in.metadata()) out.set(k, v);
      std::size_t quantized = 0;
      for (const auto& t : in.tensors()) {
        const auto shape = t.shape();
        std::vector<std::uint64_t> s(shape.begin(), shape.end());
        // 1-D norms stay F32; rows that are not whole blocks (ffn_down, 172) fall back to F16.
        auto tt = t.n_dims == 1 ? qlite::ggml_type::f32 : t.ne[0] % 32 != 0 ? qlite::ggml_type::f16 : type;
        out.add_tensor(t.name, s, tt, in.f32_view(t));
        quantized += tt == type;
      }
      CHECK(quantized == 2 + 6 * 5);
      const auto path = qlite::test::temp_path("stories.gguf");
      out.write(path);
      const qlite::gguf_file g(path);
      CHECK(g.metadata().size() == in.metadata().size());
      CHECK(g.get_array<std::string>("tokenizer.ggml.tokens") ==
            in.get_array<std::string>("tokenizer.ggml.tokens"));
      for (const auto& t : g.tensors()) {
        CAPTURE(t.name);
        const auto& src = in.tensor(t.name);
        const auto w = in.f32_view(src);
        const auto rows = static_cast<std::size_t>(src.n_rows()), cols = static_cast<std::size_t>(src.ne[0]);
        if (t.type == qlite::ggml_type::q8_0) {
          const auto b = ref_blocks<qlite::block_q8_0>(w, rows, cols);
          CHECK(std::memcmp(g.tensor_data(t).data(), b.data(), t.n_bytes) == 0);
        } else if (t.type == qlite::ggml_type::q4_0) {
          const auto b = ref_blocks<qlite::block_q4_0>(w, rows, cols);
          CHECK(std::memcmp(g.tensor_data(t).data(), b.data(), t.n_bytes) == 0);
        } else if (t.type == qlite::ggml_type::f32) {
          CHECK(std::memcmp(g.tensor_data(t).data(), w.data(), t.n_bytes) == 0);
        }
        // Reading back gives the dequantized weights, close to the originals.
        const auto y = g.dequantize(t);
        double s = 0, e = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
          s += double(w[i]) * w[i];
          e += (double(w[i]) - y[i]) * (double(w[i]) - y[i]);
        }
        CHECK(e <= s * (type == qlite::ggml_type::q8_0 ? 1e-4 : 2e-2));
      }
    }
  }

  TEST_CASE("writer validation and safety") {
    std::vector<float> w(64, 1.f);
    qlite::gguf_writer out;
    CHECK_THROWS_AS(out.add_tensor("x", {2, 30}, qlite::ggml_type::q8_0, std::span<const float>(w).first(60)),
                    qlite::error);
    CHECK_THROWS_AS(out.add_tensor("x", {2, 32}, qlite::ggml_type::f32, std::span<const float>(w).first(60)),
                    qlite::error);
    CHECK_THROWS_AS(out.add_tensor(std::string(64, 'n'), {64}, qlite::ggml_type::f32, w), qlite::error);
    CHECK_THROWS_AS(out.add_tensor("x", {64}, qlite::ggml_type::q4_k, w), qlite::error);
    out.add_tensor("x", {64}, qlite::ggml_type::f32, w);
    CHECK_THROWS_AS(out.add_tensor("x", {64}, qlite::ggml_type::f32, w), qlite::error);
    CHECK_THROWS_AS(out.add_tensor_bytes("y", {32}, qlite::ggml_type::q8_0, std::as_bytes(std::span(w))),
                    qlite::error);
    // A mixed-type array is refused at write time, leaving no file behind.
    qlite::gguf_array bad;
    bad.element_type = qlite::gguf_type::u8;
    bad.items.emplace_back(std::string("not a u8"));
    out.set("bad", qlite::gguf_value(bad));
    const auto dir = qlite::test::temp_dir() / "safety";
    std::filesystem::create_directories(dir);
    CHECK_THROWS_AS(out.write((dir / "x.gguf").string()), qlite::error);
    CHECK(qlite::test::count_files(dir) == 0);

    // Refuse to overwrite a mapped input; the input stays intact.
    qlite::gguf_writer ok;
    ok.add_tensor("x", {64}, qlite::ggml_type::f32, w);
    const auto in_path = (dir / "in.gguf").string();
    ok.write(in_path);
    const auto before = qlite::test::read_bytes(in_path);
    {
      const qlite::gguf_file in(in_path);
      const auto msg = qlite::test::error_of([&] { ok.write(in_path); });
      CHECK(msg.find("refusing to overwrite") != std::string::npos);
    }
    CHECK(qlite::test::read_bytes(in_path) == before);
    CHECK(qlite::test::count_files(dir) == 1);
    // Once the input is closed, overwriting is allowed (unless overwrite = false).
    CHECK_THROWS_AS(ok.write(in_path, {.overwrite = false}), qlite::error);
    ok.write(in_path);
    // A destination in a missing directory fails cleanly.
    CHECK_THROWS_AS(ok.write((dir / "missing" / "x.gguf").string()), qlite::error);
    CHECK(qlite::test::count_files(dir) == 1);
  }

  TEST_CASE("atomic_file: an exception before commit leaves the old file untouched and no temporary") {
    const auto dir = qlite::test::temp_dir() / "atomic";
    std::filesystem::create_directories(dir);
    const auto path = (dir / "f.bin").string();
    qlite::test::write_bytes(path, {std::byte{1}, std::byte{2}});
    try {
      qlite::atomic_file f(path);
      f.write("hello", 5);
      CHECK(qlite::test::count_files(dir) == 2);  // the temporary exists while writing
      throw std::runtime_error("simulated failure");
    } catch (const std::runtime_error&) {
    }
    CHECK(qlite::test::count_files(dir) == 1);
    CHECK(qlite::test::read_bytes(path) == std::vector<std::byte>{std::byte{1}, std::byte{2}});
    {
      qlite::atomic_file f(path);
      f.write("hello", 5);
      f.pad_to(8);
      f.commit();
    }
    CHECK(qlite::test::read_bytes(path).size() == 8);
    CHECK(qlite::test::count_files(dir) == 1);
  }

}  // TEST_SUITE
