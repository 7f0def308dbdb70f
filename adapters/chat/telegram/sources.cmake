add_library(leadhatch_adapter_telegram STATIC
  chat/telegram/telegram_update.cpp
)
target_link_libraries(leadhatch_adapter_telegram PUBLIC leadhatch::core PRIVATE leadhatch::warnings)
