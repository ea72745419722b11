# sluice_target_defaults(target): warnings as errors on our own code only.
function(sluice_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# sluice_module(name SOURCES ... DEPS ...): the static library of one module under src/<name>.
function(sluice_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(sluice_${name} STATIC ${M_SOURCES})
  target_include_directories(sluice_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sluice_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  sluice_target_defaults(sluice_${name})
  if(SLUICE_PGO AND name IN_LIST SLUICE_PGO_MODULES)
    sluice_pgo_instrumented_copy(${name} SOURCES ${M_SOURCES} DEPS ${M_DEPS}
      PRIVATE_DEPS ${M_PRIVATE_DEPS})
  endif()
endfunction()

# sluice_test(name SOURCES ... DEPS ... [LABELS ...]): a GoogleTest executable registered with CTest.
function(sluice_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name}
    PRIVATE SLUICE_TEST_REFERENCE_DIR="${PROJECT_SOURCE_DIR}/tests/reference")
  sluice_target_defaults(${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  # gtest_discover_tests loses the ';' of a list-valued ENVIRONMENT, so only the binary is passed
  # here; scripts/test also exports SLUICE_SOURCE_DIR, and tests fall back to paths compiled in
  # when it is unset.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "SLUICE_BINARY=${CMAKE_BINARY_DIR}/sluice")
endfunction()
