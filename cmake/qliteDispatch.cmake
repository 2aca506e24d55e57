# Runtime dispatch: qlite's kernels for every instruction set of the platform, the best one
# the running CPU has chosen at run time (or the one named by the QLITE_ARCH environment
# variable). Without it, qlite compiles its kernels once, for the flags of the including TU.
#
#   qlite_enable_runtime_dispatch(<target>)
#       Links <target> to the project's kernel library `qlite_dispatch_kernels`, creating it
#       on the first call. Every target of a project shares that one library, so the kernels
#       are compiled once per build tree, not once per executable.
#
#   The variable QLITE_DISPATCH_ARCHS (a list, e.g. "avx2;avx512vnni") limits the instruction
#   sets compiled to those named; by default all of the platform's: sse4_2, avx2, avx512bw,
#   avx512vnni on x86-64, neon64 on AArch64. The scalar reference is always there.
#
#   qlite_add_dispatch_library(<name>)
#       Creates such a kernel library under another name (e.g. to give it its own compile
#       options); linking it is what enables runtime dispatch for a target.
#
# How: one small TU per instruction set (generated from dispatch/qlite_arch.cpp.in) is
# compiled with that set's -m flags and explicitly instantiates every kernel for its arch
# tag; the headers, seeing QLITE_RUNTIME_DISPATCH (a usage requirement of the library),
# declare those instantiations instead of compiling them. The TUs touch only qlite's
# arch-templated kernels (raw pointers, no standard containers), so no wide-ISA copy of a
# shared inline function can leak to the linker (ODR; the test static.arch_tu_symbols checks).
include_guard(GLOBAL)

function(qlite_add_dispatch_library name)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(_archs sse4_2 avx2 avx512bw avx512vnni)
    set(_tag_sse4_2 "xsimd::sse4_2")
    set(_tag_avx2 "xsimd::fma3<xsimd::avx2>")
    set(_tag_avx512bw "xsimd::avx512bw")
    set(_tag_avx512vnni "qlite::avx512vnni")
    set(_flags_sse4_2 -msse4.2 -mpopcnt)
    set(_flags_avx2 -mavx2 -mfma -mf16c -mbmi2 -mpopcnt)
    set(_flags_avx512bw ${_flags_avx2} -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512cd)
    set(_flags_avx512vnni ${_flags_avx512bw} -mavx512vnni)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    set(_archs neon64)
    set(_tag_neon64 "xsimd::neon64")
    set(_flags_neon64 "")
  else()
    message(STATUS "qlite: no runtime dispatch for ${CMAKE_SYSTEM_PROCESSOR}; scalar kernels only")
    set(_archs "")
  endif()
  if(QLITE_DISPATCH_ARCHS)
    foreach(_arch IN LISTS QLITE_DISPATCH_ARCHS)
      if(NOT _arch IN_LIST _archs)
        message(FATAL_ERROR "QLITE_DISPATCH_ARCHS names '${_arch}', which is not one of this platform's "
                            "instruction sets (${_archs})")
      endif()
    endforeach()
    set(_archs ${QLITE_DISPATCH_ARCHS})
  endif()
  set(_out "${CMAKE_CURRENT_BINARY_DIR}/qlite_dispatch/${name}")
  set(_sources "")
  foreach(_arch IN LISTS _archs)
    set(QLITE_ARCH_NAME "${_arch}")
    set(QLITE_ARCH_TAG "${_tag_${_arch}}")
    configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/dispatch/qlite_arch.cpp.in" "${_out}/qlite_${_arch}.cpp" @ONLY)
    list(APPEND _sources "${_out}/qlite_${_arch}.cpp")
    if(_flags_${_arch})
      set_source_files_properties("${_out}/qlite_${_arch}.cpp" PROPERTIES COMPILE_OPTIONS "${_flags_${_arch}}")
    endif()
  endforeach()
  if(_sources)
    add_library(${name} STATIC ${_sources})
    set(_scope PUBLIC)
    # avx512vnni's xsimd batches are avx512bw batches: its TU may also define their helpers
    # (seen out of line in the -O1 sanitizer build), compiled with flags that only add VNNI.
    set(_also_avx512vnni ",xsimd::avx512bw")
    set(_pairs "")
    foreach(_arch IN LISTS _archs)
      list(APPEND _pairs "${_arch}=${_tag_${_arch}}${_also_${_arch}}")
    endforeach()
    set_property(TARGET ${name} PROPERTY QLITE_ARCH_TAGS "${_pairs}")  # for tests/static
  else()
    add_library(${name} INTERFACE)  # nothing to compile: scalar kernels in each TU
    set(_scope INTERFACE)
  endif()
  list(TRANSFORM _archs TOUPPER OUTPUT_VARIABLE _defs)
  list(TRANSFORM _defs PREPEND "QLITE_HAVE_ARCH_")
  target_compile_definitions(${name} ${_scope} QLITE_RUNTIME_DISPATCH=1 ${_defs})
  target_link_libraries(${name} ${_scope} qlite::qlite)
endfunction()

function(qlite_enable_runtime_dispatch target)
  if(NOT TARGET qlite_dispatch_kernels)
    qlite_add_dispatch_library(qlite_dispatch_kernels)
  endif()
  target_link_libraries(${target} PRIVATE qlite_dispatch_kernels)
endfunction()
