// qlite — version. CMake reads the three numbers below; keep their format.
#pragma once

#define QLITE_VERSION_MAJOR 0
#define QLITE_VERSION_MINOR 1
#define QLITE_VERSION_PATCH 0

namespace qlite {
/// The library version as `major * 10000 + minor * 100 + patch`.
inline constexpr int version = QLITE_VERSION_MAJOR * 10000 + QLITE_VERSION_MINOR * 100 + QLITE_VERSION_PATCH;
}  // namespace qlite
