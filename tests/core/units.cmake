# Pure unit tests of core/: the send scheduler and backoff, referral codes, the JSON writer,
# message templates, the lead cursor, folding a batch's updates into new rows, ISO 8601 times,
# the inbound pipeline (with the in-memory tests/fakes/fake_write_tx.hpp and fake_clock.hpp) and
# the lead service. No I/O, no sleeping.
lh_test(send_scheduler_test SOURCES core/send_scheduler_test.cpp LIBS leadhatch_core)
lh_test(referral_test SOURCES core/referral_test.cpp LIBS leadhatch_core)
lh_test(json_writer_test SOURCES core/json_writer_test.cpp LIBS leadhatch_core)
lh_test(templates_test SOURCES core/templates_test.cpp LIBS leadhatch_core)
lh_test(cursor_test SOURCES core/cursor_test.cpp LIBS leadhatch_core)
lh_test(write_set_test SOURCES core/write_set_test.cpp LIBS leadhatch_core)
lh_test(lead_state_cache_test SOURCES core/lead_state_cache_test.cpp LIBS leadhatch_core)
lh_test(types_test SOURCES core/types_test.cpp LIBS leadhatch_core)
lh_test(ingest_test SOURCES core/ingest_test.cpp LIBS leadhatch_core)
lh_test(lead_service_test SOURCES core/lead_service_test.cpp LIBS leadhatch_core)
