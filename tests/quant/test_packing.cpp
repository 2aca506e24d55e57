#include "../test_util.hpp"

#include <random>
#include <vector>

#include <qlite/quant/packing.hpp>
#include <qlite/quant/quantized_tensor.hpp>

TEST_SUITE("quant") {
  TEST_CASE("pack writes the documented byte pictures") {
    const std::int32_t u[5] = {1, 2, 3, 4, 5};
    std::uint8_t out4[3] = {0xFF, 0xFF, 0xFF};
    qlite::pack<qlite::scalar_arch>(u, 5, 4, out4);
    CHECK(out4[0] == 0x21);
    CHECK(out4[1] == 0x43);
    CHECK(out4[2] == 0x05);
    const std::int32_t v[5] = {1, 2, 3, 0, 2};
    std::uint8_t out2[2];
    qlite::pack<qlite::scalar_arch>(v, 5, 2, out2);
    CHECK(out2[0] == (1 | 2 << 2 | 3 << 4 | 0 << 6));
    CHECK(out2[1] == 2);
    // 3-bit stream: 5 (101), 3 (011), 7 (111) → bits 0..8 = 1,0,1, 1,1,0, 1,1,1
    const std::int32_t w[3] = {5, 3, 7};
    std::uint8_t out3[2];
    qlite::pack<qlite::scalar_arch>(w, 3, 3, out3);
    CHECK(out3[0] == 0xDD);  // 1101 1101
    CHECK(out3[1] == 0x01);
  }

  TEST_CASE("pack/unpack round-trip for every bit width, length and arch") {
    std::mt19937 rng(7);
    for (int bits = 2; bits <= 8; ++bits) {
      for (std::size_t n : {1UL, 2UL, 3UL, 7UL, 8UL, 31UL, 64UL, 173UL}) {
        std::vector<std::int32_t> u(n), back(n);
        for (auto& x : u) x = static_cast<std::int32_t>(rng() % (1U << bits));
        std::vector<std::uint8_t> packed(qlite::packed_bytes(n, bits));
        qlite::dispatch([&](auto tag) {
          using A = decltype(tag);
          qlite::pack<A>(u.data(), n, bits, packed.data());
          qlite::unpack<A>(packed.data(), n, bits, back.data());
        });
        CHECK(back == u);
        // The independent bit reader of quantized_tensor agrees with the packer.
        qlite::quantized_tensor t;
        t.rows = 1;
        t.cols = n;
        t.bits = bits;
        t.codes = qlite::aligned_buffer<std::uint8_t>(packed.size());
        std::copy(packed.begin(), packed.end(), t.codes.begin());
        for (std::size_t j = 0; j < n; ++j) CHECK(t.code(0, j) == static_cast<unsigned>(u[j]));
        // Unused high bits of the last byte are zero.
        const std::size_t used = (n * static_cast<std::size_t>(bits)) % 8;
        if (used) CHECK((packed.back() >> used) == 0);
      }
    }
  }
}
