// Without Verilator at configure time the Verilated unit models are not built; the unit tests then
// compile to nothing and this one test says why (rtl/CMakeLists.txt prints the same at configure).
#ifndef TPUSIM_RTL_HAVE_MODELS

#include <gtest/gtest.h>

TEST(RtlUnits, SkippedWithoutVerilator) {
  GTEST_SKIP() << "Verilator was not found when CMake configured this build; install it "
                  "(Debian: verilator) and reconfigure to build and test the RTL units";
}

#endif  // TPUSIM_RTL_HAVE_MODELS

#ifdef TPUSIM_RTL_HAVE_MODELS
#include <gtest/gtest.h>

#include "tpusim/rtl/rtl_engine.h"

// With Verilator the build must have the core models too: without them every rtl engine test and
// the cosimulation gate would only skip. They are missing when the configure step ran before the
// generated packages existed and was not repeated (make build and scripts/build.sh repeat it).
TEST(RtlCore, ModelsAreBuiltWhenVerilatorIs) {
  EXPECT_FALSE(tpusim::rtl::CoreModelNames().empty())
      << "Verilator is installed but the RTL core models were not configured: run "
         "`cmake --build build --target tpusim_rtl_packages && cmake build` and build again";
}
#endif  // TPUSIM_RTL_HAVE_MODELS
