// libFuzzer target: qlite::read_llama2c_tokenizer on arbitrary bytes, with and without a
// vocabulary size taken from the input's first byte.
#include <qlite/io/llama2c.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::optional<std::size_t> vocab =
      data[0] % 2 == 0 ? std::optional<std::size_t>{} : std::optional<std::size_t>{data[0]};
  try {
    const auto t = qlite::read_llama2c_tokenizer(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data + 1), size - 1), "fuzz.tok",
        vocab);
    if (t.pieces.size() != t.scores.size()) __builtin_trap();
  } catch (const qlite::error&) {
  }
  return 0;
}
