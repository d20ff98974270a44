# Installation layout and the Debian package.
#
# `cmake --install <build> --prefix DIR` lays out
#   DIR/bin/banshi
#   DIR/share/banshi/workflows/      the shipped BPMN/DMN models and calendars/
#   DIR/share/banshi/console/        the built web console (when console/dist exists)
#   DIR/share/banshi/banshi.toml     the default configuration, for the package's postinst
#   DIR/etc/banshi/banshi.toml       the configuration (component "config")
#   DIR/lib/systemd/system/banshi.service
#
# `cpack -G DEB` (run in the build folder) builds banshi_<version>_<arch>.deb
# for prefix /usr. The package leaves out the "config" component: Debian wants
# configuration under /etc, not /usr/etc, so its postinst copies
# /usr/share/banshi/banshi.toml to /etc/banshi/banshi.toml when that file does
# not exist yet, and never overwrites an operator's edits.
include(GNUInstallDirs)

set(_pkg ${PROJECT_SOURCE_DIR}/tools/packaging)

install(TARGETS banshi RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/workflows/ DESTINATION ${CMAKE_INSTALL_DATADIR}/banshi/workflows
        COMPONENT runtime FILES_MATCHING PATTERN "*.bpmn" PATTERN "*.dmn" PATTERN "*.toml" PATTERN "*.json"
        PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/console/dist/ DESTINATION ${CMAKE_INSTALL_DATADIR}/banshi/console
        COMPONENT runtime OPTIONAL)
install(FILES ${_pkg}/banshi.toml DESTINATION ${CMAKE_INSTALL_DATADIR}/banshi COMPONENT runtime)
install(FILES ${_pkg}/banshi.service DESTINATION lib/systemd/system COMPONENT runtime)
install(FILES ${_pkg}/banshi.toml DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/banshi COMPONENT config)

set(CPACK_PACKAGE_NAME banshi)
set(CPACK_PACKAGE_VENDOR "banshi")
set(CPACK_PACKAGE_CONTACT "banshi maintainers <banshi@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://banshi.invalid/")
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_STRIP_FILES ON)
# The shared libraries the binary links are found by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${_pkg}/postinst;${_pkg}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
