# The admin API benchmark (not a ctest test): tests/bench/admin_load.sh runs it.
add_executable(admin_bench bench/admin_bench.cpp)
target_include_directories(admin_bench PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(admin_bench PRIVATE leadhatch_test_support SQLite::SQLite3)
target_compile_definitions(admin_bench PRIVATE LEADHATCH_SOURCE_DIR_DEFAULT="${PROJECT_SOURCE_DIR}"
                                              LEADHATCH_BINARY_DEFAULT="$<TARGET_FILE:leadhatch>")
add_dependencies(admin_bench leadhatch)
