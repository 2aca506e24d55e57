// Compile-time facts about qlite's types: this file passes by compiling.
#include <qlite/qlite.hpp>

#include <type_traits>

using namespace qlite;

// Concepts accept the valid vocabulary and reject the rest.
static_assert(quant_scheme<symmetric> && quant_scheme<symmetric_narrow> && quant_scheme<asymmetric>);
static_assert(!quant_scheme<int> && !quant_scheme<per_tensor>);
static_assert(quant_granularity<per_tensor> && quant_granularity<per_channel> &&
              quant_granularity<per_group<32>>);
static_assert(!quant_granularity<per_group<0>> && !quant_granularity<symmetric>);
static_assert(std::is_same_v<per_token, per_channel>);
static_assert(quant_bits<2> && quant_bits<8> && !quant_bits<1> && !quant_bits<9>);

// Grids: every code used by the full symmetric grid, one unused by the narrow one.
static_assert(grid_of(scheme_id::symmetric, 4).lo == 0 && grid_of(scheme_id::symmetric, 4).hi == 15 &&
              grid_of(scheme_id::symmetric, 4).offset == 8);
static_assert(grid_of(scheme_id::symmetric_narrow, 8).lo == 1 &&
              grid_of(scheme_id::symmetric_narrow, 8).hi == 255);
static_assert(grid_of(scheme_id::asymmetric, 3).lo == 0 && grid_of(scheme_id::asymmetric, 3).hi == 7 &&
              grid_of(scheme_id::asymmetric, 3).offset == 0);

// Packed sizes.
static_assert(packed_bytes(32, 4) == 16 && packed_bytes(32, 3) == 12 && packed_bytes(5, 2) == 2 &&
              packed_bytes(172, 8) == 172 && packed_bytes(1, 7) == 1 && packed_bytes(0, 5) == 0);

// Quantizer traits.
using q4 = quantizer<symmetric, per_group<32>, 4>;
static_assert(q4::bits == 4 && q4::scheme == scheme_id::symmetric &&
              q4::granularity == granularity_id::per_group);
static_assert(q4::layout.group_size == 32);
static_assert(quantizer<asymmetric, per_channel, 2>::grid.hi == 3);

// Views convert to const, not back.
static_assert(std::is_convertible_v<matrix_view<float>, matrix_view<const float>>);
static_assert(!std::is_convertible_v<matrix_view<const float>, matrix_view<float>>);

// Errors are runtime_errors.
static_assert(std::is_base_of_v<std::runtime_error, error>);

int main() { return 0; }
