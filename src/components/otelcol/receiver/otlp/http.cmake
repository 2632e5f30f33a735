# telegate_otlp_http: the OTLP/HTTP server of otelcol.receiver.otlp (included from
# src/components/CMakeLists.txt; paths are relative to this file).
add_library(telegate_otlp_http ${CMAKE_CURRENT_LIST_DIR}/http_receiver.cc)
target_link_libraries(telegate_otlp_http
  PUBLIC telegate_net telegate_pdata telegate_proto telegate_common)
telegate_test(telegate_otlp_http_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_receiver_test.cc
  LIBS telegate_otlp_http ZLIB::ZLIB Threads::Threads)
telegate_test(telegate_otlp_http_guard_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_receiver_guard_test.cc
  LIBS telegate_otlp_http Threads::Threads)
telegate_test(telegate_otlp_http_tls_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/http_receiver_tls_test.cc
  LIBS telegate_otlp_http OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
# The component's TLS configuration and lifecycle (needs the whole component library).
telegate_test(telegate_otlp_receiver_tls_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/otlp_tls_test.cc
  LIBS telegate_components OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

# TLS and mutual TLS in the real binary, with rotation through a kubelet-style symlink swap while
# a client keeps sending (test/integration/test_receiver_tls.py; certificates from certs.py).
if(TELEGATE_BUILD_TESTS AND NOT TELEGATE_FUZZ)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_test(NAME integration.receiver_tls
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/integration/test_receiver_tls.py
            --binary $<TARGET_FILE:telegate> --source-dir ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration.receiver_tls PROPERTIES TIMEOUT 180)
endif()
