// libFuzzer target: qlite::safetensors_file on arbitrary bytes.
#include <qlite/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const qlite::safetensors_file s(
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size), "fuzz.safetensors");
    for (const auto& t : s.tensors()) {
      volatile std::byte sink{};
      if (!t.data.empty()) sink = t.data[t.data.size() - 1];
      (void)sink;
      if (t.dtype == qlite::st_dtype::f32 && !t.data.empty()) (void)s.f32_view(t);
    }
  } catch (const qlite::error&) {
  }
  return 0;
}
