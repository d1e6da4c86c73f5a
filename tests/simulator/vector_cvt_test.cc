// VECTOR cvt_i2f / cvt_f2i on the functional engine (and, through SimTest, the cycle engine): an i8
// LOAD sign-extends into int32 words, cvt_i2f turns them into fp32, fp32 arithmetic runs, cvt_f2i
// rounds half to even back to int32 words and an i8 STORE narrows them (saturating).
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using isa::VectorOp;
using testing::Halt;
using testing::Load;
using testing::SimTest;
using testing::Store;
using testing::Vector;

TEST_F(SimTest, CvtI2fReadsTheWordAsAnInt32) {
  // Words 1 and 2 would be subnormal fp32 patterns: cvt_i2f must read them as integers.
  const std::vector<int32_t> in = {0, 1, 2, -1, -128, 127, 16777217, INT32_MIN};
  for (int l = 0; l < 8; ++l) state_.ub_row(3)[l] = static_cast<uint32_t>(in[l]);
  ASSERT_TRUE(Run({Vector(VectorOp::CvtI2f, 4, 3, 0, 1), Halt()}).ok());
  // 16777217 = 2^24 + 1 is a tie between 2^24 and 2^24 + 2: the even mantissa (2^24) wins.
  const std::vector<float> want = {0, 1, 2, -1, -128, 127, 16777216.0f, -2147483648.0f};
  for (int l = 0; l < 8; ++l) EXPECT_EQ(Ub(4, l), want[l]) << "lane " << l;
}

TEST_F(SimTest, CvtF2iRoundsHalfToEvenAndSaturates) {
  const std::vector<float> in = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 3e9f, -INFINITY, NAN};
  for (int l = 0; l < 8; ++l) SetUb(3, l, in[l]);
  ASSERT_TRUE(Run({Vector(VectorOp::CvtF2i, 3, 3, 0, 1), Halt()}).ok());  // in place
  const std::vector<int32_t> want = {0, 2, 2, 0, -2, INT32_MAX, INT32_MIN, 0};
  for (int l = 0; l < 8; ++l) EXPECT_EQ(IntUb(3, l), want[l]) << "lane " << l;
}

TEST_F(SimTest, Int8DequantizeAndQuantizeThroughTheUb) {
  // x (int8) -> fp32 -> (x - zp) * scale -> / scale2 -> round -> + zp2 -> i8 STORE (saturating).
  const std::vector<int8_t> x = {-128, -3, 0, 1, 5, 7, 100, 127};
  Put<int8_t>(0x100, x);
  ASSERT_TRUE(Run({Load(DType::I8, 0x100, 10, 1, 8, 8),
                   Vector(VectorOp::CvtI2f, 11, 10, 0, 1),
                   Vector(VectorOp::AddImm, 11, 11, 0, 1, false, -1.0f),  // zp = 1
                   Vector(VectorOp::MulImm, 11, 11, 0, 1, false, 0.5f),   // scale = 0.5
                   Vector(VectorOp::MulImm, 12, 11, 0, 1, false, 2.0f),   // / scale2 = 0.5
                   Vector(VectorOp::CvtF2i, 12, 12, 0, 1),
                   Store(DType::I8, 0x200, 12, 1, 8, 8), Halt()})
                  .ok());
  // (x - 1) * 0.5 = {-64.5, -2, -0.5, 0, 2, 3, 49.5, 63}; * 2 is exact, so x - 1 comes back.
  for (int l = 0; l < 8; ++l) EXPECT_EQ(Ub(11, l), (x[l] - 1) * 0.5f) << "lane " << l;
  EXPECT_EQ(Get<int8_t>(0x200, 8), (std::vector<int8_t>{-128, -4, -1, 0, 4, 6, 99, 126}));
}

TEST_F(SimTest, CvtOpsAreRejectedInInt8Mode) {
  state_ = DeviceState(arch_, isa::INT8_INT32);
  EXPECT_FALSE(Run({Vector(VectorOp::CvtI2f, 1, 0, 0, 1), Halt()}).ok());
}

}  // namespace
}  // namespace tpusim::simulator
