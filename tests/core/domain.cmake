# Funnel stages and transitions, lead scoring, segments: pure domain rules. The shipped
# templates/*.json are read through LEADHATCH_SOURCE_DIR (set by ctest; the compile definition
# LEADHATCH_SOURCE_DIR_DEFAULT from lh_test is the fallback when a binary is run by hand).
lh_test(funnel_test SOURCES core/funnel_test.cpp LIBS leadhatch_core)
lh_test(scoring_test SOURCES core/scoring_test.cpp LIBS leadhatch_core)
lh_test(segments_test SOURCES core/segments_test.cpp LIBS leadhatch_core)
