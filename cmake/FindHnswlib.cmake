# hnswlib from Debian's libhnswlib-dev: header-only, no CMake config. The imported target
# Hnswlib::Hnswlib carries its include directory.
find_path(Hnswlib_INCLUDE_DIR hnswlib/hnswlib.h)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Hnswlib REQUIRED_VARS Hnswlib_INCLUDE_DIR)
if(Hnswlib_FOUND AND NOT TARGET Hnswlib::Hnswlib)
  add_library(Hnswlib::Hnswlib INTERFACE IMPORTED)
  set_target_properties(Hnswlib::Hnswlib PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${Hnswlib_INCLUDE_DIR}")
endif()
mark_as_advanced(Hnswlib_INCLUDE_DIR)
