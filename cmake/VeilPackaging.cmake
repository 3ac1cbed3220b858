# `make package`: a Debian package of the node and CLI (CPack's DEB generator), with the
# dashboard, a hardened systemd unit, a default configuration, man pages and bash completion.
# Layout (docs/operations.md, "Install from the Debian package"):
#   /usr/bin/veil                              the only binary: CLI and daemon
#   /usr/share/veil/web/                       the dashboard every node serves
#   /usr/lib/systemd/system/veil-node.service  runs `veil node run --config /etc/veil/node.yaml` as user veil
#   /etc/veil/node.yaml                        the configuration (a conffile: upgrades keep your edits)
#   /usr/share/man/man1/veil*.1.gz             one page per command, from `veil man`
#   /usr/share/bash-completion/completions/veil
include(GNUInstallDirs)

install(TARGETS veil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/veil/web)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/veil-node.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/node.yaml DESTINATION /etc/veil)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages and the completion script come from the built binary's own command tree, so they
# are regenerated whenever `veil` relinks and can never describe another build.
set(VEIL_GENERATED_DOCS ${CMAKE_BINARY_DIR}/generated-docs)
add_custom_command(
  OUTPUT ${VEIL_GENERATED_DOCS}/stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${VEIL_GENERATED_DOCS}
  COMMAND $<TARGET_FILE:veil> man --out ${VEIL_GENERATED_DOCS}/man1
  COMMAND sh -c "gzip -9nf ${VEIL_GENERATED_DOCS}/man1/*.1 && $<TARGET_FILE:veil> completion bash > ${VEIL_GENERATED_DOCS}/veil.bash"
  COMMAND ${CMAKE_COMMAND} -E touch ${VEIL_GENERATED_DOCS}/stamp
  DEPENDS veil
  COMMENT "Generating man pages and bash completion from veil's command tree"
  VERBATIM)
add_custom_target(veil_generated_docs ALL DEPENDS ${VEIL_GENERATED_DOCS}/stamp)
install(DIRECTORY ${VEIL_GENERATED_DOCS}/man1/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${VEIL_GENERATED_DOCS}/veil.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME veil)

# Files under /etc are conffiles: dpkg keeps an operator's edits across upgrades.
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/veil/node.yaml\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME veil)
set(CPACK_PACKAGE_VENDOR "Veil Stack")
set(CPACK_PACKAGE_CONTACT "Veil Stack developers <dev@veil-stack.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Confidential container orchestration across organisations")
set(CPACK_PACKAGE_DESCRIPTION "Veil Stack schedules containers across nodes owned by organisations that do not
trust each other. Nodes publish their resource telemetry encrypted under the cluster's TFHE key;
schedulers filter, score and pick nodes on ciphertexts; a threshold committee decrypts only the
decision. This package holds the veil CLI and node daemon, its dashboard and a systemd unit.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # library dependencies from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "docker.io | docker-ce")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
    ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/package)
include(CPack)
