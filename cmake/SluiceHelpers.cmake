# sluice_test_target(TARGET): test code (not the code under test) is compiled at -O1: the
# tests' own code is not hot, and GoogleTest's macros at -O3 made the test binaries the
# largest share of a build.
function(sluice_test_target target)
  target_compile_options(${target} PRIVATE -O1)
endfunction()

# sluice_headers(TARGET SUBSYSTEM): makes "SUBSYSTEM/x.h" includable by TARGET and by whatever
# links TARGET, and by nothing else. Each subsystem gets its own include root
# (<build>/layers/SUBSYSTEM, holding one link to src/SUBSYSTEM), so the include path of a
# target is exactly the subsystems it links: including a header of a subsystem a library
# does not depend on is a compile error, not a layering violation found later.
function(sluice_headers target subsystem)
  set(root ${CMAKE_BINARY_DIR}/layers/${subsystem})
  if(NOT EXISTS ${root}/${subsystem})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${subsystem} ${root}/${subsystem} SYMBOLIC)
  endif()
  target_include_directories(${target} PUBLIC ${root})
endfunction()

# sluice_library(NAME SOURCES ... DEPS ... [PRIVATE_DEPS ...]): one static library per
# subsystem. DEPS are what its headers include (its users see them too); PRIVATE_DEPS only
# its .cc files use, so its users cannot include them without linking them themselves.
# Its *_test.cc files become one GoogleTest binary registered with ctest.
function(sluice_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS;TESTS;TEST_DEPS" ${ARGN})
  add_library(sluice_${name} STATIC ${ARG_SOURCES})
  sluice_headers(sluice_${name} ${name})
  target_link_libraries(sluice_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  if(ARG_TESTS AND SLUICE_BUILD_UNIT_TESTS)
    add_executable(${name}_test ${ARG_TESTS})
    target_link_libraries(${name}_test PRIVATE sluice_${name} ${ARG_TEST_DEPS} GTest::gtest GTest::gtest_main)
    sluice_test_target(${name}_test)
    include(GoogleTest)
    gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60
      PROPERTIES ENVIRONMENT "SLUICE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endif()
endfunction()
