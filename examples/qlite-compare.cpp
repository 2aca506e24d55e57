// qlite-compare — one model in several formats: size, speed and accuracy side by side.
//
//   qlite-compare MODEL (--text FILE [--tokenizer FILE] | --tokens FILE) [options]
//
//   MODEL              a llama checkpoint: GGUF, llama2.c .bin, qlite safetensors
//   --text FILE        evaluation text: paragraphs split at blank lines, stripped, each
//                      [BOS] + encode(paragraph) truncated to the model's context
//   --tokenizer FILE   llama2.c tokenizer.bin for --text (GGUF models carry their own)
//   --tokens FILE      pre-tokenized sequences (int32 n; int32 len[n]; ids), instead of --text
//   --max-sequences N  evaluate the first N sequences (default 2000, the reference protocol)
//   --format POLICY    add a row (repeatable; default: fp32, bf16, int8, w8a8, q8_0, q4_0,
//                      q4_0@a8, int4_g32, int4a_g32, int4_g128, int4a_g128). The first row is
//                      the reference for ΔPPL/KLD/top-1; fp32 is put first when missing.
//   --threads N        threads (evaluation spreads sequences; speed uses N too; default 1)
//   --json FILE --markdown FILE --svg FILE   also write the table in these forms
//
// Prints a fmt table (model/report.hpp). See docs/models.md.
#include "compare_cli.hpp"

int main(int argc, char** argv) { return qlite_examples::run_compare_cli(argc, argv, 1, "qlite-compare"); }
