# The outgoing HTTP client: real plain and TLS servers on 127.0.0.1:0 inside the test.
lh_test(http_client_test SOURCES adapters/http_client_test.cpp LIBS leadhatch_http_client GTest::gmock)
