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
set(ABREC_SANITIZE_OPTIMIZED recommender_data recommender_model recommender_portfolio
    recommender_training recommender_serving stats analysis sim experiments configtree eventstore)

# The module graph, in one place: each abrec_library and abrec_program records its sources,
# its DEPS and PRIVATE_DEPS (the edges a module may use; DEPS pass on to its users, as
# CMake passes PUBLIC links on) and its INTERNAL folders (headers
# no other module may include); abrec_write_module_graph() writes it to
# module_graph.json in the build folder, which tests/layering/check_layering.py checks every
# #include against. docs/architecture.md draws it.
function(abrec_record_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS;INTERNAL" ${ARGN})
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(sources)
  foreach(s IN LISTS ARG_SOURCES)
    list(APPEND sources "\"${folder}/${s}\"")
  endforeach()
  set(deps)
  foreach(d IN LISTS ARG_DEPS)
    list(APPEND deps "\"${d}\"")
  endforeach()
  set(private_deps)
  foreach(d IN LISTS ARG_PRIVATE_DEPS)
    list(APPEND private_deps "\"${d}\"")
  endforeach()
  set(internal)
  foreach(i IN LISTS ARG_INTERNAL)
    list(APPEND internal "\"${folder}/${i}\"")
  endforeach()
  list(JOIN sources ", " sources)
  list(JOIN deps ", " deps)
  list(JOIN private_deps ", " private_deps)
  list(JOIN internal ", " internal)
  set_property(GLOBAL APPEND PROPERTY ABREC_MODULE_GRAPH
    "\"${name}\": {\"sources\": [${sources}], \"deps\": [${deps}], \"private_deps\": [${private_deps}], \"internal\": [${internal}]}")
endfunction()

function(abrec_write_module_graph)
  get_property(modules GLOBAL PROPERTY ABREC_MODULE_GRAPH)
  list(JOIN modules ",\n " body)
  file(WRITE ${PROJECT_BINARY_DIR}/module_graph.json "{${body}}\n")
endfunction()

# abrec_library(NAME SOURCES... DEPS ... PRIVATE_DEPS ... INTERNAL folders...): the module
# library abrec_NAME, alias abrec::NAME; headers under an INTERNAL folder are its own.
function(abrec_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS;INTERNAL" ${ARGN})
  abrec_record_module(${name} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS}
                      PRIVATE_DEPS ${ARG_PRIVATE_DEPS} INTERNAL ${ARG_INTERNAL})
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

# abrec_program(NAME MODULE m SOURCES... DEPS ...): an executable of the module graph (the
# `abrec` CLI), linking DEPS privately.
function(abrec_program name)
  cmake_parse_arguments(ARG "" "MODULE" "SOURCES;DEPS" ${ARGN})
  abrec_record_module(${ARG_MODULE} SOURCES ${ARG_SOURCES} DEPS ${ARG_DEPS})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  abrec_target_settings(${name})
endfunction()
