# Settings for qlite's own targets (tests, examples, benchmarks) when qlite is the top-level
# project. Users of the package never see them.
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# Headers are guests: qlite's own builds treat these warnings as errors.
set(QLITE_WARNINGS -Wall -Wextra -Wconversion -Wsign-conversion -Wshadow -Wpedantic)
option(QLITE_WERROR "Treat warnings as errors in qlite's own targets" ON)
if(QLITE_WERROR)
  list(APPEND QLITE_WARNINGS -Werror)
endif()

option(QLITE_SANITIZE "Build qlite's own targets with ASan + UBSan" OFF)

# qlite_dev_options(<target>): warnings and sanitizers for code qlite compiles itself.
function(qlite_dev_options target)
  target_compile_options(${target} PRIVATE ${QLITE_WARNINGS})
  if(QLITE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
                                             -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# The per-arch kernels, compiled once for every qlite binary of this build tree.
qlite_add_dispatch_library(qlite_dispatch_kernels)
get_target_property(_qlite_kernels_type qlite_dispatch_kernels TYPE)
if(NOT _qlite_kernels_type STREQUAL "INTERFACE_LIBRARY")  # INTERFACE: nothing to compile
  qlite_dev_options(qlite_dispatch_kernels)
endif()

# qlite_dev_target(<target>): warnings, sanitizers and runtime dispatch for a qlite binary.
function(qlite_dev_target target)
  target_link_libraries(${target} PRIVATE qlite::qlite)
  qlite_dev_options(${target})
  qlite_enable_runtime_dispatch(${target})
endfunction()
