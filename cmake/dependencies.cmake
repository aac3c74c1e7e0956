# Every dependency comes from a Debian package installed by tools/setup.sh; nothing is downloaded here.
find_package(PkgConfig REQUIRED)
# OpenBLAS built with OpenMP (libopenblas-openmp-dev), so BLAS calls run on the same thread pool as Trident's
# OpenMP loops: the pthread build's threads and idle OpenMP workers spin against each other and halve the speed
# on a 2-core machine. Linked by full path with an rpath, so Debian's libopenblas.so.0 alternative does not matter.
# Looked for under each CMAKE_PREFIX_PATH entry first (tools/gpu_deps.sh unpacks Debian's packages into a prefix on
# machines without them), then under /usr.
set(_arch ${CMAKE_LIBRARY_ARCHITECTURE})
set(_openblas_lib_dirs)
set(_openblas_include_dirs)
string(REPLACE ":" ";" _env_prefixes "$ENV{CMAKE_PREFIX_PATH}")
foreach(_prefix ${CMAKE_PREFIX_PATH} ${_env_prefixes} /usr)
  list(APPEND _openblas_lib_dirs ${_prefix}/lib/${_arch}/openblas-openmp)
  list(APPEND _openblas_include_dirs ${_prefix}/include/${_arch}/openblas-openmp)
endforeach()
find_library(OPENBLAS_LIBRARY openblas PATHS ${_openblas_lib_dirs} NO_DEFAULT_PATH)
find_path(OPENBLAS_INCLUDE_DIRS cblas.h PATHS ${_openblas_include_dirs} NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY OR NOT OPENBLAS_INCLUDE_DIRS)
  message(FATAL_ERROR "Trident needs OpenBLAS's OpenMP build: apt-get install libopenblas-openmp-dev "
                      "(tools/setup.sh installs it)")
endif()
set(OPENBLAS_LINK_LIBRARIES ${OPENBLAS_LIBRARY})
message(STATUS "Trident: OpenBLAS ${OPENBLAS_LIBRARY}")
find_package(OpenMP REQUIRED)
find_package(Protobuf REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(MPI COMPONENTS CXX)
# XXH3-64 checksums of checkpoint files (libxxhash-dev).
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# CRC-32C of TensorBoard event records (libisal-dev: ISA-L's crc32_iscsi).
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal)

# CUDA: compiled and linked when nvcc is found, otherwise a CPU-only Trident.
set(TRIDENT_HAVE_CUDA OFF)
if(TRIDENT_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)  # Hopper (H100/H200), the GPUs this project is lent
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no CUDA20 flag for nvcc; .cu files stay C++17
    find_package(CUDAToolkit REQUIRED)
    set(TRIDENT_HAVE_CUDA ON)
    message(STATUS "Trident: CUDA ${CUDAToolkit_VERSION} found, building the CUDA backend")
  else()
    message(STATUS "Trident: no nvcc found, building CPU-only")
  endif()
endif()
