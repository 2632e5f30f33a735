# telegate_otlp_grpc: the OTLP/gRPC server of otelcol.receiver.otlp (included from
# src/components/CMakeLists.txt; paths are relative to this file).
find_package(gRPC CONFIG REQUIRED)
add_library(telegate_otlp_grpc ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver.cc)
target_link_libraries(telegate_otlp_grpc
  PUBLIC telegate_proto telegate_pdata telegate_common gRPC::grpc++)
telegate_test(telegate_otlp_grpc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/grpc_receiver_test.cc
  LIBS telegate_otlp_grpc OpenSSL::Crypto Threads::Threads)
