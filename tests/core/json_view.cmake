# core::JsonDoc / JsonRef. The differential tests read tests/fixtures/telegram through LEADHATCH_SOURCE_DIR
# (set by ctest); the compile definition is the fallback when the binary is run by hand.
lh_test(json_view_test SOURCES core/json_view_test.cpp LIBS leadhatch_core)
target_compile_definitions(json_view_test PRIVATE LEADHATCH_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
