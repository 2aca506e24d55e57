// qlite-quantize: convert a llama checkpoint (llama2.c, GGUF, qlite safetensors) to GGUF or
// safetensors with the weight formats a precision policy chooses (model/export.hpp).
//
//   qlite-quantize stories260K.bin stories260K-q8_0.gguf --format q8_0 --tokenizer tok512.bin
//   qlite-quantize stories260K.gguf stories260K-q4_0.gguf --policy "q4_0,blk.*.ffn_down.weight=q8_0"
//   qlite-quantize stories260K.bin stories260K-int4.safetensors --format int4a_g32
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <qlite/model/checkpoint.hpp>
#include <qlite/model/export.hpp>

namespace {

constexpr const char* usage =
    "usage: qlite-quantize IN OUT [--policy SPEC | --format FMT] [--tokenizer FILE] [--name NAME]\n"
    "                      [--force] [--quiet]\n"
    "  IN               a llama checkpoint: llama2.c .bin, GGUF, or a safetensors file qlite wrote\n"
    "  OUT              OUT.gguf (f32 f16 bf16 q8_0 q4_0 q4_1) or OUT.safetensors (also int8,\n"
    "                   int4_g32/64/128, int4a_g32/64/128)\n"
    "  --format FMT     every block linear in FMT; norms, embedding and classifier stay f32\n"
    "  --policy SPEC    FMT[,GLOB=FMT]... e.g. \"q4_0,blk.*.ffn_down.weight=q8_0\" (later rules win)\n"
    "  --tokenizer FILE llama2.c tokenizer.bin: the GGUF vocabulary for a llama2.c input\n"
    "                   (a GGUF input's tokenizer.ggml.* keys are copied)\n"
    "  --name NAME      general.name (default: the input's, else its file name)\n"
    "  --force          replace an existing OUT (never IN)\n"
    "  --quiet          no per-tensor lines or progress bar, only the summary\n"
    "Rows whose length is not a multiple of the format's block/group fall back to f16.\n";

std::string human(std::uint64_t bytes) {
  if (bytes >= 10 * 1024 * 1024)
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  if (bytes >= 10 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024.0);
  return fmt::format("{} B", bytes);
}

std::string shape_text(const std::vector<std::size_t>& s) {
  std::string r;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) r += 'x';
    r += std::to_string(s[i]);
  }
  return r;
}

int run(int argc, char** argv) {
  std::vector<std::string> positional;
  qlite::export_options o;
  bool quiet = false, have_policy = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view flag) -> std::string {
      if (i + 1 >= argc)
        throw qlite::error(qlite::errc::invalid_argument, std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (a == "--policy" || a == "--format") {
      if (have_policy)
        throw qlite::error(qlite::errc::invalid_argument, "give one of --policy and --format, once");
      o.policy = value(a);
      have_policy = true;
    } else if (a == "--tokenizer") {
      o.tokenizer = value(a);
    } else if (a == "--name") {
      o.name = value(a);
    } else if (a == "--force") {
      o.overwrite = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      return 0;
    } else if (a.starts_with("-")) {
      fmt::print(stderr, "qlite-quantize: unknown option {}\n{}", a, usage);
      return 2;
    } else {
      positional.emplace_back(a);
    }
  }
  if (positional.size() != 2) {
    fmt::print(stderr, "{}", usage);
    return 2;
  }
  const std::string& in_path = positional[0];
  const std::string& out_path = positional[1];
  (void)qlite::container_of(out_path);  // a wrong extension fails before loading

  const qlite::checkpoint ck = qlite::load_checkpoint(in_path);
  const bool tty = isatty(fileno(stderr)) != 0;
  if (!quiet)
    fmt::print(stderr, "{}: {} ({}), {} tensors, {} parameters; policy \"{}\"\n", in_path, ck.format,
               human(ck.file_bytes), ck.tensors.size(), ck.config.parameter_count(), o.policy);
  if (!quiet) {
    o.on_tensor = [tty](const qlite::export_tensor& t, std::size_t i, std::size_t n) {
      if (tty) {
        constexpr std::size_t width = 30;
        const std::size_t filled = (i + 1) * width / n;
        fmt::print(stderr, "\r[{}{}] {:>3}/{} {:<28}", std::string(filled, '#'),
                   std::string(width - filled, ' '), i + 1, n, t.name.substr(0, 28));
        if (i + 1 == n) fmt::print(stderr, "\n");
      } else {
        fmt::print(stderr, "[{:>3}/{}] {:<26} {:>8} {:>5} {:>9}{}\n", i + 1, n, t.name, shape_text(t.shape),
                   t.stored, human(t.bytes), t.stored != t.requested ? " (" + t.requested + " → f16)" : "");
      }
    };
  }
  const qlite::export_report r = qlite::export_checkpoint(ck, out_path, o);

  // Notices "<tensor>: <what>" that say the same thing are printed once, with their tensors.
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;
  for (const auto& n : r.notices) {
    const std::size_t colon = n.find(": ");
    const bool per_tensor = colon != std::string::npos && ck.find(n.substr(0, colon)) != nullptr;
    const std::string what = per_tensor ? n.substr(colon + 2) : n;
    auto it = std::find_if(grouped.begin(), grouped.end(), [&](const auto& g) { return g.first == what; });
    if (it == grouped.end()) it = grouped.insert(grouped.end(), {what, {}});
    if (per_tensor) it->second.push_back(n.substr(0, colon));
  }
  for (const auto& [what, names] : grouped) {
    std::string who;
    for (const auto& n : names) who += (who.empty() ? "" : ", ") + n;
    fmt::print(stderr, "notice: {}{}{}\n", who, who.empty() ? "" : ": ", what);
  }
  std::string types;
  for (const auto& [type, count] : r.count_by_type())
    types += fmt::format("{}{} {}", types.empty() ? "" : ", ", count, type);
  fmt::print("{}: {} tensors ({}); {} → {} ({:.2f}x); {:.3f} bits/weight; {:.2f} s\n", out_path,
             r.tensors.size(), types, human(r.input_bytes), human(r.output_bytes),
             static_cast<double>(r.input_bytes) / static_cast<double>(r.output_bytes), r.bits_per_weight(),
             r.seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qlite-quantize: {}\n", e.what());
    return 1;
  }
}
