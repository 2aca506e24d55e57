// safetensors reader and writer: round trips of every dtype and metadata; layout rules.
#include <qlite/io/llama2c.hpp>
#include <qlite/io/safetensors.hpp>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "../test_util.hpp"
#include "io_test_util.hpp"

TEST_SUITE("io.safetensors") {
  TEST_CASE("write → read: every dtype, shapes incl. scalar and empty, metadata") {
    std::vector<float> f32 = {1.f, -2.5f, 3.25f, 1e-8f, -0.f, 6.f};
    std::vector<std::uint16_t> f16 = {0x3c00, 0xc000, 0x7bff, 1};
    std::vector<std::uint16_t> bf16 = {0x3f80, 0xbf80, 0x4049};
    std::vector<std::int8_t> i8 = {-128, 0, 127, -1, 5};
    std::vector<std::uint8_t> u8 = {0, 255, 17};
    std::vector<std::int32_t> i32 = {-2147483647 - 1, 2147483647, 0, 42};
    qlite::safetensors_writer out;
    out.add("a.f32", qlite::st_dtype::f32, {2, 3}, std::as_bytes(std::span(f32)));
    out.add("b.f16", qlite::st_dtype::f16, {4}, std::as_bytes(std::span(f16)));
    out.add("c.bf16", qlite::st_dtype::bf16, {3, 1}, std::as_bytes(std::span(bf16)));
    out.add("d.i8", qlite::st_dtype::i8, {5}, std::as_bytes(std::span(i8)));
    out.add("e.u8", qlite::st_dtype::u8, {1, 3}, std::as_bytes(std::span(u8)));
    out.add("f.i32", qlite::st_dtype::i32, {2, 2}, std::as_bytes(std::span(i32)));
    out.add("g.scalar", qlite::st_dtype::f32, {}, std::as_bytes(std::span(f32).first(1)));
    out.add("h.empty", qlite::st_dtype::f32, {0, 7}, {});
    out.set_metadata("format", "pt");
    out.set_metadata("qlite.scheme", "{\"bits\": 4}");
    const auto path = qlite::test::temp_path("rt.safetensors");
    out.write(path);

    const auto raw = qlite::test::read_bytes(path);
    const auto hsize = qlite::test::peek<std::uint64_t>(raw, 0);
    CHECK(hsize % 8 == 0);

    const qlite::safetensors_file in(path);
    CHECK(in.data_offset() == 8 + hsize);
    CHECK(in.tensors().size() == 8);
    CHECK(in.metadata().at("format") == "pt");
    CHECK(in.metadata().at("qlite.scheme") == "{\"bits\": 4}");
    const auto& a = in.tensor("a.f32");
    CHECK(a.dtype == qlite::st_dtype::f32);
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    const auto av = in.f32_view(a);
    CHECK(std::memcmp(av.data(), f32.data(), 24) == 0);
    auto same = [&](const char* name, auto& v) {
      const auto& t = in.tensor(name);
      REQUIRE(t.data.size() == v.size() * sizeof(v[0]));
      CHECK(std::memcmp(t.data.data(), v.data(), t.data.size()) == 0);
      // Natural alignment of every tensor.
      CHECK(reinterpret_cast<std::uintptr_t>(t.data.data()) % qlite::size_of(t.dtype) == 0);
    };
    same("b.f16", f16);
    same("c.bf16", bf16);
    same("d.i8", i8);
    same("e.u8", u8);
    same("f.i32", i32);
    CHECK(in.tensor("g.scalar").shape.empty());
    CHECK(in.tensor("g.scalar").n_elements() == 1);
    CHECK(in.tensor("h.empty").data.empty());
    CHECK(in.tensor("c.bf16").dtype == qlite::st_dtype::bf16);
    CHECK_THROWS_AS((void)in.f32_view(in.tensor("d.i8")), qlite::error);
  }

  TEST_CASE("stories260K weights → safetensors → identical bytes - plus quantized components") {
    const qlite::llama2c_checkpoint ck(qlite::test::shared_data("models/stories260K.bin"));
    qlite::safetensors_writer out;
    for (const auto& t : ck.tensors()) out.add(t.name, qlite::st_dtype::f32, t.shape, std::as_bytes(t.data));
    // A quantized tensor as components: int8 codes + fp32 per-row scales, metadata says how.
    const auto& wq = ck.at("blk.0.attn_q.weight");
    std::vector<std::int8_t> codes(wq.data.size());
    std::vector<float> scales(64);
    for (std::size_t r = 0; r < 64; ++r) {
      float amax = 0;
      for (std::size_t c = 0; c < 64; ++c) amax = std::max(amax, std::fabs(wq.data[r * 64 + c]));
      scales[r] = amax / 127.f;
      for (std::size_t c = 0; c < 64; ++c)
        codes[r * 64 + c] = static_cast<std::int8_t>(std::lround(wq.data[r * 64 + c] / scales[r]));
    }
    out.add("q.blk.0.attn_q.weight.codes", qlite::st_dtype::i8, {64, 64}, std::as_bytes(std::span(codes)));
    out.add("q.blk.0.attn_q.weight.scales", qlite::st_dtype::f32, {64, 1}, std::as_bytes(std::span(scales)));
    out.set_metadata("q.blk.0.attn_q.weight",
                     R"({"scheme":"symmetric","bits":8,"granularity":"per_channel"})");
    const auto path = qlite::test::temp_path("stories.safetensors");
    out.write(path);
    const qlite::safetensors_file in(path);
    CHECK(in.tensors().size() == ck.tensors().size() + 2);
    for (const auto& t : ck.tensors()) {
      const auto& u = in.tensor(t.name);
      CHECK(u.shape == t.shape);
      CHECK(std::memcmp(in.f32_view(u).data(), t.data.data(), t.data.size_bytes()) == 0);
    }
    const auto meta = nlohmann::json::parse(in.metadata().at("q.blk.0.attn_q.weight"));
    CHECK(meta["bits"] == 8);
    const auto& c = in.tensor("q.blk.0.attn_q.weight.codes");
    CHECK(std::memcmp(c.data.data(), codes.data(), codes.size()) == 0);
  }

  TEST_CASE("writer validation and input protection") {
    std::vector<float> f(4, 1.f);
    qlite::safetensors_writer out;
    CHECK_THROWS_AS(out.add("x", qlite::st_dtype::f32, {5}, std::as_bytes(std::span(f))), qlite::error);
    CHECK_THROWS_AS(out.add("__metadata__", qlite::st_dtype::f32, {4}, std::as_bytes(std::span(f))),
                    qlite::error);
    out.add("x", qlite::st_dtype::f32, {4}, std::as_bytes(std::span(f)));
    CHECK_THROWS_AS(out.add("x", qlite::st_dtype::f32, {4}, std::as_bytes(std::span(f))), qlite::error);
    const auto path = qlite::test::temp_path("in.safetensors");
    out.write(path);
    const auto before = qlite::test::read_bytes(path);
    {
      const qlite::safetensors_file in(path);
      CHECK_THROWS_AS(out.write(path), qlite::error);
    }
    CHECK(qlite::test::read_bytes(path) == before);
  }

}  // TEST_SUITE
