// libFuzzer target: qlite::safetensors_file on arbitrary bytes, then the quantized-tensor
// convention on top of it (io/quantized_safetensors.hpp: descriptions, components, blocks).
#include <qlite/io/quantized_safetensors.hpp>
#include <qlite/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

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
    for (const auto& e : qlite::find_quantized_entries(s)) {
      try {
        // Read (which proves the sizes against the file) before allocating the output.
        if (e.ggml) {
          const auto blocks = qlite::read_ggml_blocks(s, e);
          std::vector<float> out(e.rows * e.cols);
          qlite::dequantize_ggml_blocks(e.scheme, blocks, e.rows, e.cols, out);
        } else {
          const qlite::quantized_tensor q = qlite::read_quantized(s, e);
          std::vector<float> out(e.rows * e.cols);
          qlite::dequantize(q, qlite::matrix_view<float>(out.data(), e.rows, e.cols), 1);
        }
      } catch (const qlite::error&) {
      }
    }
  } catch (const qlite::error&) {
  }
  return 0;
}
