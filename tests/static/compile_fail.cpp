// Each QLITE_CASE must fail to compile with the one-sentence message its test expects.
#include <qlite/quant/quantizer.hpp>

#if QLITE_CASE == 1
qlite::quantizer<qlite::symmetric, qlite::per_channel, 1> q;
#elif QLITE_CASE == 2
qlite::quantizer<qlite::asymmetric, qlite::per_group<32>, 9> q;
#elif QLITE_CASE == 3
qlite::quantizer<qlite::symmetric, qlite::per_group<0>, 4> q;
#elif QLITE_CASE == 4
qlite::quantizer<int, qlite::per_channel, 4> q;
#endif
int main() { return 0; }
