// libFuzzer target: qlite::llama2c_checkpoint on arbitrary bytes (copied to aligned memory,
// as a mapping would be).
#include <qlite/io/llama2c.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<float> aligned((size + 3) / 4);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  try {
    const qlite::llama2c_checkpoint ck(std::as_bytes(std::span(aligned)).first(size), "fuzz.bin");
    float sum = 0;
    for (const auto& t : ck.tensors())
      if (!t.data.empty()) sum += t.data.front() + t.data.back();
    volatile float sink = sum;
    (void)sink;
  } catch (const qlite::error&) {
  }
  return 0;
}
