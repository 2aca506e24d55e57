# cmake -P script behind the package.* tests (see CMakeLists.txt beside it).
#
#   -DMODE=find_package|add_subdirectory  -DCONSUMER_DIR=<consumer project>  -DWORK_DIR=<scratch>
#   -DQLITE_SOURCE_DIR  -DQLITE_BINARY_DIR  -DQLITE_VERSION  -DGENERATOR  -DCXX  -DPKG_CONFIG
#
# Every step runs from a clean WORK_DIR; any failure stops the script with the step's output.
cmake_minimum_required(VERSION 3.25)

foreach(var MODE CONSUMER_DIR WORK_DIR QLITE_SOURCE_DIR QLITE_BINARY_DIR QLITE_VERSION GENERATOR CXX)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: -D${var}=... is required")
  endif()
endforeach()

# run(<step name> <command...>): runs a command, echoes it, fails the test if it fails.
function(run step)
  string(JOIN " " shown ${ARGN})
  message(STATUS "[${MODE}] ${step}: ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${MODE}] ${step} failed (${rc}):\n${out}")
  endif()
  string(STRIP "${out}" out)
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

# build_consumer(<build dir> <extra configure args...>): configure, build, run every program.
function(build_consumer build_dir)
  run("configure" ${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${build_dir}" -G "${GENERATOR}"
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release ${ARGN})
  run("build" ${CMAKE_COMMAND} --build "${build_dir}")
  foreach(program IN ITEMS consumer_static consumer_dispatch)
    run("run ${program}" "${build_dir}/${program}")
    message(STATUS "[${MODE}] ${program}: ${last_output}")
  endforeach()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

if(MODE STREQUAL "add_subdirectory")
  build_consumer("${WORK_DIR}/build" "-DQLITE_SOURCE_DIR=${QLITE_SOURCE_DIR}")
  return()
elseif(NOT MODE STREQUAL "find_package")
  message(FATAL_ERROR "run_consumer.cmake: MODE must be find_package or add_subdirectory, not '${MODE}'")
endif()

# 1. Install into a fresh prefix and check the layout.
set(prefix "${WORK_DIR}/prefix")
run("install" ${CMAKE_COMMAND} --install "${QLITE_BINARY_DIR}" --prefix "${prefix}")
foreach(file IN ITEMS include/qlite/qlite.hpp include/qlite/version.hpp
                      share/cmake/qlite/qliteConfig.cmake share/cmake/qlite/qliteConfigVersion.cmake
                      share/cmake/qlite/qliteTargets.cmake share/cmake/qlite/qliteDispatch.cmake
                      share/pkgconfig/qlite.pc)
  if(NOT EXISTS "${prefix}/${file}")
    message(FATAL_ERROR "[find_package] the install tree lacks ${file}")
  endif()
endforeach()

# 2. find_package(qlite CONFIG) from that prefix, and only from there.
build_consumer("${WORK_DIR}/build" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" found REGEX "^qlite_DIR:")
if(NOT found STREQUAL "qlite_DIR:PATH=${prefix}/share/cmake/qlite")
  message(FATAL_ERROR "[find_package] the consumer found qlite elsewhere: ${found}")
endif()

# 3. The prefix is relocatable: move it, then use the pc file from the new place. The
#    program is compiled with the same -Werror set as the CMake consumers: qlite's include
#    directory is a plain -I here, so its headers must be warning-free.
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "[find_package] pkg-config is not installed (apt-get install pkg-config)")
endif()
set(moved "${WORK_DIR}/moved-prefix")
file(RENAME "${prefix}" "${moved}")
set(ENV{PKG_CONFIG_PATH} "${moved}/share/pkgconfig")
run("pkg-config version" ${PKG_CONFIG} --modversion qlite)
if(NOT last_output STREQUAL QLITE_VERSION)
  message(FATAL_ERROR "[find_package] qlite.pc says version '${last_output}', the project ${QLITE_VERSION}")
endif()
run("pkg-config cflags" ${PKG_CONFIG} --cflags qlite)
separate_arguments(cflags UNIX_COMMAND "${last_output}")
file(REAL_PATH "${moved}/include" want)
set(follows FALSE)
foreach(flag IN LISTS cflags)
  if(flag MATCHES "^-I(.+)$")
    file(REAL_PATH "${CMAKE_MATCH_1}" dir)
    if(dir STREQUAL want)
      set(follows TRUE)
    endif()
  endif()
endforeach()
if(NOT follows)
  message(FATAL_ERROR "[find_package] qlite.pc does not follow the moved prefix: --cflags gives '${last_output}'")
endif()
run("pkg-config libs" ${PKG_CONFIG} --libs qlite)
separate_arguments(libs UNIX_COMMAND "${last_output}")
run("compile with pkg-config" ${CXX} ${cflags} -O2 -Wall -Wextra -Wconversion -Wsign-conversion -Wshadow
    -Wpedantic -Werror "${CONSUMER_DIR}/main.cpp" -o "${WORK_DIR}/consumer_pkg_config" ${libs})
run("run consumer_pkg_config" "${WORK_DIR}/consumer_pkg_config")
message(STATUS "[find_package] consumer_pkg_config: ${last_output}")
