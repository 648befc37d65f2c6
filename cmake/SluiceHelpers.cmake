# sluice_test_target(TARGET): test code (not the code under test) is compiled at -O1: the
# tests' own code is not hot, and GoogleTest's macros at -O3 made the test binaries the
# largest share of a build.
function(sluice_test_target target)
  target_compile_options(${target} PRIVATE -O1)
endfunction()

# sluice_library(NAME SOURCES ... DEPS ...): one static library per subsystem.
# Its *_test.cc files become one GoogleTest binary registered with ctest.
function(sluice_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;TESTS;TEST_DEPS" ${ARGN})
  add_library(sluice_${name} STATIC ${ARG_SOURCES})
  target_link_libraries(sluice_${name} PUBLIC ${ARG_DEPS})
  if(ARG_TESTS)
    add_executable(${name}_test ${ARG_TESTS})
    target_link_libraries(${name}_test PRIVATE sluice_${name} ${ARG_TEST_DEPS} GTest::gtest GTest::gtest_main)
    sluice_test_target(${name}_test)
    include(GoogleTest)
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60
      PROPERTIES ENVIRONMENT "SLUICE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endif()
endfunction()
