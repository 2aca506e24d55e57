// libFuzzer target: qlite::read_token_sequences (model/evaluate.hpp) on arbitrary bytes.
#include <qlite/model/evaluate.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto seqs = qlite::read_token_sequences(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz.tok512");
    std::size_t ids = 0;
    for (const auto& s : seqs) ids += s.size();
    if (4 + 4 * (seqs.size() + ids) != size) __builtin_trap();  // every byte accounted for
  } catch (const qlite::error&) {
  }
  return 0;
}
