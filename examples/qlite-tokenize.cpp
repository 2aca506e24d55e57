// qlite-tokenize: text → token ids (or ids → bytes) with a tiktoken rank file, a Hugging
// Face tokenizer.json, a llama2.c tokenizer.bin or the vocabulary of a GGUF file.
//
//   qlite-tokenize --encoding cl100k_base --vocab cl100k_base.tiktoken notes.txt
//   echo "hello" | qlite-tokenize --tokenizer-json qwen3/tokenizer.json --count
//   qlite-tokenize --encoding o200k_base --vocab o200k_base.tiktoken --ids-out ids.u32 doc.txt
//   qlite-tokenize --encoding o200k_base --vocab o200k_base.tiktoken --decode ids.u32
//   qlite-tokenize --encoding gpt2 --vocab r50k_base.tiktoken --bench doc.txt
//   qlite-tokenize --llama2c-tokenizer tok512.bin --bos story.txt
//   qlite-tokenize --gguf stories260K.gguf --bench tinystories_val.txt
#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <qlite/core/parallel_for.hpp>
#include <qlite/tokenizer/sentencepiece.hpp>
#include <qlite/tokenizer/tiktoken.hpp>
#include <qlite/tokenizer/tokenizer_json.hpp>

namespace {

constexpr const char* usage =
    "usage: qlite-tokenize TOKENIZER [options] [FILE]\n"
    "TOKENIZER, one of:\n"
    "  --encoding NAME --vocab FILE.tiktoken   byte-level BPE; NAME: gpt2, r50k_base, cl100k_base,\n"
    "                                          o200k_base (picks the pattern and special tokens)\n"
    "  --tokenizer-json FILE                   byte-level BPE from a Hugging Face tokenizer.json\n"
    "  --llama2c-tokenizer FILE                SentencePiece BPE from a llama2.c tokenizer.bin\n"
    "  --gguf FILE                             SentencePiece BPE from a GGUF file's tokenizer.ggml.*\n"
    "                                          (tokenizer.ggml.model \"llama\")\n"
    "  FILE: the text to encode (or the ids to decode); standard input when absent\n"
    "options:\n"
    "  --ids-out FILE   write the ids as raw little-endian uint32 (no header)\n"
    "  --count          print the number of tokens only\n"
    "  --decode         read raw little-endian uint32 ids and write their bytes\n"
    "  --allow-special  match every special token (tiktoken family; tokenizer.json always does)\n"
    "  --ordinary       never match special tokens\n"
    "  --bos, --eos     SentencePiece: add BOS / EOS (as llama2.c's encode(text, bos, eos))\n"
    "  --bench          print encode and decode MB/s (best of 5)\n"
    "  --threads N      threads for --bench batch encoding (default: all)\n"
    "Without --count/--ids-out/--bench the ids are printed, space-separated.\n";

std::string read_input(const std::optional<std::string>& file) {
  if (file) return qlite::detail::read_file(*file);
  std::string data;
  char buf[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, stdin)) > 0) data.append(buf, got);
  return data;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
    throw qlite::error(qlite::errc::io, path + ": cannot write");
  std::fclose(f);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Best of 5 runs: wall seconds, and (for single-threaded work) this thread's CPU seconds —
/// the latter is what to compare on a shared machine.
template <class F>
std::pair<double, double> best_seconds(F&& f) {
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < 5; ++r) {
    const double c0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
  }
  return {best, best_cpu};
}

int run(int argc, char** argv) {
  std::optional<std::string> encoding, vocab, tokenizer_json, llama2c, gguf, ids_out, input;
  bool count = false, decode = false, bench = false, allow_special = false, ordinary = false, bos = false,
       eos = false;
  unsigned threads = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw qlite::error(qlite::errc::invalid_argument, a + " needs a value");
      return argv[++i];
    };
    if (a == "--encoding")
      encoding = value();
    else if (a == "--vocab")
      vocab = value();
    else if (a == "--tokenizer-json")
      tokenizer_json = value();
    else if (a == "--llama2c-tokenizer")
      llama2c = value();
    else if (a == "--gguf")
      gguf = value();
    else if (a == "--bos")
      bos = true;
    else if (a == "--eos")
      eos = true;
    else if (a == "--ids-out")
      ids_out = value();
    else if (a == "--count")
      count = true;
    else if (a == "--decode")
      decode = true;
    else if (a == "--bench")
      bench = true;
    else if (a == "--allow-special")
      allow_special = true;
    else if (a == "--ordinary")
      ordinary = true;
    else if (a == "--threads")
      threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-' && a != "-") {
      throw qlite::error(qlite::errc::invalid_argument, "unknown option " + a + "\n" + usage);
    } else if (!input) {
      if (a != "-") input = a;
    } else {
      throw qlite::error(qlite::errc::invalid_argument, std::string("more than one input file\n") + usage);
    }
  }
  // One of the two tokenizer families, behind three functions.
  std::optional<qlite::tokenizer> tok;
  std::optional<qlite::sentencepiece_tokenizer> sp;
  const int sources = int{tokenizer_json.has_value()} + int{encoding || vocab} + int{llama2c.has_value()} +
                      int{gguf.has_value()};
  if (sources != 1) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (tokenizer_json) {
    tok.emplace(qlite::load_tokenizer_json(*tokenizer_json));
  } else if (encoding && vocab) {
    tok.emplace(qlite::load_tiktoken(*vocab, *encoding));
  } else if (llama2c) {
    sp.emplace(qlite::sentencepiece_from_llama2c(qlite::read_llama2c_tokenizer(*llama2c), *llama2c));
  } else if (gguf) {
    sp.emplace(qlite::sentencepiece_from_gguf(qlite::gguf_file(*gguf)));
  } else {
    std::fputs(usage, stderr);
    return 2;
  }
  if ((bos || eos) && !sp)
    throw qlite::error(qlite::errc::invalid_argument,
                       "--bos/--eos apply to --llama2c-tokenizer and --gguf only");
  if ((allow_special || ordinary) && sp)
    throw qlite::error(qlite::errc::invalid_argument,
                       "--allow-special/--ordinary apply to the byte-level tokenizers only");
  const std::string name = tok ? tok->name() : sp->name();
  const std::function<std::string(std::span<const std::uint32_t>)> decode_ids =
      [&](std::span<const std::uint32_t> ids) { return tok ? tok->decode(ids) : sp->decode(ids); };

  const std::string data = read_input(input);
  if (decode) {
    if (data.size() % 4 != 0)
      throw qlite::error(qlite::errc::format, input.value_or("<stdin>") + ": " + std::to_string(data.size()) +
                                                  " bytes is not a multiple of 4 (expected uint32 ids)");
    std::vector<std::uint32_t> ids(data.size() / 4);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto* b = reinterpret_cast<const unsigned char*>(data.data() + 4 * k);
      ids[k] = std::uint32_t{b[0]} | (std::uint32_t{b[1]} << 8) | (std::uint32_t{b[2]} << 16) |
               (std::uint32_t{b[3]} << 24);
    }
    const std::string out = decode_ids(ids);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }

  auto encode = [&](std::string_view text) {
    if (sp) return sp->encode(text, bos, eos);
    if (ordinary) return tok->encode_ordinary(text);
    if (allow_special) return tok->encode(text, qlite::special_set::all(), qlite::special_set::none());
    return tok->encode(text);
  };

  if (bench) {
    std::vector<std::uint32_t> ids;
    const double mb = static_cast<double>(data.size()) / 1e6;
    const auto te = best_seconds([&] { ids = encode(data); });
    std::string back;
    const auto td = best_seconds([&] { back = decode_ids(ids); });
    // batch: the text cut into ~64 KiB line-aligned chunks
    std::vector<std::string_view> chunks;
    for (std::size_t pos = 0; pos < data.size();) {
      std::size_t end = std::min(data.size(), pos + (64u << 10));
      const std::size_t nl = data.find('\n', end);
      end = nl == std::string::npos ? data.size() : nl + 1;
      chunks.push_back(std::string_view(data).substr(pos, end - pos));
      pos = end;
    }
    const unsigned nt = threads == 0 ? qlite::default_threads() : threads;
    const auto tb = best_seconds([&] {
      if (tok) {
        (void)tok->encode_batch(chunks, nt);
      } else {
        std::vector<std::vector<std::uint32_t>> out(chunks.size());
        qlite::parallel_for(
            chunks.size(),
            [&](std::size_t b, std::size_t e) {
              for (std::size_t k = b; k < e; ++k) out[k] = encode(chunks[k]);
            },
            nt);
      }
    });
    fmt::print("{}: {:.2f} MB, {} tokens ({:.2f} bytes/token)\n", name, mb, ids.size(),
               static_cast<double>(data.size()) / static_cast<double>(std::max<std::size_t>(1, ids.size())));
    fmt::print("encode  {:8.1f} MB/s wall  {:8.1f} MB/s cpu  {:6.2f} Mtok/s (1 thread)\n", mb / te.first,
               mb / te.second, static_cast<double>(ids.size()) / te.second / 1e6);
    fmt::print("batch   {:8.1f} MB/s wall  ({} threads, {} chunks)\n", mb / tb.first, nt, chunks.size());
    fmt::print("decode  {:8.1f} MB/s wall  {:8.1f} MB/s cpu\n", mb / td.first, mb / td.second);
    return 0;
  }

  const std::vector<std::uint32_t> ids = encode(data);
  if (ids_out) {
    std::string raw(ids.size() * 4, '\0');
    for (std::size_t k = 0; k < ids.size(); ++k)
      for (int b = 0; b < 4; ++b)
        raw[4 * k + static_cast<std::size_t>(b)] = static_cast<char>((ids[k] >> (8 * b)) & 0xFF);
    write_file(*ids_out, raw);
  }
  if (count) {
    fmt::print("{}\n", ids.size());
  } else if (!ids_out) {
    std::string line;
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (k) line.push_back(' ');
      line += std::to_string(ids[k]);
    }
    fmt::print("{}\n", line);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "qlite-tokenize: {}\n", e.what());
    return 1;
  }
}
