# WeChat / WeCom building blocks: message crypto (Tencent's published vectors) and the safe XML parser.
lh_test(wechat_crypto_test SOURCES adapters/wechat_crypto_test.cpp LIBS leadhatch_adapter_wechat)
lh_test(wechat_xml_test SOURCES adapters/wechat_xml_test.cpp LIBS leadhatch_adapter_wechat)
# The Official Account and WeCom adapters. Fixtures (tests/fixtures/wechat) are found through
# LEADHATCH_SOURCE_DIR (set by ctest; LEADHATCH_SOURCE_DIR_DEFAULT when run by hand).
lh_test(wechat_oa_adapter_test SOURCES adapters/wechat_oa_adapter_test.cpp LIBS leadhatch_adapter_wechat)
lh_test(wecom_adapter_test SOURCES adapters/wecom_adapter_test.cpp LIBS leadhatch_adapter_wechat)
