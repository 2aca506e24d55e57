// Reproduces ../shared/data/models/reference/per_matrix_sqnr.csv: every weight matrix of
// stories260K quantized with each scheme qlite implements under the same definition.
#include "../test_util.hpp"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <qlite/quant/metrics.hpp>
#include <qlite/quant/quantizer.hpp>

namespace {

struct named_matrix {
  std::string name;
  std::size_t rows, cols;
  std::vector<float> data;
};

// The llama2.c legacy checkpoint (README 1a): 7 int32 config fields, then fp32 arrays.
std::string layer_name(std::size_t layer, const char* matrix) {
  std::string s("L");
  s += std::to_string(layer);
  s += '.';
  s += matrix;
  return s;
}

std::vector<named_matrix> load_stories260k(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::int32_t cfg[7];
  f.read(reinterpret_cast<char*>(cfg), sizeof cfg);
  const std::size_t D = std::size_t(cfg[0]), H = std::size_t(cfg[1]), L = std::size_t(cfg[2]),
                    heads = std::size_t(cfg[3]), kv = std::size_t(cfg[4]), V = std::size_t(cfg[5] < 0 ? -cfg[5] : cfg[5]);
  const std::size_t kvd = kv * (D / heads);
  auto read = [&](std::size_t n) {
    std::vector<float> v(n);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(float)));
    REQUIRE(f.good());
    return v;
  };
  std::vector<named_matrix> out;
  out.push_back({"tok_embeddings", V, D, read(V * D)});
  (void)read(L * D);  // rms_att
  const char* names[] = {"wq", "wk", "wv", "wo"};
  const std::size_t rows[] = {D, kvd, kvd, D};
  for (int m = 0; m < 4; ++m) {
    const std::vector<float> all = read(L * rows[m] * D);
    for (std::size_t l = 0; l < L; ++l)
      out.push_back({layer_name(l, names[m]), rows[m], D,
                     std::vector<float>(all.begin() + std::ptrdiff_t(l * rows[m] * D),
                                        all.begin() + std::ptrdiff_t((l + 1) * rows[m] * D))});
  }
  (void)read(L * D);  // rms_ffn
  const char* ffn[] = {"w1", "w2", "w3"};
  const std::size_t fr[] = {H, D, H}, fc[] = {D, H, D};
  for (int m = 0; m < 3; ++m) {
    const std::vector<float> all = read(L * fr[m] * fc[m]);
    for (std::size_t l = 0; l < L; ++l)
      out.push_back({layer_name(l, ffn[m]), fr[m], fc[m],
                     std::vector<float>(all.begin() + std::ptrdiff_t(l * fr[m] * fc[m]),
                                        all.begin() + std::ptrdiff_t((l + 1) * fr[m] * fc[m]))});
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
    CHECK_MESSAGE(std::fabs(db - it->second) <= 0.01, scheme << " " << m.name << ": " << db << " dB, reference "
                                                             << it->second);
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
