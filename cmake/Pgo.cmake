# Profile-guided optimisation of the modules on the mapping path (GCC; see pgo/README.md).
#
# The modules named in SLUICE_PGO_MODULES get, beside their library `sluice_<name>`, an
# instrumented copy `sluice_<name>_pgo` (-fprofile-generate) made by sluice_module() in the same
# folder. sluice_pgo_train() then links a trainer against those copies, runs it, and compiles the
# modules' own libraries at -O3 with the counts it left (-fprofile-use). Build order: the
# instrumented copies, the trainer, the training run, then the modules themselves; a change to a
# module's sources re-runs the training before that module is compiled again. The profile only
# steers optimisation (inlining, block layout, which paths are hot): the code behaves the same
# with or without it, and a function the training never ran is compiled as without a profile
# (-fprofile-partial-training).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "SLUICE_PGO needs GCC (found ${CMAKE_CXX_COMPILER_ID})")
endif()
set(SLUICE_PGO_DIR ${CMAKE_BINARY_DIR}/pgo)
# The modules' optimisation level, in both compilations: the profile describes each function's
# control flow after the early passes, so the two must run the same passes.
set(SLUICE_PGO_LEVEL -O3)
# Warnings that depend on what the optimiser inlines (GCC 12 gives false ones at -O3, and inlining
# now follows the profile) stay warnings in these compilations; other presets treat them as errors.
set(SLUICE_PGO_WARNINGS -Wno-error=restrict -Wno-error=maybe-uninitialized -Wno-error=array-bounds
  -Wno-error=stringop-overflow -Wno-error=stringop-overread)
set(SLUICE_PGO_PROFILE ${SLUICE_PGO_DIR}/profile)  # what the training run writes

# sluice_pgo_instrumented_copy(name SOURCES ... DEPS ... PRIVATE_DEPS ...), from sluice_module():
# the copy links what the module links, with the other instrumented copies in place of their
# modules, so that the trainer links one copy of each.
#
# GCC names a profile, and identifies the file-local functions in it, after the object's auxiliary
# name, which is derived from the output path unless -dumpdir/-dumpbase set it. Each source file
# of the module gets one auxiliary name, so that both compilations of it agree (the sources of a
# module sit in one folder, so their file names differ). DEPS are plain target names: a module
# whose dependencies are generator expressions cannot be in SLUICE_PGO_MODULES as this stands.
function(sluice_pgo_instrumented_copy name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  foreach(source ${M_SOURCES})
    get_filename_component(base ${source} NAME)
    set_source_files_properties(${source} PROPERTIES
      COMPILE_OPTIONS "-dumpdir;${SLUICE_PGO_DIR}/names/${name}/;-dumpbase;${base}")
  endforeach()
  foreach(kind DEPS PRIVATE_DEPS)
    set(mapped)
    foreach(dep ${M_${kind}})
      if(dep MATCHES "^sluice_(.*)$" AND CMAKE_MATCH_1 IN_LIST SLUICE_PGO_MODULES)
        set(dep ${dep}_pgo)
      endif()
      list(APPEND mapped ${dep})
    endforeach()
    set(${kind} ${mapped})
  endforeach()
  set(lib sluice_${name}_pgo)
  add_library(${lib} STATIC EXCLUDE_FROM_ALL ${M_SOURCES})
  target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${lib} PUBLIC ${DEPS} PRIVATE ${PRIVATE_DEPS})
  target_compile_options(${lib} PRIVATE ${SLUICE_PGO_LEVEL} ${SLUICE_PGO_WARNINGS}
    -fprofile-generate=${SLUICE_PGO_PROFILE} -fprofile-update=single)
  target_link_options(${lib} INTERFACE -fprofile-generate=${SLUICE_PGO_PROFILE})
  sluice_target_defaults(${lib})
endfunction()

# sluice_pgo_train(TRAINER source ARGS arg... INPUTS file...): the trainer built from `source`
# against the instrumented copies, its run with ARGS (re-run when INPUTS change), and the modules'
# own libraries compiled with the profile it leaves. Ninja orders the run before those
# compilations; the header the check writes after it, included by each of them, makes a new
# profile recompile every object of the modules, not only those whose source changed.
function(sluice_pgo_train)
  cmake_parse_arguments(P "" "TRAINER" "ARGS;INPUTS" ${ARGN})
  set(copies ${SLUICE_PGO_MODULES})
  list(TRANSFORM copies PREPEND sluice_)
  list(TRANSFORM copies APPEND _pgo)
  add_executable(sluice_pgo_train EXCLUDE_FROM_ALL ${P_TRAINER})
  target_link_libraries(sluice_pgo_train PRIVATE ${copies})
  sluice_target_defaults(sluice_pgo_train)

  set(header ${SLUICE_PGO_DIR}/profile.h)
  add_custom_command(OUTPUT ${header}
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${SLUICE_PGO_PROFILE}
    COMMAND $<TARGET_FILE:sluice_pgo_train> ${P_ARGS}
    COMMAND ${CMAKE_COMMAND} -DPROFILE=${SLUICE_PGO_PROFILE} -DHEADER=${header}
            -P ${PROJECT_SOURCE_DIR}/cmake/PgoCheck.cmake
    DEPENDS sluice_pgo_train ${P_INPUTS} ${PROJECT_SOURCE_DIR}/cmake/PgoCheck.cmake
    COMMENT "Training run for the profile-guided build"
    VERBATIM)
  add_custom_target(sluice_pgo_profile DEPENDS ${header})

  foreach(name ${SLUICE_PGO_MODULES})
    add_dependencies(sluice_${name} sluice_pgo_profile)
    target_compile_options(sluice_${name} PRIVATE ${SLUICE_PGO_LEVEL} ${SLUICE_PGO_WARNINGS}
      -fprofile-use=${SLUICE_PGO_PROFILE} -fprofile-partial-training -Wno-missing-profile
      -Wno-error=coverage-mismatch -include ${header})
  endforeach()
endfunction()
