// qlite — safetensors files: a validated, memory-mapped reader and a writer.
//
// Layout (huggingface/safetensors):
//
//   header_size : u64 LE | header : header_size bytes of UTF-8 JSON | data section
//   header = { "<tensor name>": { "dtype": "F32", "shape": [rows, cols], "data_offsets": [begin, end] },
//              ...,
//              "__metadata__": { "<key>": "<string value>", ... } }          (optional)
//   data_offsets are relative to the data section; end - begin = product(shape) · dtype size.
//
// Contract (reader)
//   safetensors_file maps the file and validates: the header size (≥ 2, ≤ 100 MB, inside the
//   file), the JSON (an object of objects; unknown fields rejected), each dtype (F32 F16 BF16
//   I8 U8 I32 here; other valid safetensors dtypes throw errc::unsupported), each shape
//   (non-negative integers, product overflow-checked), each data_offsets pair (begin ≤ end,
//   end - begin matching shape and dtype), and the data section: tensors sorted by offset
//   must tile it exactly, without holes or overlaps (the reference implementation's rule).
//   __metadata__ must map strings to strings. Violations throw qlite::error(errc::format)
//   naming the file, the offset (of the header field or of the data) and the tensor/field.
//   tensor data are views into the mapping.
//
// Contract (writer)
//   safetensors_writer takes named tensors (bytes the caller keeps alive until write()) and
//   string metadata, lays them out sorted by dtype size (largest first) then name, so every
//   tensor is naturally aligned, pads the JSON header with spaces to a multiple of 8, and
//   writes through qlite::atomic_file (temporary + rename; never over a mapped input).
//
//   Quantized tensors are stored as component tensors, e.g. "<name>.codes" (U8/I8),
//   "<name>.scales" (F16/F32), "<name>.zero_points" (U8/I8/I32), with __metadata__ entries that
//   say how to rebuild them; docs/formats.md fixes the convention used by qlite-quantize.
//
// This header (only this one in qlite) needs nlohmann-json (find_package(nlohmann_json 3)).
//
// Cost: reading parses the JSON header once (O(header)); data is touched only when used.
//
//   qlite::safetensors_file in("model.safetensors");
//   const auto& t = in.tensor("lm_head.weight");               // t.dtype, t.shape
//   std::span<const float> w = in.f32_view(t);
//   qlite::safetensors_writer out;
//   out.add("lm_head.weight", qlite::st_dtype::f32, {512, 64}, std::as_bytes(w));
//   out.set_metadata("format", "pt");
//   out.write("copy.safetensors");
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "qlite/core/error.hpp"
#include "qlite/io/atomic_file.hpp"
#include "qlite/io/binary.hpp"
#include "qlite/io/mmap.hpp"

namespace qlite {

/// The safetensors element types qlite reads and writes.
enum class st_dtype : std::uint8_t { f32, f16, bf16, i8, u8, i32 };

constexpr std::string_view to_string(st_dtype d) noexcept {
  switch (d) {
    case st_dtype::f32:
      return "F32";
    case st_dtype::f16:
      return "F16";
    case st_dtype::bf16:
      return "BF16";
    case st_dtype::i8:
      return "I8";
    case st_dtype::u8:
      return "U8";
    case st_dtype::i32:
      return "I32";
  }
  return "?";
}
/// Bytes per element.
constexpr std::size_t size_of(st_dtype d) noexcept {
  switch (d) {
    case st_dtype::f32:
    case st_dtype::i32:
      return 4;
    case st_dtype::f16:
    case st_dtype::bf16:
      return 2;
    case st_dtype::i8:
    case st_dtype::u8:
      return 1;
  }
  return 1;
}

/// One tensor of a safetensors file.
struct safetensors_tensor {
  std::string name;
  st_dtype dtype = st_dtype::f32;
  std::vector<std::size_t> shape;  ///< row-major, outermost first
  std::uint64_t begin = 0;         ///< data_offsets[0], relative to the data section
  std::uint64_t end = 0;           ///< data_offsets[1]
  std::span<const std::byte> data;
  [[nodiscard]] std::size_t n_elements() const noexcept {
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
};

/// A validated safetensors file. Construct from a path (mapped) or from bytes the caller keeps alive.
class safetensors_file {
 public:
  /// The reference implementation's limit on the header size.
  static constexpr std::uint64_t max_header_size = 100'000'000;

  explicit safetensors_file(std::string path) : owned_(std::in_place, std::move(path)) {
    bytes_ = owned_->bytes();
    name_ = owned_->path();
    parse();
  }
  safetensors_file(std::span<const std::byte> bytes, std::string name)
      : bytes_(bytes), name_(std::move(name)) {
    parse();
  }
  safetensors_file(const safetensors_file&) = delete;
  safetensors_file& operator=(const safetensors_file&) = delete;
  safetensors_file(safetensors_file&&) = default;
  safetensors_file& operator=(safetensors_file&&) = default;

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// Tensors in the order of their data offsets.
  [[nodiscard]] const std::vector<safetensors_tensor>& tensors() const noexcept { return tensors_; }
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  [[nodiscard]] std::uint64_t data_offset() const noexcept { return data_offset_; }

  [[nodiscard]] const safetensors_tensor* find(std::string_view name) const noexcept {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }
  [[nodiscard]] const safetensors_tensor& tensor(std::string_view name) const {
    if (const auto* t = find(name)) return *t;
    throw error(errc::invalid_argument, name_ + ": no tensor named '" + std::string(name) + "'");
  }
  /// An F32 tensor viewed in place (throws if not F32 or not 4-byte aligned).
  [[nodiscard]] std::span<const float> f32_view(const safetensors_tensor& t) const {
    if (t.dtype != st_dtype::f32) {
      throw error(errc::invalid_argument,
                  name_ + ": tensor '" + t.name + "' is " + std::string(to_string(t.dtype)) + ", not F32");
    }
    if (reinterpret_cast<std::uintptr_t>(t.data.data()) % alignof(float) != 0) {
      throw error(errc::unsupported, name_ + ": tensor '" + t.name + "' data is not 4-byte aligned");
    }
    return {reinterpret_cast<const float*>(t.data.data()), t.data.size() / 4};
  }

 private:
  void parse() {
    detail::byte_reader r(bytes_, name_);
    const auto n = r.read<std::uint64_t>("header_size");
    if (n < 2 || n > max_header_size || n > r.remaining()) {
      r.fail_at(0, "header_size",
                "expected 2 ≤ size ≤ min(100 MB, " + std::to_string(r.remaining()) +
                    " bytes left in the file), found " + std::to_string(n));
    }
    const auto hb = r.bytes(n, "header");
    data_offset_ = 8 + n;
    const std::string_view text(reinterpret_cast<const char*>(hb.data()), hb.size());
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      // Re-parse with exceptions for the position of the first error.
      std::string why = "invalid JSON";
      try {
        const auto again = nlohmann::json::parse(text);
        (void)again;
      } catch (const nlohmann::json::parse_error& e) {
        r.fail_at(8 + (e.byte > 0 ? e.byte - 1 : 0), "header", std::string("expected JSON: ") + e.what());
      } catch (const std::exception& e) {
        why = e.what();
      }
      r.fail_at(8, "header", "expected JSON, found " + why);
    }
    if (!j.is_object()) r.fail_at(8, "header", "expected a JSON object");
    const std::uint64_t data_size = bytes_.size() - data_offset_;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      const auto& v = it.value();
      if (key == "__metadata__") {
        if (!v.is_object()) r.fail_at(8, "__metadata__", "expected an object of strings");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string()) {
            r.fail_at(8, "__metadata__." + m.key(),
                      "expected a string value, found " + std::string(m.value().type_name()));
          }
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const std::string f = "tensor '" + key + "'";
      if (!v.is_object()) r.fail_at(8, f, "expected an object with dtype, shape, data_offsets");
      safetensors_tensor t;
      t.name = key;
      for (auto fld = v.begin(); fld != v.end(); ++fld) {
        if (fld.key() != "dtype" && fld.key() != "shape" && fld.key() != "data_offsets") {
          r.fail_at(8, f, "expected only dtype, shape, data_offsets, found '" + fld.key() + "'");
        }
      }
      const auto dt = v.find("dtype");
      if (dt == v.end() || !dt->is_string()) r.fail_at(8, f + ".dtype", "expected a string");
      t.dtype = parse_dtype(r, dt->get<std::string>(), f);
      const auto sh = v.find("shape");
      if (sh == v.end() || !sh->is_array()) r.fail_at(8, f + ".shape", "expected an array of integers");
      std::uint64_t count = 1;
      for (const auto& d : *sh) {
        if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0)) {
          r.fail_at(8, f + ".shape", "expected non-negative integers, found " + d.dump());
        }
        const auto s = d.get<std::uint64_t>();
        count = detail::checked_mul(count, s, name_, 8, f + ".shape");
        t.shape.push_back(static_cast<std::size_t>(s));
      }
      const std::uint64_t nbytes = detail::checked_mul(count, size_of(t.dtype), name_, 8, f + ".shape");
      const auto off = v.find("data_offsets");
      if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
          !(*off)[1].is_number_unsigned()) {
        r.fail_at(8, f + ".data_offsets", "expected [begin, end] as two non-negative integers");
      }
      t.begin = (*off)[0].get<std::uint64_t>();
      t.end = (*off)[1].get<std::uint64_t>();
      if (t.begin > t.end || t.end - t.begin != nbytes) {
        r.fail_at(8, f + ".data_offsets",
                  "expected end - begin = " + std::to_string(nbytes) + " bytes (" + std::to_string(count) +
                      " × " + std::string(to_string(t.dtype)) + "), found [" + std::to_string(t.begin) +
                      ", " + std::to_string(t.end) + "]");
      }
      if (t.end > data_size) {
        r.fail_at(data_offset_ + t.begin, f + ".data_offsets",
                  "expected the data to end inside the file's data section of " + std::to_string(data_size) +
                      " bytes, found end " + std::to_string(t.end));
      }
      t.data =
          bytes_.subspan(static_cast<std::size_t>(data_offset_ + t.begin), static_cast<std::size_t>(nbytes));
      tensors_.push_back(std::move(t));
    }
    std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t expect = 0;
    for (const auto& t : tensors_) {
      if (t.begin != expect) {
        r.fail_at(data_offset_ + std::min(t.begin, expect), "tensor '" + t.name + "'.data_offsets",
                  std::string("expected the tensors to tile the data section without ") +
                      (t.begin > expect ? "holes" : "overlaps") + ": begin " + std::to_string(expect) +
                      ", found " + std::to_string(t.begin));
      }
      expect = t.end;
    }
    if (expect != data_size) {
      r.fail_at(data_offset_ + expect, "data section",
                "expected the tensors to cover the " + std::to_string(data_size) + " data bytes, found " +
                    std::to_string(expect));
    }
  }

  st_dtype parse_dtype(const detail::byte_reader& r, const std::string& s, const std::string& f) const {
    static constexpr std::pair<std::string_view, st_dtype> known[] = {
        {"F32", st_dtype::f32}, {"F16", st_dtype::f16}, {"BF16", st_dtype::bf16},
        {"I8", st_dtype::i8},   {"U8", st_dtype::u8},   {"I32", st_dtype::i32}};
    for (const auto& [n, d] : known)
      if (s == n) return d;
    static constexpr std::string_view other[] = {"BOOL", "I16",     "U16",     "U32",     "I64",
                                                 "U64",  "F64",     "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                                 "F4",   "F6_E2M3", "F6_E3M2"};
    for (const auto& n : other) {
      if (s == n) {
        throw error(errc::unsupported,
                    name_ + ": " + f + ".dtype: " + s + " is a safetensors dtype qlite does not read");
      }
    }
    r.fail_at(8, f + ".dtype", "expected one of F32 F16 BF16 I8 U8 I32, found \"" + s + "\"");
  }

  std::optional<mapped_file> owned_;
  std::span<const std::byte> bytes_;
  std::string name_;
  std::uint64_t data_offset_ = 0;
  std::vector<safetensors_tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// Builds and writes a safetensors file (see the contract at the top of this file).
class safetensors_writer {
 public:
  /// Adds a tensor; `data` (kept alive by the caller until write()) must hold exactly
  /// product(shape) · size_of(dtype) bytes.
  void add(std::string name, st_dtype dtype, std::vector<std::size_t> shape,
           std::span<const std::byte> data) {
    if (name.empty() || name == "__metadata__") {
      throw error(errc::invalid_argument, "safetensors_writer: invalid tensor name '" + name + "'");
    }
    for (const auto& e : entries_)
      if (e.name == name)
        throw error(errc::invalid_argument, "safetensors_writer: tensor '" + name + "' added twice");
    std::uint64_t n = size_of(dtype);
    for (auto s : shape) n = detail::checked_mul(n, s, "safetensors_writer", 0, name);
    if (n != data.size()) {
      throw error(errc::invalid_argument, "safetensors_writer: tensor '" + name + "': shape and dtype take " +
                                              std::to_string(n) + " bytes, data has " +
                                              std::to_string(data.size()));
    }
    entries_.push_back({std::move(name), dtype, std::move(shape), data});
  }
  /// Sets a __metadata__ entry.
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  void write(const std::string& path, write_options options = {}) const {
    std::vector<const entry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](const entry* a, const entry* b) {
      return size_of(a->dtype) != size_of(b->dtype) ? size_of(a->dtype) > size_of(b->dtype)
                                                    : a->name < b->name;
    });
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!metadata_.empty()) {
      auto m = nlohmann::ordered_json::object();
      for (const auto& [k, v] : metadata_) m[k] = v;
      j["__metadata__"] = std::move(m);
    }
    std::uint64_t offset = 0;
    for (const entry* e : order) {
      auto t = nlohmann::ordered_json::object();
      t["dtype"] = std::string(to_string(e->dtype));
      t["shape"] = e->shape;
      t["data_offsets"] = {offset, offset + e->data.size()};
      offset += e->data.size();
      j[e->name] = std::move(t);
    }
    std::string header = j.dump();
    while (header.size() % 8 != 0) header.push_back(' ');
    const std::uint64_t n = header.size();
    atomic_file out(path, options);
    out.write(&n, sizeof n);
    out.write(header.data(), header.size());
    for (const entry* e : order) out.write(e->data.data(), e->data.size());
    out.commit();
  }

 private:
  struct entry {
    std::string name;
    st_dtype dtype;
    std::vector<std::size_t> shape;
    std::span<const std::byte> data;
  };
  std::vector<entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace qlite
