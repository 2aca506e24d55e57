#pragma once
#define QLITE_QUANT_KERNELS(PREFIX, ARCH)
