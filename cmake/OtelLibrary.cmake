# otel_add_library(): one call per otelc library; builds it both static and shared from one set of
# objects, installs it, and writes its pkg-config file.
#
#   otel_add_library(NAME otel_sdk ALIAS sdk DIR ${CMAKE_CURRENT_SOURCE_DIR}
#                    DEPS otel_api                      # public: headers include theirs
#                    PRIVATE_DEPS Threads::Threads m    # implementation only
#                    PKG_REQUIRES_PRIVATE libcurl       # pkg-config modules behind PRIVATE_DEPS
#                    PKG_LIBS_PRIVATE -lfoo)            # extra Libs.private flags
#
# Creates:
#   <NAME>          shared, libNAME.so.0.1.0 (SOVERSION = major), alias otel::ALIAS
#   <NAME>_static   static, libNAME.a,                                alias otel::ALIAS_static
#   <NAME>_objects  the objects both are made of (compiled once, PIC, hidden visibility)
# Sources: DIR/src/*.c (globbed, new files are picked up at the next build); private headers live
# beside them and are not installed; the src/ dirs of the otelc libraries it depends on are on its
# include path too (after its own). Public headers: DIR/include/**, installed under include/.
# Dependencies named otel_* are otelc libraries: the shared library links their shared form, the
# static one their static form. Anything else (Threads::Threads, m, PkgConfig::X) is linked as is.
# pkg-config: otel-ALIAS.pc with '_' turned into '-' (otel-exporter-memory.pc); otel_* DEPS become
# Requires, otel_* PRIVATE_DEPS Requires.private, Threads::Threads -pthread and m -lm Libs.private.
# An imported third-party target among the deps (PkgConfig::CURL) must also exist for users of the
# installed static libraries: say how to recreate it in otelcConfig.cmake, e.g.
#   set_property(GLOBAL APPEND PROPERTY OTEL_CONFIG_EXTRA_DEPENDENCIES
#       "find_dependency(PkgConfig)" "pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)")
include_guard(GLOBAL)
include(GNUInstallDirs)

set(OTEL_VERSION_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/otel.map")
set(OTEL_PC_TEMPLATE "${CMAKE_CURRENT_LIST_DIR}/otel.pc.in")

# otel_x_y -> otel-x-y, the pkg-config module name of an otelc library.
function(_otel_pc_name target out)
    string(REPLACE "_" "-" name "${target}")
    set(${out} "${name}" PARENT_SCOPE)
endfunction()

# Translates a non-otelc dependency into Libs.private flags.
function(_otel_pc_libs dep out)
    if(dep STREQUAL "Threads::Threads")
        set(flag "-pthread")
    elseif(dep MATCHES "^PkgConfig::" OR dep MATCHES "::")
        set(flag "")        # an imported target: name its module in PKG_REQUIRES_PRIVATE
    elseif(dep MATCHES "^-")
        set(flag "${dep}")
    else()
        set(flag "-l${dep}")
    endif()
    set(${out} "${flag}" PARENT_SCOPE)
endfunction()

function(otel_add_library)
    cmake_parse_arguments(PARSE_ARGV 0 arg ""
        "NAME;ALIAS;DIR;DESCRIPTION"
        "DEPS;PRIVATE_DEPS;PKG_REQUIRES_PRIVATE;PKG_LIBS_PRIVATE")
    if(arg_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "otel_add_library: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
    endif()
    foreach(required NAME ALIAS DIR)
        if(NOT arg_${required})
            message(FATAL_ERROR "otel_add_library: ${required} is required")
        endif()
    endforeach()
    set(name "${arg_NAME}")
    set(dir "${arg_DIR}")
    if(NOT IS_ABSOLUTE "${dir}")
        set(dir "${CMAKE_CURRENT_SOURCE_DIR}/${dir}")
    endif()
    if(NOT arg_DESCRIPTION)
        set(arg_DESCRIPTION "otelc ${arg_ALIAS} library")
    endif()

    file(GLOB sources CONFIGURE_DEPENDS "${dir}/src/*.c")
    file(GLOB_RECURSE public_headers CONFIGURE_DEPENDS "${dir}/include/*.h")
    if(NOT sources)
        # Lets the tree configure while a library's first sources are being written.
        message(WARNING "${name}: no sources in ${dir}/src yet; building it empty")
        set(stub "${CMAKE_CURRENT_BINARY_DIR}/${name}_empty.c")
        if(NOT EXISTS "${stub}")
            file(WRITE "${stub}" "typedef int otel__empty_translation_unit;\n")
        endif()
        set(sources "${stub}")
    endif()

    # Split dependencies into otelc libraries and everything else.
    set(pub_shared "")
    set(pub_static "")
    set(priv_shared "")
    set(priv_static "")
    set(pc_requires "")
    set(pc_requires_private "${arg_PKG_REQUIRES_PRIVATE}")
    set(pc_libs_private "${arg_PKG_LIBS_PRIVATE}")
    set(pc_libs_public "")
    foreach(kind pub priv)
        if(kind STREQUAL "pub")
            set(deps ${arg_DEPS})
        else()
            set(deps ${arg_PRIVATE_DEPS})
        endif()
        foreach(dep IN LISTS deps)
            if(dep MATCHES "^otel::(.*)$")
                set(dep "otel_${CMAKE_MATCH_1}")
            endif()
            if(dep MATCHES "^otel_")
                list(APPEND ${kind}_shared "${dep}")
                list(APPEND ${kind}_static "${dep}_static")
                _otel_pc_name("${dep}" pc)
                if(kind STREQUAL "pub")
                    list(APPEND pc_requires "${pc}")
                else()
                    list(APPEND pc_requires_private "${pc}")
                endif()
            else()
                list(APPEND ${kind}_shared "${dep}")
                list(APPEND ${kind}_static "${dep}")
                _otel_pc_libs("${dep}" flag)
                if(flag AND kind STREQUAL "pub")
                    list(APPEND pc_libs_public "${flag}")
                elseif(flag)
                    list(APPEND pc_libs_private "${flag}")
                endif()
            endif()
        endforeach()
    endforeach()

    # Internal headers: a library's sources may include the private src/ headers of the otelc
    # libraries it depends on, directly or not (e.g. api/src/mem.h, the allocation funnel whose
    # otel__ functions libotel_api.so exports for the other libraries). Its own src/ comes first.
    set(internal_dirs "${dir}/src")
    foreach(dep IN LISTS pub_shared priv_shared)
        if(NOT dep MATCHES "^otel_")
            continue()
        endif()
        if(NOT TARGET ${dep})
            message(FATAL_ERROR "${name} depends on ${dep}, which is not declared yet: "
                "add_subdirectory() the libraries in dependency order")
        endif()
        get_target_property(dep_dirs ${dep} OTEL_INTERNAL_INCLUDE_DIRS)
        list(APPEND internal_dirs ${dep_dirs})
    endforeach()
    list(REMOVE_DUPLICATES internal_dirs)

    # The objects, compiled once for both libraries.
    add_library(${name}_objects OBJECT ${sources} ${public_headers})
    target_include_directories(${name}_objects PRIVATE "${dir}/include" ${internal_dirs})
    # Linking an object library only brings the dependencies' include dirs and definitions.
    target_link_libraries(${name}_objects PRIVATE ${pub_static} ${priv_static})

    set(include_dirs
        "$<BUILD_INTERFACE:${dir}/include>"
        "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")

    add_library(${name}_static STATIC $<TARGET_OBJECTS:${name}_objects>)
    target_include_directories(${name}_static PUBLIC ${include_dirs})
    target_link_libraries(${name}_static PUBLIC ${pub_static} PRIVATE ${priv_static})
    set_target_properties(${name}_static PROPERTIES
        OUTPUT_NAME ${name}
        EXPORT_NAME ${arg_ALIAS}_static)
    add_library(otel::${arg_ALIAS}_static ALIAS ${name}_static)

    add_library(${name} SHARED $<TARGET_OBJECTS:${name}_objects>)
    target_include_directories(${name} PUBLIC ${include_dirs})
    target_link_libraries(${name} PUBLIC ${pub_shared} PRIVATE ${priv_shared})
    target_link_options(${name} PRIVATE "LINKER:--version-script=${OTEL_VERSION_SCRIPT}")
    if(NOT OTEL_SANITIZE AND NOT OTEL_BUILD_FUZZ)
        # Catch an unresolved symbol when the library is linked, not when a program loads it.
        # (Sanitizer and fuzzer runtimes may come from the executable, hence the exception.)
        target_link_options(${name} PRIVATE "LINKER:--no-undefined")
    endif()
    set_target_properties(${name} PROPERTIES
        OUTPUT_NAME ${name}
        EXPORT_NAME ${arg_ALIAS}
        VERSION ${PROJECT_VERSION}
        SOVERSION ${PROJECT_VERSION_MAJOR}
        LINK_DEPENDS "${OTEL_VERSION_SCRIPT}")
    add_library(otel::${arg_ALIAS} ALIAS ${name})

    # What tests, examples and the symbol check need to know about every library.
    set_property(GLOBAL APPEND PROPERTY OTEL_LIBRARIES ${name})
    set_property(GLOBAL APPEND PROPERTY OTEL_PRIVATE_INCLUDE_DIRS "${dir}/src")
    set_target_properties(${name} PROPERTIES
        OTEL_INTERNAL_INCLUDE_DIRS "${internal_dirs}"
        OTEL_PUBLIC_HEADERS "${public_headers}"
        OTEL_INCLUDE_DIR "${dir}/include")

    install(TARGETS ${name} ${name}_static
        EXPORT otelcTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime
            NAMELINK_COMPONENT Development
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT Runtime
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    if(EXISTS "${dir}/include")
        install(DIRECTORY "${dir}/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            COMPONENT Development FILES_MATCHING PATTERN "*.h")
    endif()

    # pkg-config file; relocatable: the prefix is found from the .pc file's own directory.
    _otel_pc_name("${arg_ALIAS}" pc_alias)
    set(pc_name "otel-${pc_alias}")
    if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
        set(pc_prefix "${CMAKE_INSTALL_PREFIX}")
        set(pc_libdir "${CMAKE_INSTALL_LIBDIR}")
    else()
        file(RELATIVE_PATH rel "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
        string(REGEX REPLACE "/$" "" rel "${rel}")
        set(pc_prefix "\${pcfiledir}/${rel}")
        set(pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    endif()
    if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
        set(pc_includedir "${CMAKE_INSTALL_INCLUDEDIR}")
    else()
        set(pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
    endif()
    set(pc_description "${arg_DESCRIPTION}")
    set(pc_lib "${name}")
    list(REMOVE_DUPLICATES pc_requires_private)
    list(REMOVE_DUPLICATES pc_libs_private)
    list(JOIN pc_requires ", " pc_requires)
    list(JOIN pc_requires_private ", " pc_requires_private)
    list(JOIN pc_libs_private " " pc_libs_private)
    list(JOIN pc_libs_public " " pc_libs_public)
    configure_file("${OTEL_PC_TEMPLATE}" "${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc" @ONLY)
    install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${pc_name}.pc"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
endfunction()
