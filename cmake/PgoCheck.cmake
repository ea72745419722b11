# cmake -DPROFILE=DIR -P PgoCheck.cmake (run by sluice_pgo_train(), cmake/Pgo.cmake): fails the
# build when the training run left no profile, rather than let the modules be compiled without one
# in silence (the flags that accept functions without counts would also accept a missing file).
file(GLOB_RECURSE profiles ${PROFILE}/*.gcda)
if(NOT profiles)
  message(FATAL_ERROR "the training run left no profile in ${PROFILE}")
endif()
list(LENGTH profiles count)
message(STATUS "profile of the training run: ${count} files")
