# telegate_otlp_grpc: the OTLP/gRPC server of otelcol.receiver.otlp (included from
# src/components/CMakeLists.txt; paths are relative to this file).
find_package(gRPC CONFIG REQUIRED)
add_library(telegate_otlp_grpc ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver.cc
  ${CMAKE_CURRENT_LIST_DIR}/grpc_tls.cc
  ${CMAKE_CURRENT_LIST_DIR}/grpc_conn_guard.cc)
target_link_libraries(telegate_otlp_grpc
  PUBLIC telegate_proto telegate_pdata telegate_common telegate_tls gRPC::grpc++)
telegate_test(telegate_otlp_grpc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver_limits_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/grpc_conn_guard_test.cc
  LIBS telegate_otlp_grpc OpenSSL::Crypto Threads::Threads)
telegate_test(telegate_otlp_grpc_tls_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver_tls_test.cc
  LIBS telegate_otlp_grpc OpenSSL::Crypto Threads::Threads)

# Integration test of the server's limits against the real binary: a rapid HTTP/2 stream-reset
# attacker (test/integration/h2_attack.py, Python stdlib) while telegate_grpc_probe, a
# well-behaved gRPC client built here, keeps exporting.
if(TELEGATE_BUILD_TESTS AND NOT TELEGATE_FUZZ)
  add_executable(telegate_grpc_probe ${CMAKE_CURRENT_LIST_DIR}/grpc_probe_main.cc)
  target_link_libraries(telegate_grpc_probe PRIVATE telegate_proto gRPC::grpc++)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_test(NAME integration.grpc_limits
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/test/integration/test_grpc_limits.py
            --binary $<TARGET_FILE:telegate> --source-dir ${PROJECT_SOURCE_DIR})
  set_tests_properties(integration.grpc_limits PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE
    ENVIRONMENT TELEGATE_GRPC_PROBE=$<TARGET_FILE:telegate_grpc_probe>)
endif()
