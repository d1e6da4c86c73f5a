// LOAD / STORE: strides, broadcast, lane padding, frame addressing and element conversion.
#include <cstdint>
#include <vector>

#include "sim_test_util.h"

namespace tpusim::simulator {
namespace {

using isa::DType;
using testing::Halt;
using testing::Load;
using testing::SimTest;
using testing::Store;

// M[i][j] = 10 i + j, a 4x6 row-major fp32 matrix.
std::vector<float> Matrix4x6() {
  std::vector<float> m;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 6; ++j) m.push_back(static_cast<float>(10 * i + j));
  }
  return m;
}

TEST_F(SimTest, LoadStoreRoundTripWithStrides) {
  Put<float>(0x1000, Matrix4x6());
  for (int l = 0; l < 8; ++l) SetUb(6, l, 99.0f);  // padding lanes of a loaded row get zeroed
  // LOAD 3 rows x 2 lanes starting at M[1][2], row stride 6, lane stride 2:
  //   UB[5 + r][l] = M[1 + r][2 + 2 l]  ->  [12, 14], [22, 24], [32, 34].
  // STORE with row stride 1 and lane stride 3 (a transpose): out[r + 3 l] = UB[5 + r][l].
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, 0x1000 + (1 * 6 + 2) * 4, 5, 3, 2, 6, 2),
      Store(DType::F32, 0x2000, 5, 3, 2, 1, 3),
      Halt(),
  };
  auto stats = Run(code);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(Ub(5, 0), 12.0f);
  EXPECT_EQ(Ub(5, 1), 14.0f);
  EXPECT_EQ(Ub(6, 0), 22.0f);
  EXPECT_EQ(Ub(6, 1), 24.0f);
  EXPECT_EQ(Ub(7, 0), 32.0f);
  EXPECT_EQ(Ub(7, 1), 34.0f);
  for (int l = 2; l < 8; ++l) EXPECT_EQ(Ub(6, l), 0.0f) << "lane " << l;
  EXPECT_EQ(Get<float>(0x2000, 6), (std::vector<float>{12, 22, 32, 14, 24, 34}));
  EXPECT_EQ(Get<float>(0x2000 + 24, 1)[0], 0.0f);  // nothing past the last element
  EXPECT_EQ(stats->dram_to_ub_bytes, 3u * 2 * 4);
  EXPECT_EQ(stats->ub_to_dram_bytes, 3u * 2 * 4);
}

TEST_F(SimTest, ZeroStridesBroadcast) {
  Put<float>(0x100, {1.5f, 2.5f, 3.5f});
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, 0x100, 0, 3, 3, /*row_stride=*/0, /*lane_stride=*/1),  // same row 3 times
      Load(DType::F32, 0x104, 3, 2, 8, /*row_stride=*/1, /*lane_stride=*/0),  // one value per row
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(Ub(r, 0), 1.5f);
    EXPECT_EQ(Ub(r, 1), 2.5f);
    EXPECT_EQ(Ub(r, 2), 3.5f);
    EXPECT_EQ(Ub(r, 3), 0.0f);
  }
  for (int l = 0; l < 8; ++l) {
    EXPECT_EQ(Ub(3, l), 2.5f);  // row 0 of the second LOAD starts at element 1
    EXPECT_EQ(Ub(4, l), 3.5f);  // row 1 is one element further
  }
}

TEST_F(SimTest, AddressesAreOffsetsFromTheFrameBase) {
  const uint64_t frame = 0x40000;
  Put<float>(frame + 0x20, {7.0f, 8.0f});
  const std::vector<isa::Instruction> code = {
      Load(DType::F32, 0x20, 0, 1, 2, 2),
      Store(DType::F32, 0x80, 0, 1, 2, 2),
      Halt(),
  };
  ASSERT_TRUE(Run(code, frame).ok());
  EXPECT_EQ(Get<float>(frame + 0x80, 2), (std::vector<float>{7.0f, 8.0f}));
  EXPECT_EQ(Get<float>(0x80, 2), (std::vector<float>{0.0f, 0.0f}));
}

TEST_F(SimTest, Bf16StoreRoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): ties go to even 0x3F80.
  // 1 + 3*2^-8 lies halfway between 0x3F81 and 0x3F82 (1 + 2^-6): ties go to even 0x3F82.
  // 1 + 2^-8 + 2^-20 is just above the first halfway point: 0x3F81.
  // -2.0 is exact: 0xC000.
  SetUb(0, 0, 1.0f + 0x1p-8f);
  SetUb(0, 1, 1.0f + 3 * 0x1p-8f);
  SetUb(0, 2, 1.0f + 0x1p-8f + 0x1p-20f);
  SetUb(0, 3, -2.0f);
  ASSERT_TRUE(Run({Store(DType::BF16, 0x300, 0, 1, 4, 4), Halt()}).ok());
  EXPECT_EQ(Get<uint16_t>(0x300, 4), (std::vector<uint16_t>{0x3F80, 0x3F82, 0x3F81, 0xC000}));
}

TEST_F(SimTest, Bf16LoadWidensExactly) {
  // bf16 0x4049 is fp32 0x40490000 = 3.140625; 0xBF80 is -1.0.
  Put<uint16_t>(0x10, {0x4049, 0xBF80});
  ASSERT_TRUE(Run({Load(DType::BF16, 0x10, 2, 1, 2, 2), Halt()}).ok());
  EXPECT_EQ(Ub(2, 0), 3.140625f);
  EXPECT_EQ(Ub(2, 1), -1.0f);
  EXPECT_EQ(Ub(2, 2), 0.0f);
}

TEST_F(SimTest, Int8LoadSignExtendsAndStoreSaturates) {
  state_.ResetOnChip(isa::INT8_INT32);
  Put<int8_t>(0x10, {-5, 127, -128});
  state_.ub_row(1)[0] = 300;                          // saturates to 127
  state_.ub_row(1)[1] = static_cast<uint32_t>(-300);  // saturates to -128
  state_.ub_row(1)[2] = static_cast<uint32_t>(-7);    // fits
  const std::vector<isa::Instruction> code = {
      Load(DType::I8, 0x10, 0, 1, 3, 3),
      Store(DType::I8, 0x20, 1, 1, 3, 3),
      Halt(),
  };
  ASSERT_TRUE(Run(code).ok());
  EXPECT_EQ(IntUb(0, 0), -5);
  EXPECT_EQ(IntUb(0, 1), 127);
  EXPECT_EQ(IntUb(0, 2), -128);
  EXPECT_EQ(Get<int8_t>(0x20, 3), (std::vector<int8_t>{127, -128, -7}));
}

TEST_F(SimTest, StoreWithZeroLaneStrideKeepsTheLastLane) {
  // Elements are written in (row, lane) order, so all lanes of row 0 land on one address and the
  // last one (lane 2) wins.
  SetUb(0, 0, 1.0f);
  SetUb(0, 1, 2.0f);
  SetUb(0, 2, 3.0f);
  ASSERT_TRUE(Run({Store(DType::F32, 0x40, 0, 1, 3, 1, 0), Halt()}).ok());
  EXPECT_EQ(Get<float>(0x40, 2), (std::vector<float>{3.0f, 0.0f}));
}

TEST_F(SimTest, AssembledProgramRuns) {
  Put<float>(0x100, {1, 2, 3, 4, 5, 6, 7, 8});
  auto code = isa::AssembleProgram(
      "LOAD dtype=f32 dram_addr=0x100 ub_row=4 rows=2 lanes=4 row_stride=4 lane_stride=1\n"
      "STORE dtype=f32 dram_addr=0x200 ub_row=5 rows=1 lanes=4 row_stride=4 lane_stride=1\n"
      "HALT\n");
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_TRUE(Run(*code).ok());
  EXPECT_EQ(Get<float>(0x200, 4), (std::vector<float>{5, 6, 7, 8}));
}

}  // namespace
}  // namespace tpusim::simulator
