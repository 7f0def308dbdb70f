add_library(leadhatch_adapter_wechat STATIC
  chat/wechat/wechat_crypto.cpp
  chat/wechat/xml.cpp
)
target_link_libraries(leadhatch_adapter_wechat PUBLIC leadhatch::core OpenSSL::Crypto PRIVATE leadhatch::warnings)
