# qlite_enable_runtime_dispatch(<target>)
#
# Gives <target> qlite's kernels for every instruction set of its platform and selects the
# best one the running CPU has (or the one named by the QLITE_ARCH environment variable).
# Without it, qlite compiles its kernels once, for the flags of the including TU.
#
# How: one small TU per instruction set (generated from dispatch/qlite_arch.cpp.in) is
# compiled with that set's -m flags and explicitly instantiates every kernel for its arch
# tag; the headers, seeing QLITE_RUNTIME_DISPATCH, declare those instantiations instead of
# compiling them. The TUs touch only qlite's arch-templated kernels (raw pointers, no
# standard containers), so no wide-ISA copy of a shared inline function can leak to the
# linker (ODR).
include_guard(GLOBAL)


function(qlite_enable_runtime_dispatch target)
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
  set(_out "${CMAKE_CURRENT_BINARY_DIR}/qlite_dispatch/${target}")
  foreach(_arch IN LISTS _archs)
    set(QLITE_ARCH_NAME "${_arch}")
    set(QLITE_ARCH_TAG "${_tag_${_arch}}")
    configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/dispatch/qlite_arch.cpp.in" "${_out}/qlite_${_arch}.cpp" @ONLY)
    target_sources(${target} PRIVATE "${_out}/qlite_${_arch}.cpp")
    if(_flags_${_arch})
      set_source_files_properties("${_out}/qlite_${_arch}.cpp" TARGET_DIRECTORY ${target}
        PROPERTIES COMPILE_OPTIONS "${_flags_${_arch}}")
    endif()
  endforeach()
  list(TRANSFORM _archs TOUPPER OUTPUT_VARIABLE _defs)
  list(TRANSFORM _defs PREPEND "QLITE_HAVE_ARCH_")
  target_compile_definitions(${target} PRIVATE QLITE_RUNTIME_DISPATCH=1 ${_defs})
  target_link_libraries(${target} PRIVATE qlite::qlite)
endfunction()
