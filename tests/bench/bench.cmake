# Micro benchmarks, run by hand (not registered with ctest):
#   ./bin/json_parse_bench [iterations]   webhook body parsing: nlohmann DOM vs core::JsonDoc
add_executable(json_parse_bench bench/json_parse_bench.cpp)
target_include_directories(json_parse_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(json_parse_bench PRIVATE LEADHATCH_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(json_parse_bench PRIVATE leadhatch_adapter_telegram leadhatch::warnings)

#   ./bin/ingest_bench STORAGE_URL [events] [batch]   the ingest writer alone: CPU per event
add_executable(ingest_bench bench/ingest_bench.cpp)
target_include_directories(ingest_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(ingest_bench PRIVATE LEADHATCH_BENCH_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(ingest_bench PRIVATE leadhatch_bot leadhatch::warnings)
