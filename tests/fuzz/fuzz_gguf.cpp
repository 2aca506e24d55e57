// libFuzzer target: qlite::gguf_file on arbitrary bytes. Any qlite::error is a clean
// rejection; a crash, a sanitizer report or another exception type is a finding.
#include <qlite/io/gguf.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const qlite::gguf_file g(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size),
                             "fuzz.gguf");
    for (const auto& t : g.tensors()) {
      const auto bytes = g.tensor_data(t);
      volatile std::byte sink{};
      if (!bytes.empty()) sink = bytes[bytes.size() - 1];
      (void)sink;
      if (t.n_elements <= (1u << 20)) {
        try {
          (void)g.dequantize(t);
        } catch (const qlite::error&) {
        }
      }
    }
    for (const auto& [key, value] : g.metadata()) (void)value.type();
  } catch (const qlite::error&) {
  }
  return 0;
}
