# qlite's one hard dependency is xsimd (header-only). Debian's xsimd 8.1 export links a
# phantom target `xtl` that no package provides; an empty imported target satisfies it.
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
if(NOT TARGET xsimd)
  find_package(xsimd 8 CONFIG REQUIRED)
endif()
