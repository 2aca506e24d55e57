// Reproduces ../shared/data/models/reference/per_matrix_sqnr.csv: every weight matrix of
// stories260K quantized with each scheme qlite implements under the same definition.
#include "../test_util.hpp"

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <qlite/io/llama2c.hpp>
#include <qlite/quant/metrics.hpp>
#include <qlite/quant/quantizer.hpp>

namespace {

struct named_matrix {
  std::string name;
  std::size_t rows, cols;
  std::vector<float> data;
};

// The llama2.c legacy checkpoint (README 1a): 7 int32 config fields, then fp32 arrays.
// The 36 matrices of the reference table, read with qlite's llama2.c loader; the table
// names them after llama2.c (L0.wq …), the loader after llama.cpp (blk.0.attn_q.weight …).
std::vector<named_matrix> load_stories260k(const std::string& path) {
  const qlite::llama2c_checkpoint ck(path);
  std::vector<named_matrix> out;
  auto add = [&](const std::string& name, const std::string& tensor) {
    const qlite::float_tensor_view& t = ck.at(tensor);
    REQUIRE(t.shape.size() == 2);
    out.push_back({name, t.shape[0], t.shape[1], std::vector<float>(t.data.begin(), t.data.end())});
  };
  add("tok_embeddings", "token_embd.weight");
  const std::pair<const char*, const char*> names[] = {
      {"wq", "attn_q"},   {"wk", "attn_k"},   {"wv", "attn_v"}, {"wo", "attn_output"},
      {"w1", "ffn_gate"}, {"w2", "ffn_down"}, {"w3", "ffn_up"}};
  for (int l = 0; l < ck.config().n_layers; ++l)
    for (const auto& [ref_name, gguf_name] : names) {
      std::string r = "L", g = "blk.";
      r += std::to_string(l);
      r += '.';
      r += ref_name;
      g += std::to_string(l);
      g += '.';
      g += gguf_name;
      g += ".weight";
      add(r, g);
    }
  return out;
}

std::map<std::pair<std::string, std::string>, double> load_reference(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  std::map<std::pair<std::string, std::string>, double> ref;
  while (std::getline(f, line)) {
    // scheme may be quoted and contain commas: take the last four fields from the right.
    std::vector<std::string> fields;
    std::size_t end = line.size();
    for (int k = 0; k < 5; ++k) {
      const std::size_t comma = line.rfind(',', end - 1);
      fields.push_back(line.substr(comma + 1, end - comma - 1));
      end = comma;
    }
    std::string scheme = line.substr(0, end);
    if (!scheme.empty() && scheme.front() == '"') scheme = scheme.substr(1, scheme.size() - 2);
    ref[{scheme, fields[4]}] = std::stod(fields[1]);
  }
  return ref;
}

template <class Q>
void check_scheme(const std::string& scheme, const std::vector<named_matrix>& mats,
                  const std::map<std::pair<std::string, std::string>, double>& ref) {
  Q q;
  int checked = 0;
  double worst = 0, sum = 0, bpw = 0;
  for (const named_matrix& m : mats) {
    const auto it = ref.find({scheme, m.name});
    REQUIRE_MESSAGE(it != ref.end(), scheme << " " << m.name << " missing from the reference");
    qlite::matrix_view<const float> W(m.data.data(), m.rows, m.cols);
    const qlite::quantized_tensor t = q.quantize(W);
    std::vector<float> back(m.data.size());
    qlite::dequantize(t, qlite::matrix_view<float>(back.data(), m.rows, m.cols));
    const double db = qlite::sqnr_db(W, qlite::matrix_view<const float>(back.data(), m.rows, m.cols));
    CHECK_MESSAGE(std::fabs(db - it->second) <= 0.01,
                  scheme << " " << m.name << ": " << db << " dB, reference " << it->second);
    worst = std::max(worst, std::fabs(db - it->second));
    sum += db;
    bpw += t.bits_per_weight() * double(m.rows * m.cols);
    ++checked;
  }
  CHECK(checked == 36);
  std::size_t params = 0;
  for (const named_matrix& m : mats) params += m.rows * m.cols;
  MESSAGE(scheme << ": 36 matrices, mean SQNR " << sum / checked << " dB, " << bpw / double(params)
                 << " bits/weight (fp32 scales), max |ΔSQNR| vs reference = " << worst << " dB");
}

}  // namespace

TEST_SUITE("quant") {
  TEST_CASE("stories260K per-matrix SQNR matches the reference table to 0.01 dB") {
    const auto mats = load_stories260k(qlite::test::shared_data("models/stories260K.bin"));
    const auto ref = load_reference(qlite::test::shared_data("models/reference/per_matrix_sqnr.csv"));
    REQUIRE(mats.size() == 36);
    qlite::test::for_each_arch([&](qlite::arch_id) {
      using namespace qlite;
      check_scheme<quantizer<symmetric_narrow, per_tensor, 8>>("int8 per-tensor", mats, ref);
      check_scheme<quantizer<symmetric_narrow, per_channel, 8>>("int8 per-row", mats, ref);
      check_scheme<quantizer<symmetric_narrow, per_channel, 4>>("int4 sym per-row", mats, ref);
      check_scheme<quantizer<symmetric_narrow, per_group<32>, 4>>("int4 sym g32", mats, ref);
      check_scheme<quantizer<symmetric_narrow, per_group<128>, 4>>("int4 sym g128", mats, ref);
      check_scheme<quantizer<symmetric_narrow, per_group<32>, 3>>("int3 sym g32", mats, ref);
      check_scheme<quantizer<asymmetric, per_group<32>, 4>>("int4 asym g32", mats, ref);
      check_scheme<quantizer<asymmetric, per_group<32>, 3>>("int3 asym g32", mats, ref);
      check_scheme<quantizer<asymmetric, per_group<32>, 2>>("int2 asym g32", mats, ref);
      // The full symmetric grid (signed-max scale) is ggml's Q4_0 up to its rounding rule.
      check_scheme<quantizer<symmetric, per_group<32>, 4>>("ggml Q4_0", mats, ref);
    });
  }
}
