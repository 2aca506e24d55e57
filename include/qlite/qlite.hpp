// qlite — the umbrella header: every public header of the library.
#pragma once

#include "qlite/version.hpp"
#include "qlite/config.hpp"

#include "qlite/core/aligned_buffer.hpp"
#include "qlite/core/cpu_features.hpp"
#include "qlite/core/dispatch.hpp"
#include "qlite/core/error.hpp"
#include "qlite/core/matrix_view.hpp"
#include "qlite/core/parallel_for.hpp"
