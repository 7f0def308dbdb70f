# WeChat / WeCom building blocks: message crypto (Tencent's published vectors) and the safe XML parser.
lh_test(wechat_crypto_test SOURCES adapters/wechat_crypto_test.cpp LIBS leadhatch_adapter_wechat)
lh_test(wechat_xml_test SOURCES adapters/wechat_xml_test.cpp LIBS leadhatch_adapter_wechat)
