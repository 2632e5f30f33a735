# telegate_text: the text formatting every layer shares, the syntax library included (JSON strings,
# Go-compatible formats, label name normalisation). Included by src/syntax, which is built first
# and also in fuzz mode, where src/common is not.
add_library(telegate_text
  ${CMAKE_CURRENT_LIST_DIR}/json_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/gofmt.cc
  ${CMAKE_CURRENT_LIST_DIR}/label_name.cc)
if(TELEGATE_FUZZ)
  target_compile_options(telegate_text PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                               -fno-sanitize-recover=undefined)
endif()
telegate_test(telegate_text_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/json_writer_test.cc ${CMAKE_CURRENT_LIST_DIR}/gofmt_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/label_name_test.cc
  LIBS telegate_text)
