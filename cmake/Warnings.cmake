add_library(leadhatch_warnings INTERFACE)
add_library(leadhatch::warnings ALIAS leadhatch_warnings)
target_compile_options(leadhatch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wsuggest-override -Wold-style-cast)
if(LEADHATCH_WERROR)
  target_compile_options(leadhatch_warnings INTERFACE -Werror)
endif()
