// libFuzzer target: qlite::read_llama2c_tokenizer on arbitrary bytes, with and without a
// vocabulary size taken from the input's first byte.
#include <qlite/io/llama2c.hpp>
#include <qlite/tokenizer/sentencepiece.hpp>

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
    // A vocabulary that reads also builds a SentencePiece tokenizer or says why not; when it
    // does, encode → decode (with BOS) gives the text back if every byte piece exists.
    const auto sp = qlite::sentencepiece_from_llama2c(t, "fuzz.tok");
    const std::string text = "Once upon a time, \xC3\xA9t\xE9 \x80!";
    const auto ids = sp.encode(text, true);
    bool all_bytes = true;
    for (int b = 0; b < 256; ++b)
      all_bytes = all_bytes && sp.type(sp.byte_id(static_cast<std::uint8_t>(b))) == qlite::piece_type::byte;
    const std::uint32_t space = sp.find(" ");
    if (all_bytes && space < sp.size() && sp.type(space) == qlite::piece_type::normal &&
        sp.decode(ids) != text)
      __builtin_trap();
  } catch (const qlite::error&) {
  }
  return 0;
}
