# cmake -DPROFILE=DIR -DHEADER=FILE -P PgoCheck.cmake (run by sluice_pgo_train(), cmake/Pgo.cmake)
# after the training run. Fails the build when the run left no profile, rather than let the
# modules be compiled without one in silence (the flags that accept functions without counts would
# also accept a missing file). Then writes HEADER, a comment naming the profile by its digest: the
# modules' objects include it, so a new profile recompiles them all.
file(GLOB_RECURSE profiles ${PROFILE}/*.gcda)
if(NOT profiles)
  message(FATAL_ERROR "the training run left no profile in ${PROFILE}")
endif()
list(SORT profiles)
set(digests "")
foreach(profile ${profiles})
  file(SHA256 ${profile} digest)
  string(APPEND digests "${digest}\n")
endforeach()
string(SHA256 digest "${digests}")
list(LENGTH profiles count)
file(WRITE ${HEADER} "// The training run's profile (pgo/README.md): ${count} files, ${digest}\n")
message(STATUS "profile of the training run: ${count} files")
