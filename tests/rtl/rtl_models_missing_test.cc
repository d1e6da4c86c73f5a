// Without Verilator at configure time the Verilated unit models are not built; the unit tests then
// compile to nothing and this one test says why (rtl/CMakeLists.txt prints the same at configure).
#ifndef TPUSIM_RTL_HAVE_MODELS

#include <gtest/gtest.h>

TEST(RtlUnits, SkippedWithoutVerilator) {
  GTEST_SKIP() << "Verilator was not found when CMake configured this build; install it "
                  "(Debian: verilator) and reconfigure to build and test the RTL units";
}

#endif  // TPUSIM_RTL_HAVE_MODELS
