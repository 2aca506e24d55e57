// qlite — the umbrella header: every public header of the library.
#pragma once

#include "qlite/version.hpp"
#include "qlite/config.hpp"

#include "qlite/core/aligned_buffer.hpp"
#include "qlite/core/bf16.hpp"
#include "qlite/core/convert.hpp"
#include "qlite/core/cpu_features.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/fp16.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/core/parallel_for.hpp"

#include "qlite/quant/scheme.hpp"
#include "qlite/quant/quant_params.hpp"
#include "qlite/quant/quantized_tensor.hpp"
#include "qlite/quant/packing.hpp"
#include "qlite/quant/quantizer.hpp"
#include "qlite/quant/metrics.hpp"
#include "qlite/quant/block_formats.hpp"
#include "qlite/quant/named_schemes.hpp"

#include "qlite/gemm/gemm_params.hpp"
#include "qlite/gemm/packed_weights.hpp"
#include "qlite/gemm/reference.hpp"
#include "qlite/gemm/gemm.hpp"
#include "qlite/quant/observer.hpp"

// io/ (qlite/io/safetensors.hpp and io/quantized_safetensors.hpp are not included here: they
// need nlohmann-json)
#include "qlite/io/mmap.hpp"
#include "qlite/io/atomic_file.hpp"
#include "qlite/io/llama2c.hpp"
#include "qlite/io/gguf.hpp"

// tokenizer/ (qlite/tokenizer/tokenizer_json.hpp is not included here: it needs nlohmann-json)
#include "qlite/tokenizer/tiktoken.hpp"
#include "qlite/tokenizer/sentencepiece.hpp"

// model/ (not included here: model/checkpoint.hpp reads safetensors, so every model/ header
// needs nlohmann-json; include qlite/model/llama.hpp, evaluate.hpp, compare.hpp, export.hpp)
