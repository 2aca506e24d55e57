// The command line shared by qlite-compare and qlite-demo MODEL: load a model, tokenize the
// evaluation text, run qlite::compare over the formats, print/write the results.
// (Usage: see qlite-compare.cpp.)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <qlite/io/atomic_file.hpp>
#include <qlite/model/compare.hpp>
#include <qlite/model/report.hpp>
#include <qlite/tokenizer/sentencepiece.hpp>

namespace qlite_examples {

inline const char*& program_name() {
  static const char* name = "qlite-compare";
  return name;
}

[[noreturn]] inline void usage(const char* msg) {
  std::fprintf(stderr,
               "%s: %s\nusage: %s MODEL (--text FILE [--tokenizer FILE] | --tokens FILE)\n"
               "       [--max-sequences N] [--format POLICY]... [--threads N] [--json FILE] [--markdown FILE]"
               " [--svg FILE]\n",
               program_name(), msg, program_name());
  std::exit(2);
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw qlite::error(qlite::errc::io, path + ": cannot open");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

/// Paragraphs of `text` split at "\n\n", stripped of ASCII whitespace, non-empty.
inline std::vector<std::string> paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t end = text.find("\n\n", at);
    if (end == std::string::npos) end = text.size();
    std::string p = text.substr(at, end - at);
    const auto first = p.find_first_not_of(" \t\n\r\f\v");
    if (first != std::string::npos)
      out.push_back(p.substr(first, p.find_last_not_of(" \t\n\r\f\v") - first + 1));
    at = end + 2;
  }
  return out;
}

inline void write_text(const std::string& path, const std::string& content) {
  qlite::atomic_file f(path);
  f.write(content.data(), content.size());
  f.commit();
}

/// The qlite-compare command line (argv[first..argc)); returns the exit code. `prog` names
/// the program in messages.
inline int run_compare_cli(int argc, char** argv, int first, const char* prog) try {
  program_name() = prog;
  std::string model_path, text_path, tokenizer_path, tokens_path, json_path, md_path, svg_path;
  std::vector<std::string> formats;
  std::size_t max_sequences = 2000;
  unsigned threads = 1;
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + a).c_str());
      return argv[++i];
    };
    if (a == "--text")
      text_path = value();
    else if (a == "--tokenizer")
      tokenizer_path = value();
    else if (a == "--tokens")
      tokens_path = value();
    else if (a == "--max-sequences")
      max_sequences = std::stoul(value());
    else if (a == "--format")
      formats.push_back(value());
    else if (a == "--threads")
      threads = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--json")
      json_path = value();
    else if (a == "--markdown")
      md_path = value();
    else if (a == "--svg")
      svg_path = value();
    else if (a == "-h" || a == "--help")
      usage("compare formats of one model");
    else if (!a.empty() && a[0] == '-')
      usage(("unknown option " + a).c_str());
    else if (model_path.empty())
      model_path = a;
    else
      usage(("unexpected argument " + a).c_str());
  }
  if (model_path.empty()) usage("no MODEL given");
  if (text_path.empty() == tokens_path.empty()) usage("give exactly one of --text and --tokens");

  const qlite::checkpoint ck = qlite::load_checkpoint(model_path);
  std::vector<std::vector<std::uint32_t>> seqs;
  if (!tokens_path.empty()) {
    seqs = qlite::read_token_sequences(tokens_path);
  } else {
    qlite::sentencepiece_tokenizer tok =
        !tokenizer_path.empty()
            ? qlite::sentencepiece_from_llama2c(qlite::read_llama2c_tokenizer(tokenizer_path), tokenizer_path)
        : ck.format == "gguf" ? qlite::sentencepiece_from_gguf(qlite::gguf_file(model_path))
                              : (usage("--text needs --tokenizer FILE for a model without a vocabulary"),
                                 qlite::sentencepiece_from_gguf(qlite::gguf_file(model_path)));
    for (const std::string& p : paragraphs(read_file(text_path))) {
      if (seqs.size() == max_sequences) break;
      auto ids = tok.encode(p, /*bos=*/true);
      if (ids.size() > ck.config.seq_len) ids.resize(ck.config.seq_len);
      seqs.push_back(std::move(ids));
    }
  }
  if (seqs.size() > max_sequences) seqs.resize(max_sequences);
  if (seqs.empty()) usage("no evaluation sequences");
  if (formats.empty()) formats = qlite::default_compare_policies();
  if (qlite::precision_policy::parse(formats.front()).text() != "f32") formats.insert(formats.begin(), "f32");

  std::size_t predicted = 0;
  for (const auto& s : seqs) predicted += s.size() > 1 ? s.size() - 1 : 0;
  fmt::print("{}: {} ({}), {} parameters, {} layers, dim {}, vocab {}\n", model_path, ck.format,
             qlite::detail::size_text(static_cast<double>(ck.file_bytes)), ck.config.parameter_count(),
             ck.config.n_layers, ck.config.dim, ck.config.vocab_size);
  fmt::print("evaluating {} sequences ({} predicted tokens), {} formats, {} thread(s)\n\n", seqs.size(),
             predicted, formats.size(), threads);
  std::fflush(stdout);

  qlite::compare_options opt;
  opt.threads = threads;
  opt.on_row = [](const qlite::compare_row& r, std::size_t i, std::size_t n) {
    std::fprintf(stderr, "[%zu/%zu] %s: PPL %.4f\n", i + 1, n, r.policy.c_str(), r.accuracy.ppl());
  };
  const auto rows = qlite::compare(ck, formats, seqs, opt);
  fmt::print("{}", qlite::compare_table(rows));
  if (!json_path.empty()) write_text(json_path, qlite::compare_json(rows, model_path));
  if (!md_path.empty()) write_text(md_path, qlite::compare_markdown(rows));
  if (!svg_path.empty())
    write_text(svg_path, qlite::compare_svg(rows, model_path + ": size against ΔPPL (" +
                                                      std::to_string(predicted) + " tokens)"));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s: %s\n", program_name(), e.what());
  return 1;
}

}  // namespace qlite_examples
