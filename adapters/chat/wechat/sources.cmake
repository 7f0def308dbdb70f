add_library(leadhatch_adapter_wechat STATIC
  chat/wechat/wechat_crypto.cpp
  chat/wechat/xml.cpp
  chat/wechat/wechat_common.cpp
  chat/wechat/wechat_oa_adapter.cpp
  chat/wechat/wecom_adapter.cpp
)
target_link_libraries(leadhatch_adapter_wechat PUBLIC leadhatch::core leadhatch_adapter_common OpenSSL::Crypto PRIVATE leadhatch::warnings)
