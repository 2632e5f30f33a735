# otelcol.auth.client_certificate (included from src/components/CMakeLists.txt; paths are
# relative to this file).
target_sources(telegate_components PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/client_certificate.cc
  ${CMAKE_CURRENT_LIST_DIR}/cert_handler.cc
  ${CMAKE_CURRENT_LIST_DIR}/identity_map.cc)
telegate_test(telegate_auth_client_certificate_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_certificate_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/cert_handler_test.cc
  LIBS telegate_components)
