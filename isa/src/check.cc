// tpusim::detail::CheckFailed: the abort path of TPUSIM_CHECK / TPUSIM_UNREACHABLE (status_macros.h).
#include <cstdio>
#include <cstdlib>

#include "tpusim/isa/status_macros.h"

namespace tpusim::detail {

void CheckFailed(const char* file, int line, const char* cond, const char* msg) {
  std::fprintf(stderr, "%s:%d: TPUSIM_CHECK failed: %s%s%s\n", file, line, cond,
               (msg != nullptr && msg[0] != '\0') ? ": " : "", msg != nullptr ? msg : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace tpusim::detail
