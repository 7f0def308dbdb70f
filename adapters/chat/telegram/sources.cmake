add_library(leadhatch_adapter_telegram STATIC
  chat/telegram/telegram_update.cpp
  chat/telegram/telegram_adapter.cpp
)
target_link_libraries(leadhatch_adapter_telegram PUBLIC leadhatch::core leadhatch_adapter_common PRIVATE leadhatch::warnings)
