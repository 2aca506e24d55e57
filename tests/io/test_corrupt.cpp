// Bad input for every reader: truncated, bit-flipped and hostile files, generated here. Each
// must be rejected with a qlite::error that names the file, the offset and the field — or,
// for a bit flip that happens to leave a valid file, be read without touching memory outside
// the file (ASan/UBSan builds check that).
#include <qlite/io/gguf.hpp>
#include <qlite/io/llama2c.hpp>
#include <qlite/io/safetensors.hpp>

#include <cstring>
#include <random>
#include <string>

#include "../test_util.hpp"
#include "io_test_util.hpp"

namespace {

using bytes = std::vector<std::byte>;
using qlite::test::error_of;
using qlite::test::poke;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Parses GGUF bytes and touches every tensor; returns "" on success or the qlite::error text.
std::string try_gguf(const bytes& b) {
  try {
    const qlite::gguf_file g(std::span<const std::byte>(b), "t.gguf");
    for (const auto& t : g.tensors()) {
      const auto d = g.tensor_data(t);
      volatile std::byte sink{};
      if (!d.empty()) sink = d[d.size() - 1];
      (void)sink;
      if (t.n_elements <= (1u << 16)) {
        try {
          (void)g.dequantize(t);
        } catch (const qlite::error& e) {
          CHECK(e.category() == qlite::errc::unsupported);
        }
      }
    }
    for (const auto& [k, v] : g.metadata()) (void)v.type();
    return "";
  } catch (const qlite::error& e) {
    return e.what();
  }
}

std::string try_safetensors(const bytes& b) {
  try {
    const qlite::safetensors_file s(std::span<const std::byte>(b), "t.safetensors");
    for (const auto& t : s.tensors()) {
      volatile std::byte sink{};
      if (!t.data.empty()) sink = t.data[t.data.size() - 1];
      (void)sink;
    }
    return "";
  } catch (const qlite::error& e) {
    return e.what();
  }
}

// A small GGUF with a known layout (offsets in the comments).
bytes small_gguf() {
  static const std::vector<float> w(64, 0.25f);
  qlite::gguf_writer out;
  out.set("k", qlite::gguf_value::array(std::vector<std::uint32_t>{1, 2, 3}));  // key len @24, "k" @32,
  // type @33, element_type @37, count @41, elements @49..61
  out.add_tensor("t", {2, 32}, qlite::ggml_type::f32, w);  // name len @61, "t" @69, n_dims @70,
  // ne[0] @74, ne[1] @82, type @90, offset @94; data section @128, 256 bytes
  const auto path = qlite::test::temp_path("small.gguf");
  out.write(path);
  auto b = qlite::test::read_bytes(path);
  REQUIRE(b.size() == 384);
  REQUIRE(try_gguf(b).empty());
  return b;
}

std::string gguf_error(bytes b) {
  const auto msg = try_gguf(b);
  CHECK_MESSAGE(!msg.empty(), "a hostile GGUF was accepted");
  CHECK(contains(msg, "t.gguf: offset "));
  return msg;
}

bytes make_safetensors(const std::string& header, std::size_t data_bytes) {
  bytes b(8 + header.size() + data_bytes, std::byte{0});
  poke<std::uint64_t>(b, 0, header.size());
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

std::string st_error(const bytes& b) {
  const auto msg = try_safetensors(b);
  CHECK_MESSAGE(!msg.empty(), "a hostile safetensors file was accepted");
  CHECK(contains(msg, "t.safetensors"));
  return msg;
}

std::string write_temp(const bytes& b, const std::string& stem) {
  const auto p = qlite::test::temp_path(stem);
  qlite::test::write_bytes(p, b);
  return p;
}

}  // namespace

TEST_SUITE("io.corrupt") {
  TEST_CASE("GGUF: hostile fields are rejected, naming offset and field") {
    const bytes good = small_gguf();
    auto with = [&](auto patch) {
      bytes b = good;
      patch(b);
      return gguf_error(b);
    };
    std::string m;
    m = with([](bytes& b) { b[0] = std::byte{'X'}; });
    CHECK(contains(m, "offset 0: magic"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 4, 1); });
    CHECK(contains(m, "offset 4: version: expected 2 or 3, found 1"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 4, 4); });
    CHECK(contains(m, "version"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 8, std::uint64_t{1} << 60); });
    CHECK(contains(m, "offset 8: n_tensors"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 16, ~std::uint64_t{0}); });
    CHECK(contains(m, "offset 16: n_kv"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 24, std::uint64_t{1} << 63); });
    CHECK(contains(m, "kv[0].key"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 33, 13); });
    CHECK(contains(m, "offset 33: kv[0] 'k'.type: expected a value type 0..12, found 13"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 37, 77); });
    CHECK(contains(m, "element_type"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 41, std::uint64_t{1} << 62); });
    CHECK(contains(m, "offset 41: kv[0] 'k'.count"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 37, 8); });  // array of strings: lengths run past EOF
    CHECK(contains(m, "kv[0] 'k'"));
    m = with([](bytes& b) {
      poke<std::uint32_t>(b, 37, 7);
      poke<std::uint32_t>(b, 41, 1);
      poke<std::uint8_t>(b, 49, 2);
    });
    CHECK(contains(m, "expected a bool"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 61, std::uint64_t{1} << 40); });
    CHECK(contains(m, "tensor_infos[0].name.length"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 70, 5); });
    CHECK(contains(m, "offset 70: tensor_infos[0] 't'.n_dims: expected at most 4, found 5"));
    m = with([](bytes& b) {
      poke<std::uint64_t>(b, 74, std::uint64_t{1} << 40);
      poke<std::uint64_t>(b, 82, std::uint64_t{1} << 40);
    });
    CHECK(contains(m, "overflows 64 bits"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 82, ~std::uint64_t{0}); });
    CHECK(contains(m, "ne[1]"));
    m = with([](bytes& b) { poke<std::uint32_t>(b, 90, 99); });
    CHECK(contains(m, "offset 90: tensor_infos[0] 't'.type: expected a known ggml type, found 99"));
    m = with([](bytes& b) {
      poke<std::uint32_t>(b, 90, 8);
      poke<std::uint64_t>(b, 74, 33);
    });  // q8_0 rows of 33
    CHECK(contains(m, "block size"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 94, 1u << 20); });
    CHECK(contains(m, "offset 94: tensor_infos[0] 't'.offset: expected the tensor's 256 bytes"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 94, ~std::uint64_t{31}); });
    CHECK(contains(m, "overflows"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 94, 4); });
    CHECK(contains(m, "multiple of the alignment 32"));
    m = with([](bytes& b) { poke<std::uint64_t>(b, 74, 64); });  // 512 bytes no longer fit
    CHECK(contains(m, ".offset"));
  }

  TEST_CASE("GGUF: alignment, duplicates and overlaps") {
    std::vector<float> w(64, 1.f);
    qlite::gguf_writer out;
    out.set("general.alignment", std::uint32_t{64});
    out.set("k1", std::uint8_t{1});
    out.set("k2", std::uint8_t{2});
    out.add_tensor("a", {32}, qlite::ggml_type::f32, std::span<const float>(w).first(32));
    out.add_tensor("b", {32}, qlite::ggml_type::f32, std::span<const float>(w).first(32));
    const auto path = qlite::test::temp_path("dup.gguf");
    out.write(path);
    const bytes good = qlite::test::read_bytes(path);
    REQUIRE(try_gguf(good).empty());
    auto find = [&](std::string_view s) {
      for (std::size_t i = 0; i + s.size() <= good.size(); ++i)
        if (std::memcmp(good.data() + i, s.data(), s.size()) == 0) return i;
      FAIL("pattern not found");
      return std::size_t{0};
    };
    const std::size_t align_value = find("general.alignment") + 17 + 4;
    for (std::uint32_t bad : {0u, 3u, 48u}) {
      bytes b = good;
      poke<std::uint32_t>(b, align_value, bad);
      CHECK(contains(gguf_error(b), "expected a power of two, found " + std::to_string(bad)));
    }
    {
      bytes b = good;
      poke<std::uint32_t>(b, align_value - 4, 5);  // i32 instead of u32
      CHECK(contains(gguf_error(b), "expected type u32, found i32"));
    }
    {
      bytes b = good;
      b[find("k2")] = std::byte{'k'};
      b[find("k2") + 1] = std::byte{'1'};
      CHECK(contains(gguf_error(b), "duplicate"));
    }
    {
      bytes b = good;
      // Tensor "b"'s name is the second single-byte name "b" after its u64 length 1.
      const std::size_t nb = find(std::string_view("\x01\0\0\0\0\0\0\0b", 9)) + 9;
      poke<std::uint64_t>(b, nb + 4 + 8 + 4, 0);  // b.offset = 0: overlaps a
      CHECK(contains(gguf_error(b), "expected tensors not to overlap"));
      b[nb - 1] = std::byte{'a'};  // and a duplicate name
      CHECK(contains(gguf_error(b), "duplicate"));
    }
  }

  TEST_CASE("GGUF: every truncation of a small file and of stories260K's header is rejected") {
    const bytes good = small_gguf();
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      const bytes b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
      REQUIRE(!try_gguf(b).empty());
    }
    const bytes real = qlite::test::read_bytes(qlite::test::shared_data("models/stories260K.gguf"));
    for (std::size_t n = 0; n < 14176 + 64; n += (n < 2000 ? 1 : 7)) {
      CAPTURE(n);
      const bytes b(real.begin(), real.begin() + static_cast<std::ptrdiff_t>(n));
      const auto msg = try_gguf(b);
      REQUIRE(!msg.empty());
      REQUIRE(contains(msg, "t.gguf: offset "));
    }
    for (std::size_t n = 14176; n < real.size(); n += 65536 + 4) {
      const bytes b(real.begin(), real.begin() + static_cast<std::ptrdiff_t>(n));
      REQUIRE(contains(try_gguf(b), ".offset"));
    }
  }

  TEST_CASE("GGUF: random bit flips never escape as anything but qlite::error") {
    const bytes real = qlite::test::read_bytes(qlite::test::shared_data("models/stories260K.gguf"));
    const bytes small = small_gguf();
    std::mt19937_64 rng(12345);
    std::size_t rejected = 0, accepted = 0;
    for (int i = 0; i < 1500; ++i) {
      const bytes& src = i % 3 == 0 ? small : real;
      bytes b = src;
      const std::size_t limit = &src == &real ? 14176 : src.size();
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        const std::size_t at = rng() % limit;
        b[at] ^= std::byte{static_cast<unsigned char>(1u << (rng() % 8))};
      }
      (try_gguf(b).empty() ? accepted : rejected)++;
    }
    MESSAGE("bit flips: ", rejected, " rejected, ", accepted, " still valid");
    CHECK(rejected > 0);
  }

  TEST_CASE("llama2.c checkpoints: truncated, trailing bytes, bad config, unsupported version") {
    const bytes legacy = qlite::test::read_bytes(qlite::test::shared_data("models/stories260K.bin"));
    const bytes v1 = qlite::test::read_bytes(qlite::test::shared_data("models/stories260K_v1.bin"));
    auto load = [](const bytes& b) {
      const auto p = write_temp(b, "ck.bin");
      return error_of([&] { const qlite::llama2c_checkpoint ck(p); });
    };
    for (std::size_t n : {std::size_t{0}, std::size_t{3}, std::size_t{27}, std::size_t{28}, std::size_t{1000},
                          legacy.size() / 2, legacy.size() - 1}) {
      CAPTURE(n);
      const auto m = load(bytes(legacy.begin(), legacy.begin() + static_cast<std::ptrdiff_t>(n)));
      CHECK(contains(m, "ck.bin: offset "));
    }
    for (std::size_t n :
         {std::size_t{8}, std::size_t{40}, std::size_t{255}, std::size_t{256}, v1.size() - 4}) {
      CAPTURE(n);
      CHECK(contains(load(bytes(v1.begin(), v1.begin() + static_cast<std::ptrdiff_t>(n))), "offset "));
    }
    {
      bytes b = legacy;
      b.push_back(std::byte{0});
      CHECK(contains(load(b), "end of file: expected the file to end"));
    }
    auto patched = [&](const bytes& src, std::size_t off, std::int32_t v) {
      bytes b = src;
      poke<std::int32_t>(b, off, v);
      return load(b);
    };
    CHECK(contains(patched(legacy, 0, 0), "offset 0: dim: expected a positive value, found 0"));
    CHECK(contains(patched(legacy, 4, -5), "offset 4: hidden_dim"));
    CHECK(contains(patched(legacy, 12, 3), "offset 12: n_heads: expected a divisor of dim 64, found 3"));
    CHECK(contains(patched(legacy, 16, 3), "offset 16: n_kv_heads"));
    CHECK(contains(patched(legacy, 20, 0), "vocab_size"));
    CHECK(contains(patched(legacy, 8, 1 << 30), "offset"));  // promises far more weights
    CHECK(contains(patched(legacy, 0, 1 << 30), "offset"));  // overflow-checked sizes
    CHECK(contains(patched(legacy, 20, -512), "wcls"));      // untied: classifier missing
    CHECK(contains(patched(v1, 4, 2), "version"));           // int8 export: unsupported
    CHECK(contains(patched(v1, 8, -1), "offset 8: dim"));
    {
      bytes b = v1;
      b[36] = std::byte{7};
      CHECK(contains(load(b), "offset 36: shared_classifier: expected 0 or 1, found 7"));
    }
  }

  TEST_CASE("llama2.c tokenizer: truncated, hostile lengths, NaN scores") {
    const bytes tok = qlite::test::read_bytes(qlite::test::shared_data("models/tok512.bin"));
    auto load = [](const bytes& b, std::optional<std::size_t> n = 512) {
      const auto p = write_temp(b, "tok.bin");
      return error_of([&] { (void)qlite::read_llama2c_tokenizer(p, n); });
    };
    for (std::size_t n = 0; n < tok.size(); n += 97) {
      CAPTURE(n);
      CHECK(contains(load(bytes(tok.begin(), tok.begin() + static_cast<std::ptrdiff_t>(n))),
                     "tok.bin: offset "));
    }
    auto patched = [&](std::size_t off, auto v, std::optional<std::size_t> n = 512) {
      bytes b = tok;
      poke(b, off, v);
      return load(b, n);
    };
    CHECK(contains(patched(0, std::int32_t{0}), "offset 0: max_token_length"));
    CHECK(contains(patched(8, std::int32_t{-1}),
                   "offset 8: tokens[0].len: expected 0 ≤ len ≤ max_token_length 7, found -1"));
    CHECK(contains(patched(8, std::int32_t{8}), "tokens[0].len"));
    CHECK(contains(patched(8, std::int32_t{0x7fffffff}), "tokens[0].len"));
    CHECK(contains(patched(4, std::numeric_limits<float>::quiet_NaN()),
                   "offset 4: tokens[0].score: expected a number, found NaN"));
    CHECK(contains(load(tok, std::size_t{1} << 40), "expected room for"));
    CHECK(contains(load(tok, 100), "expected the file to end after 100 tokens"));
  }

  TEST_CASE("safetensors: hostile headers are rejected, naming the field") {
    const std::string ok =
        R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}})";
    REQUIRE(try_safetensors(make_safetensors(ok, 16)).empty());
    {
      bytes b = make_safetensors(ok, 16);
      poke<std::uint64_t>(b, 0, std::uint64_t{1} << 63);
      CHECK(contains(st_error(b), "offset 0: header_size"));
      poke<std::uint64_t>(b, 0, 0);
      CHECK(contains(st_error(b), "header_size"));
    }
    CHECK(contains(st_error(bytes{std::byte{1}, std::byte{0}}), "header_size"));
    CHECK(contains(st_error(make_safetensors(R"({"a":)", 0)), "header: expected JSON"));
    CHECK(contains(st_error(make_safetensors("[1,2]", 0)), "expected a JSON object"));
    CHECK(contains(st_error(make_safetensors("\xff\xfe{}", 0)), "header"));
    auto tensor = [](const std::string& body, std::size_t data) {
      return st_error(make_safetensors(R"({"a":)" + body + "}", data));
    };
    CHECK(contains(tensor(R"({"dtype":"F99","shape":[1],"data_offsets":[0,4]})", 4),
                   "tensor 'a'.dtype: expected one of"));
    CHECK(contains(tensor(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})", 4), "tensor 'a'.dtype"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4),
                   "tensor 'a'.shape: expected non-negative"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4), "tensor 'a'.shape"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":"x","data_offsets":[0,4]})", 4), "tensor 'a'.shape"));
    CHECK(contains(
        tensor(R"({"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]})",
               4),
        "overflows 64 bits"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 8),
                   "expected end - begin = 8 bytes"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", 4), "data_offsets"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), "data_offsets"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[1000,1004]})", 4),
                   "inside the file's data section"));
    CHECK(contains(
        tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]})",
               4),
        "data_offsets"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})", 4),
                   "found 'extra'"));
    CHECK(contains(tensor(R"(5)", 0), "tensor 'a'"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", 8), "without holes"));
    CHECK(contains(tensor(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 8),
                   "to cover the 8 data bytes"));
    CHECK(contains(
        st_error(make_safetensors(
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            12)),
        "overlaps"));
    CHECK(contains(st_error(make_safetensors(R"({"__metadata__":{"k":1}})", 0)),
                   "__metadata__.k: expected a string"));
    CHECK(contains(st_error(make_safetensors(R"({"__metadata__":[]})", 0)), "__metadata__"));
    // A valid dtype qlite does not read: errc::unsupported.
    try {
      const bytes b = make_safetensors(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8);
      const qlite::safetensors_file s(std::span<const std::byte>(b), "t.safetensors");
      FAIL("F64 accepted");
    } catch (const qlite::error& e) {
      CHECK(e.category() == qlite::errc::unsupported);
    }
    // Deeply nested JSON is rejected without exhausting the stack.
    std::string deep = R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK(!try_safetensors(make_safetensors(deep, 0)).empty());
  }

  TEST_CASE("safetensors: truncations and random bit flips") {
    const qlite::llama2c_checkpoint ck(qlite::test::shared_data("models/stories260K.bin"));
    qlite::safetensors_writer out;
    for (const auto& t : ck.tensors()) {
      if (t.name.rfind("blk.0.", 0) == 0 || t.name == "output_norm.weight")
        out.add(t.name, qlite::st_dtype::f32, t.shape, std::as_bytes(t.data));
    }
    out.set_metadata("format", "pt");
    const auto path = qlite::test::temp_path("flip.safetensors");
    out.write(path);
    const bytes good = qlite::test::read_bytes(path);
    REQUIRE(try_safetensors(good).empty());
    const auto header_end = 8 + qlite::test::peek<std::uint64_t>(good, 0);
    for (std::size_t n = 0; n < header_end + 16; n += 3) {
      CAPTURE(n);
      REQUIRE(!try_safetensors(bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))).empty());
    }
    std::mt19937_64 rng(777);
    std::size_t rejected = 0;
    for (int i = 0; i < 1500; ++i) {
      bytes b = good;
      const std::size_t at = rng() % header_end;
      b[at] ^= std::byte{static_cast<unsigned char>(1u << (rng() % 8))};
      rejected += !try_safetensors(b).empty();
    }
    MESSAGE("safetensors bit flips: ", rejected, " of 1500 rejected");
    CHECK(rejected > 0);
  }

}  // TEST_SUITE
