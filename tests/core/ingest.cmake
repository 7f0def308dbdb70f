# The inbound pipeline's pure tests (a fake WriteTx): passive replies, numbered menus, owners from
# scenes and WeCom, staff rep commands.
lh_test(ingest_wechat_test SOURCES core/ingest_wechat_test.cpp LIBS leadhatch_core)
