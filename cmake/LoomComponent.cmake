# SPDX-License-Identifier: Apache-2.0
# loom_add_component(name SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...): one library per layer of loom.
function(loom_add_component name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(loom_${name} ${ARG_SOURCES})
  add_library(loom::${name} ALIAS loom_${name})
  # Hidden by default: a shared libloom exports what the public headers declare (LOOM_API), nothing else.
  set_target_properties(loom_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME loom_${name}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
    VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_include_directories(loom_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(loom_${name} PUBLIC cxx_std_20)
  target_link_libraries(loom_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE $<BUILD_INTERFACE:loom_warnings> ${ARG_PRIVATE_DEPS})
  target_compile_options(loom_${name} PRIVATE ${LOOM_MARCH_FLAGS})
  install(TARGETS loom_${name} EXPORT loomTargets
    LIBRARY COMPONENT Runtime NAMELINK_COMPONENT Development
    ARCHIVE COMPONENT Development
    RUNTIME COMPONENT Runtime)
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development)
endfunction()
