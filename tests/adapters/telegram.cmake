# Telegram adapter tests. Fixtures are found through LEADHATCH_SOURCE_DIR (set by ctest); the compile
# definition is the fallback when the binary is run by hand.
lh_test(telegram_update_test SOURCES adapters/telegram_update_test.cpp LIBS leadhatch_adapter_telegram)
target_compile_definitions(telegram_update_test PRIVATE LEADHATCH_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
