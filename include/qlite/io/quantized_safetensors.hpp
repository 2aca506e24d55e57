// qlite — quantized weights inside a safetensors file: qlite's component-tensor convention.
//
// safetensors has no quantized dtypes, so a quantized weight `<name>` (an N × K matrix) is
// stored as plain tensors plus one __metadata__ entry that says how to rebuild it. Two kinds:
//
//   qlite scheme (quant/named_schemes.hpp: int8, int4_g32, int4a_g128, ...):
//
//     "<name>.codes"        U8  [N, row_bytes]   quantized_tensor::codes, rows packed as
//                                                quant/quantized_tensor.hpp draws them
//     "<name>.scales"       F32 [N, groups]      one scale per group, row-major (F16 is read too);
//                                                per_channel: [N, 1]; per_tensor: [1, 1]
//     "<name>.zero_points"  U8  [N, groups]      asymmetric schemes only, same shape as scales
//     __metadata__["<name>"] = {"scheme":"int4a_g32","scheme_id":"asymmetric","bits":4,
//                               "granularity":"per_group","group_size":32,"rows":64,"cols":172}
//
//     scheme_id ∈ symmetric | symmetric_narrow | asymmetric; granularity ∈ per_tensor |
//     per_channel | per_group; group_size = G (per_group), K (per_channel), 0 (per_tensor).
//     Scales are F32 so a file holds exactly the quantizer's parameters (F16 would round them).
//
//   ggml blocks (Q8_0, Q4_0, Q4_1; quant/block_formats.hpp):
//
//     "<name>"              U8  [N, K/32 · block_bytes]   each row's blocks, as in a GGUF file
//     __metadata__["<name>"] = {"ggml_type":"q4_0","rows":64,"cols":64}
//
// Contract
//   - add_quantized / add_ggml_blocks register the tensors with a safetensors_writer; the data
//     (the quantized_tensor's buffers, the blocks) must stay alive until write(). add_quantized
//     needs a tensor that one of the named qlite schemes produces (errc::invalid_argument
//     otherwise: the name is what a reader needs to run it).
//   - find_quantized_entries(file) lists the weights a file stores this way. It validates the
//     description JSON (an object with exactly the fields above, known scheme and ggml type,
//     fields consistent with the named scheme) and rejects component tensors
//     ("x.codes", "x.scales", "x.zero_points") that no description claims.
//   - read_quantized / read_ggml_blocks rebuild one entry, checking every component's dtype
//     and shape against the description, qlite::validate(quantized_tensor), finite scales and
//     zero points below 2^bits.
//   - Every violation throws qlite::error(errc::format) "<file>: tensor '<name>': <field>: ...".
//
// Cost: writing adds no copies; reading copies codes and parameters once (O(bytes)).
//
//   qlite::quantized_tensor q = qlite::find_scheme("int4_g32").quantize(W);
//   qlite::safetensors_writer out;
//   qlite::add_quantized(out, "blk.0.attn_q.weight", q);
//   out.write("model.safetensors");
//   qlite::safetensors_file in("model.safetensors");
//   for (const auto& e : qlite::find_quantized_entries(in))
//     if (!e.ggml) qlite::quantized_tensor back = qlite::read_quantized(in, e.name);
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qlite/core/bf16.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"
#include "qlite/io/safetensors.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/named_schemes.hpp"
#include "qlite/quant/quantized_tensor.hpp"
#include "qlite/quant/quantizer.hpp"

namespace qlite {

constexpr std::string_view to_string(scheme_id s) noexcept {
  switch (s) {
    case scheme_id::symmetric:
      return "symmetric";
    case scheme_id::symmetric_narrow:
      return "symmetric_narrow";
    case scheme_id::asymmetric:
      return "asymmetric";
  }
  return "?";
}
constexpr std::string_view to_string(granularity_id g) noexcept {
  switch (g) {
    case granularity_id::per_tensor:
      return "per_tensor";
    case granularity_id::per_channel:
      return "per_channel";
    case granularity_id::per_group:
      return "per_group";
  }
  return "?";
}

/// The ggml block types a safetensors file may hold (name, elements per block, bytes per block).
struct st_ggml_type {
  std::string_view name;
  std::size_t block_size;
  std::size_t block_bytes;
};
inline constexpr st_ggml_type st_ggml_types[] = {
    {"q8_0", block_traits<block_q8_0>::block_size, sizeof(block_q8_0)},
    {"q4_0", block_traits<block_q4_0>::block_size, sizeof(block_q4_0)},
    {"q4_1", block_traits<block_q4_1>::block_size, sizeof(block_q4_1)},
};
inline const st_ggml_type* find_st_ggml_type(std::string_view name) noexcept {
  for (const auto& t : st_ggml_types)
    if (t.name == name) return &t;
  return nullptr;
}

namespace detail {

/// The layout (scheme, bits, granularity, group size) each named qlite scheme produces,
/// learned once by quantizing a 1 × 128 zero matrix with it.
struct scheme_layout {
  std::string_view name;
  scheme_id scheme;
  int bits;
  granularity_id granularity;
  std::size_t group_size;  ///< per_group only
};
inline const std::vector<scheme_layout>& named_scheme_layouts() {
  static const std::vector<scheme_layout> table = [] {
    std::vector<scheme_layout> v;
    const std::vector<float> zeros(128, 0.0f);
    for (const named_scheme& s : named_schemes()) {
      if (s.quantize == nullptr) continue;
      const quantized_tensor t = s.quantize(matrix_view<const float>(zeros.data(), 1, zeros.size()));
      v.push_back({s.name, t.scheme, t.bits, t.granularity,
                   t.granularity == granularity_id::per_group ? t.group_size : 0});
    }
    return v;
  }();
  return table;
}

inline const scheme_layout* layout_of_scheme(std::string_view name) {
  for (const auto& l : named_scheme_layouts())
    if (l.name == name) return &l;
  return nullptr;
}

/// Rows and columns of the scales / zero points tensors of `t`.
inline std::vector<std::size_t> parameter_shape(granularity_id g, std::size_t rows, std::size_t cols,
                                                std::size_t group_size) {
  switch (g) {
    case granularity_id::per_tensor:
      return {1, 1};
    case granularity_id::per_channel:
      return {rows, 1};
    case granularity_id::per_group:
      return {rows, (cols + group_size - 1) / group_size};
  }
  return {};
}

[[noreturn]] inline void st_fail(const safetensors_file& f, std::string_view name, std::string_view field,
                                 const std::string& what) {
  throw error(errc::format,
              f.name() + ": tensor '" + std::string(name) + "': " + std::string(field) + ": " + what);
}

/// The JSON object of __metadata__[name]; errc::format when it is not one.
inline nlohmann::json description_json(const safetensors_file& f, const std::string& name) {
  const auto it = f.metadata().find(name);
  if (it == f.metadata().end())
    st_fail(f, name, "__metadata__", "expected an entry describing it, found none");
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    st_fail(f, name, "__metadata__", "expected a JSON object, found '" + it->second.substr(0, 80) + "'");
  return j;
}

inline std::uint64_t json_uint(const safetensors_file& f, const std::string& name, const nlohmann::json& j,
                               const char* field, std::uint64_t max) {
  const auto it = j.find(field);
  if (it == j.end()) st_fail(f, name, field, "expected a non-negative integer, found nothing");
  if (!it->is_number_unsigned() || it->get<std::uint64_t>() > max)
    st_fail(f, name, field, "expected an integer in [0, " + std::to_string(max) + "], found " + it->dump());
  return it->get<std::uint64_t>();
}

inline std::string json_string(const safetensors_file& f, const std::string& name, const nlohmann::json& j,
                               const char* field) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_string())
    st_fail(f, name, field,
            "expected a string, found " + (it == j.end() ? std::string("nothing") : it->dump()));
  return it->get<std::string>();
}

inline void only_fields(const safetensors_file& f, const std::string& name, const nlohmann::json& j,
                        std::initializer_list<std::string_view> allowed) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (auto a : allowed) ok = ok || it.key() == a;
    if (!ok) st_fail(f, name, "__metadata__", "unexpected field '" + it.key() + "'");
  }
}

/// The component tensor `name + suffix`, checked for dtype and shape.
inline const safetensors_tensor& component(const safetensors_file& f, const std::string& name,
                                           std::string_view suffix, std::initializer_list<st_dtype> dtypes,
                                           const std::vector<std::size_t>& shape) {
  const std::string cn = name + std::string(suffix);
  const safetensors_tensor* t = f.find(cn);
  if (t == nullptr) st_fail(f, name, cn, "expected a component tensor, found none");
  bool ok = false;
  std::string want;
  for (auto d : dtypes) {
    ok = ok || t->dtype == d;
    want += std::string(want.empty() ? "" : " or ") + std::string(to_string(d));
  }
  if (!ok)
    st_fail(f, name, cn + ".dtype", "expected " + want + ", found " + std::string(to_string(t->dtype)));
  if (t->shape != shape) {
    auto text = [](const std::vector<std::size_t>& s) {
      std::string r = "[";
      for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + "]";
    };
    st_fail(f, name, cn + ".shape", "expected " + text(shape) + ", found " + text(t->shape));
  }
  return *t;
}

constexpr std::string_view component_suffixes[] = {".codes", ".scales", ".zero_points"};

}  // namespace detail

/// The name of the qlite scheme that produces tensors laid out like `t`, or nullopt.
inline std::optional<std::string_view> scheme_name_of(const quantized_tensor& t) {
  for (const auto& l : detail::named_scheme_layouts())
    if (l.scheme == t.scheme && l.bits == t.bits && l.granularity == t.granularity &&
        (l.granularity != granularity_id::per_group || l.group_size == t.group_size))
      return l.name;
  return std::nullopt;
}

/// Registers `t` as the component tensors of weight `name` (see the file comment). The buffers
/// of `t` must stay alive until `out.write()`.
inline void add_quantized(safetensors_writer& out, const std::string& name, const quantized_tensor& t) {
  validate(t);
  const auto scheme = scheme_name_of(t);
  if (!scheme)
    throw error(errc::invalid_argument,
                "add_quantized: tensor '" + name + "': no named qlite scheme is " +
                    std::string(to_string(t.scheme)) + " " + std::to_string(t.bits) + "-bit " +
                    std::string(to_string(t.granularity)) +
                    (t.granularity == granularity_id::per_group ? " " + std::to_string(t.group_size) : ""));
  const auto pshape = detail::parameter_shape(t.granularity, t.rows, t.cols, t.group_size);
  out.add(name + ".codes", st_dtype::u8, {t.rows, t.row_bytes()},
          std::as_bytes(std::span<const std::uint8_t>(t.codes.data(), t.codes.size())));
  out.add(name + ".scales", st_dtype::f32, pshape, std::as_bytes(std::span<const float>(t.scales)));
  if (t.scheme == scheme_id::asymmetric)
    out.add(name + ".zero_points", st_dtype::u8, pshape,
            std::as_bytes(std::span<const std::uint8_t>(t.zero_points)));
  nlohmann::ordered_json j;
  j["scheme"] = std::string(*scheme);
  j["scheme_id"] = std::string(to_string(t.scheme));
  j["bits"] = t.bits;
  j["granularity"] = std::string(to_string(t.granularity));
  j["group_size"] = t.group_size;
  j["rows"] = t.rows;
  j["cols"] = t.cols;
  out.set_metadata(name, j.dump());
}

/// Registers ggml blocks (`type` "q8_0", "q4_0" or "q4_1"; each row cols / 32 blocks) as the U8
/// tensor `name` (see the file comment). `blocks` must stay alive until `out.write()`.
inline void add_ggml_blocks(safetensors_writer& out, const std::string& name, std::string_view type,
                            std::size_t rows, std::size_t cols, std::span<const std::byte> blocks) {
  const st_ggml_type* g = find_st_ggml_type(type);
  if (g == nullptr)
    throw error(errc::invalid_argument, "add_ggml_blocks: tensor '" + name + "': unsupported ggml type '" +
                                            std::string(type) + "' (q8_0, q4_0, q4_1)");
  if (cols % g->block_size != 0)
    throw error(errc::invalid_argument, "add_ggml_blocks: tensor '" + name + "': row length " +
                                            std::to_string(cols) + " is not a multiple of " +
                                            std::to_string(g->block_size));
  out.add(name, st_dtype::u8, {rows, cols / g->block_size * g->block_bytes}, blocks);
  nlohmann::ordered_json j;
  j["ggml_type"] = std::string(type);
  j["rows"] = rows;
  j["cols"] = cols;
  out.set_metadata(name, j.dump());
}

/// One weight a safetensors file stores through the convention of this file.
struct st_quantized_entry {
  std::string name;
  bool ggml = false;   ///< ggml blocks (true) or a qlite quantized_tensor (false)
  std::string scheme;  ///< the qlite scheme name or the ggml type name
  std::size_t rows = 0, cols = 0;
};

/// The quantized weights of `f` (see the contract): every __metadata__ entry whose value is a
/// JSON object describing one, validated; component tensors nobody describes are an error.
inline std::vector<st_quantized_entry> find_quantized_entries(const safetensors_file& f) {
  std::vector<st_quantized_entry> out;
  std::set<std::string, std::less<>> described;
  constexpr std::uint64_t max_dim = std::uint64_t{1} << 32;
  for (const auto& [key, value] : f.metadata()) {
    if (value.empty() || value.front() != '{') continue;  // config values are plain strings
    const nlohmann::json j = detail::description_json(f, key);
    st_quantized_entry e;
    e.name = key;
    e.rows = static_cast<std::size_t>(detail::json_uint(f, key, j, "rows", max_dim));
    e.cols = static_cast<std::size_t>(detail::json_uint(f, key, j, "cols", max_dim));
    if (e.rows == 0 || e.cols == 0 || e.rows * e.cols > (std::uint64_t{1} << 48))
      detail::st_fail(f, key, "rows/cols",
                      "expected positive dimensions of at most 2^48 elements, found " +
                          std::to_string(e.rows) + " × " + std::to_string(e.cols));
    if (j.contains("ggml_type")) {
      detail::only_fields(f, key, j, {"ggml_type", "rows", "cols"});
      e.ggml = true;
      e.scheme = detail::json_string(f, key, j, "ggml_type");
      const st_ggml_type* g = find_st_ggml_type(e.scheme);
      if (g == nullptr)
        detail::st_fail(f, key, "ggml_type", "expected q8_0, q4_0 or q4_1, found '" + e.scheme + "'");
      if (e.cols % g->block_size != 0)
        detail::st_fail(
            f, key, "cols",
            "expected a multiple of " + std::to_string(g->block_size) + ", found " + std::to_string(e.cols));
      if (f.find(key) == nullptr)
        detail::st_fail(f, key, "data", "expected a U8 tensor of blocks, found none");
    } else {
      detail::only_fields(f, key, j,
                          {"scheme", "scheme_id", "bits", "granularity", "group_size", "rows", "cols"});
      e.scheme = detail::json_string(f, key, j, "scheme");
      const detail::scheme_layout* l = detail::layout_of_scheme(e.scheme);
      if (l == nullptr)
        detail::st_fail(f, key, "scheme", "expected a named qlite scheme, found '" + e.scheme + "'");
      const std::string sid = detail::json_string(f, key, j, "scheme_id");
      if (sid != to_string(l->scheme))
        detail::st_fail(f, key, "scheme_id",
                        "expected '" + std::string(to_string(l->scheme)) + "' (scheme " + e.scheme +
                            "), found '" + sid + "'");
      const std::uint64_t bits = detail::json_uint(f, key, j, "bits", 8);
      if (bits != static_cast<std::uint64_t>(l->bits))
        detail::st_fail(f, key, "bits",
                        "expected " + std::to_string(l->bits) + " (scheme " + e.scheme + "), found " +
                            std::to_string(bits));
      const std::string gran = detail::json_string(f, key, j, "granularity");
      if (gran != to_string(l->granularity))
        detail::st_fail(f, key, "granularity",
                        "expected '" + std::string(to_string(l->granularity)) + "' (scheme " + e.scheme +
                            "), found '" + gran + "'");
      const std::uint64_t gs = detail::json_uint(f, key, j, "group_size", max_dim);
      const std::size_t want_gs = l->granularity == granularity_id::per_group     ? l->group_size
                                  : l->granularity == granularity_id::per_channel ? e.cols
                                                                                  : 0;
      if (gs != want_gs)
        detail::st_fail(f, key, "group_size",
                        "expected " + std::to_string(want_gs) + ", found " + std::to_string(gs));
    }
    described.insert(e.name);
    out.push_back(std::move(e));
  }
  for (const safetensors_tensor& t : f.tensors()) {
    for (std::string_view s : detail::component_suffixes) {
      const std::string_view n = t.name;
      if (n.size() > s.size() && n.ends_with(s) && !described.contains(n.substr(0, n.size() - s.size())))
        detail::st_fail(f, n.substr(0, n.size() - s.size()), t.name,
                        "a component tensor that no __metadata__ entry describes");
    }
  }
  return out;
}

/// True for the tensors of `f` that belong to a quantized entry (components and block tensors).
inline bool is_quantized_storage(const std::vector<st_quantized_entry>& entries, std::string_view tensor) {
  for (const auto& e : entries) {
    if (e.ggml ? tensor == e.name : tensor.starts_with(e.name)) {
      if (e.ggml) return true;
      const std::string_view rest = tensor.substr(e.name.size());
      for (std::string_view s : detail::component_suffixes)
        if (rest == s) return true;
    }
  }
  return false;
}

/// Rebuilds the qlite quantized tensor `e` (from find_quantized_entries(f), not ggml).
inline quantized_tensor read_quantized(const safetensors_file& f, const st_quantized_entry& e) {
  const detail::scheme_layout* l = detail::layout_of_scheme(e.scheme);
  if (l == nullptr || e.ggml)
    detail::st_fail(f, e.name, "scheme", "expected a named qlite scheme, found '" + e.scheme + "'");
  quantized_tensor t;
  t.rows = e.rows;
  t.cols = e.cols;
  t.bits = l->bits;
  t.scheme = l->scheme;
  t.granularity = l->granularity;
  t.group_size = l->granularity == granularity_id::per_group     ? l->group_size
                 : l->granularity == granularity_id::per_channel ? e.cols
                                                                 : 0;
  const auto pshape = detail::parameter_shape(t.granularity, t.rows, t.cols, t.group_size);
  const std::size_t groups = pshape[0] * pshape[1];
  const auto& codes = detail::component(f, e.name, ".codes", {st_dtype::u8}, {t.rows, t.row_bytes()});
  const auto& scales = detail::component(f, e.name, ".scales", {st_dtype::f32, st_dtype::f16}, pshape);
  t.codes = aligned_buffer<std::uint8_t>(codes.data.size(), uninitialized);
  if (!codes.data.empty()) std::memcpy(t.codes.data(), codes.data.data(), codes.data.size());
  t.scales.resize(groups);
  for (std::size_t i = 0; i < groups; ++i) {
    if (scales.dtype == st_dtype::f32) {
      std::memcpy(&t.scales[i], scales.data.data() + 4 * i, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, scales.data.data() + 2 * i, 2);
      t.scales[i] = ref::fp16_bits_to_fp32(h);
    }
    if (!std::isfinite(t.scales[i]))
      detail::st_fail(f, e.name, e.name + ".scales",
                      "expected finite scales, found a non-finite one at " + std::to_string(i));
  }
  const bool asym = t.scheme == scheme_id::asymmetric;
  if (asym) {
    const auto& zp = detail::component(f, e.name, ".zero_points", {st_dtype::u8}, pshape);
    t.zero_points.assign(reinterpret_cast<const std::uint8_t*>(zp.data.data()),
                         reinterpret_cast<const std::uint8_t*>(zp.data.data()) + zp.data.size());
    for (std::size_t i = 0; i < groups; ++i)
      if (t.zero_points[i] >= (1U << t.bits))
        detail::st_fail(f, e.name, e.name + ".zero_points",
                        "expected values below 2^" + std::to_string(t.bits) + ", found " +
                            std::to_string(t.zero_points[i]) + " at " + std::to_string(i));
  } else if (f.find(e.name + ".zero_points") != nullptr) {
    detail::st_fail(f, e.name, e.name + ".zero_points",
                    "a symmetric scheme has no zero points, found the tensor");
  }
  try {
    validate(t);
  } catch (const error& x) {
    detail::st_fail(f, e.name, "components", x.what());
  }
  return t;
}

/// The ggml blocks of entry `e` (ggml): a view into the file, rows × cols / 32 blocks.
inline std::span<const std::byte> read_ggml_blocks(const safetensors_file& f, const st_quantized_entry& e) {
  const st_ggml_type* g = e.ggml ? find_st_ggml_type(e.scheme) : nullptr;
  if (g == nullptr)
    detail::st_fail(f, e.name, "ggml_type", "expected q8_0, q4_0 or q4_1, found '" + e.scheme + "'");
  return detail::component(f, e.name, "", {st_dtype::u8}, {e.rows, e.cols / g->block_size * g->block_bytes})
      .data;
}

/// Dequantizes ggml blocks of `type` (rows × cols) into `out` (rows · cols floats).
inline void dequantize_ggml_blocks(std::string_view type, std::span<const std::byte> blocks, std::size_t rows,
                                   std::size_t cols, std::span<float> out) {
  const st_ggml_type* g = find_st_ggml_type(type);
  if (g == nullptr)
    throw error(errc::invalid_argument,
                "dequantize_ggml_blocks: unsupported type '" + std::string(type) + "'");
  if (cols % g->block_size != 0 || blocks.size() != rows * (cols / g->block_size) * g->block_bytes ||
      out.size() != rows * cols)
    throw error(errc::invalid_argument, "dequantize_ggml_blocks: " + std::string(type) + " " +
                                            std::to_string(rows) + " × " + std::to_string(cols) +
                                            ": block or output size mismatch");
  ref::visit_block_type(type, [&]<class Block>(Block*) { ref::dequantize_rows<Block>(blocks, cols, out); });
}

}  // namespace qlite
