# Per-target settings shared by every abrec target: warnings, -Werror in CI, sanitizers.
# Never touches the global CMAKE_CXX_FLAGS.
function(abrec_target_settings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion
                         -Wsign-conversion -Wshadow -Wnon-virtual-dtor)
  if(ABREC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ABREC_SANITIZE)
    string(REPLACE ";" "," _san "${ABREC_SANITIZE}")
    target_compile_options(${target} PRIVATE -fsanitize=${_san} -fno-omit-frame-pointer
                           -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${_san})
  endif()
  if(ABREC_FUZZ)
    # libFuzzer's coverage instrumentation and ASan/UBSan on every target; the fuzz
    # executables add -fsanitize=fuzzer (fuzz/CMakeLists.txt). fuzz/compat supplies the
    # std::expected that clang 14 cannot get from libstdc++ 12.
    target_include_directories(${target} SYSTEM BEFORE PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/compat)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                           -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# The sanitizer build is Debug at -O0, where the computing modules run several times slower
# than at -O1 (recommender_test took 606 s of CI, integration_cli 362 s, the statistics and
# decision studies minutes): these libraries are compiled at -O1 there, with the same ASan/UBSan
# checks. Not all of abrec: compiling everything at -O1 under ASan cost more build time than it
# saved test time (bench/README.md, "CI time").
set(ABREC_SANITIZE_OPTIMIZED recommender stats analysis sim experiments)

# abrec_library(NAME SOURCES... DEPS ...): the module library abrec_NAME, alias abrec::NAME.
function(abrec_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(abrec_${name} STATIC ${ARG_SOURCES})
  add_library(abrec::${name} ALIAS abrec_${name})
  target_include_directories(abrec_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(abrec_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  abrec_target_settings(abrec_${name})
  if(ABREC_SANITIZE AND name IN_LIST ABREC_SANITIZE_OPTIMIZED)
    target_compile_options(abrec_${name} PRIVATE -O1)
  endif()
endfunction()

# abrec_test(NAME SOURCES... DEPS ... LABELS ... TIMEOUT s [WRAPPER command...]): a doctest
# executable run by CTest, through WRAPPER (which gets the executable's path last) if given.
function(abrec_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS;WRAPPER" ${ARGN})
  add_executable(${name} ${PROJECT_SOURCE_DIR}/tests/doctest_main.cc ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} doctest::doctest)
  target_compile_definitions(${name} PRIVATE
    ABREC_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ABREC_SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
  abrec_target_settings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 60)
  endif()
  if(ARG_WRAPPER)
    add_test(NAME ${name} COMMAND ${ARG_WRAPPER} $<TARGET_FILE:${name}>)
  else()
    add_test(NAME ${name} COMMAND ${name})
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
