// Drives a Verilated mxu_array (rtl/sv/mxu_array.sv) with an explicit clock loop and checks what
// comes out against isa::numerics and docs/timing.md rules 4 and 5. A test writes a plan — which
// weight-shift step and which input row go in at which cycle — runs it, and compares every output
// row (its cycle, its tag, its C sums) with the expectation the plan implies: row r of a MATMUL
// fed in cycle f is on the outputs in cycle f + R + C - 1, so a MATMUL started at s with B
// contiguous rows completes at s + B + R + C - 2 (rule 5), and its sums are
// numerics::ColumnDotBf16 / ColumnDotInt8 over the tile the MATMUL popped.
#pragma once

#include <absl/strings/str_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "tpusim/isa/isa.h"
#include "tpusim/isa/numerics.h"
#include "verilated.h"

namespace tpusim::rtl::testing {

// A weight tile: R x C words, row-major, bf16 bits (or an int8 in bits [7:0]).
using Tile = std::vector<uint16_t>;
// One input row: R words (x[k] feeds array row k).
using Row = std::vector<uint16_t>;

// lane `lane` of width `width` bits (width divides 32, lanes never straddle words) of a packed
// port.
template <typename Port>
void PutLane(Port& port, int width, int lane, uint32_t value) {
  const int lsb = lane * width;
  const uint64_t mask = (width == 32 ? 0xffffffffull : (1ull << width) - 1);
  if constexpr (std::is_integral_v<Port>) {
    port = static_cast<Port>((port & ~(mask << lsb)) | ((value & mask) << lsb));
  } else {
    uint32_t& word = port[lsb / 32];
    word = static_cast<uint32_t>((word & ~(mask << (lsb % 32))) | ((value & mask) << (lsb % 32)));
  }
}
template <typename Port>
uint32_t GetLane(const Port& port, int width, int lane) {
  const int lsb = lane * width;
  const uint64_t mask = (width == 32 ? 0xffffffffull : (1ull << width) - 1);
  if constexpr (std::is_integral_v<Port>) {
    return static_cast<uint32_t>((static_cast<uint64_t>(port) >> lsb) & mask);
  } else {
    return static_cast<uint32_t>((port[lsb / 32] >> (lsb % 32)) & mask);
  }
}

// What the plan feeds in one cycle.
struct RowFeed {
  bool swap = false;
  bool int8 = false;
  uint16_t tag = 0;
  Row x;
};

// The plan of a run. Steps and rows are keyed by the cycle they are presented in.
struct Plan {
  std::map<uint64_t, std::vector<uint16_t>> steps;  // w_row (C words)
  std::map<uint64_t, RowFeed> rows;
};

// An output row as seen on the ports: the cycle it is there, its tag and the C sums (raw bits).
struct OutRow {
  uint64_t cycle;
  uint16_t tag;
  std::vector<uint32_t> sums;
  bool operator==(const OutRow& o) const {
    return cycle == o.cycle && tag == o.tag && sums == o.sums;
  }
};

// Owns one Verilated mxu_array of R x C and its context; resets it at construction. Cycle 0 is the
// first cycle after reset; the plan's inputs for cycle t are sampled at the rising edge ending it.
// Not thread-safe; one per test.
template <typename Model>
class MxuHarness {
 public:
  MxuHarness(int rows, int cols) : rows_(rows), cols_(cols), model_(&context_) {
    model_.rst_n = 0;
    Tick();
    Tick();
    model_.rst_n = 1;
  }
  ~MxuHarness() { model_.final(); }
  MxuHarness(const MxuHarness&) = delete;
  MxuHarness& operator=(const MxuHarness&) = delete;

  // Runs the plan from the current cycle up to (not including) cycle `until` and returns every row
  // the array put out meanwhile, in order. Appends shadow_full during each cycle run.
  std::vector<OutRow> Run(const Plan& plan, uint64_t until,
                          std::vector<bool>* shadow_full = nullptr) {
    std::vector<OutRow> out;
    for (; now_ < until; ++now_) {
      const uint64_t t = now_;
      if (shadow_full != nullptr) shadow_full->push_back(model_.shadow_full != 0);
      if (model_.out_valid) {
        OutRow row{t, static_cast<uint16_t>(model_.out_tag), {}};
        for (int c = 0; c < cols_; ++c) row.sums.push_back(GetLane(model_.out_sum, 32, c));
        out.push_back(std::move(row));
      }
      const auto step = plan.steps.find(t);
      model_.w_valid = step != plan.steps.end();
      for (int c = 0; c < cols_; ++c) {
        PutLane(model_.w_row, 16, c, model_.w_valid ? step->second[c] : 0xdeadu);
      }
      const auto row = plan.rows.find(t);
      model_.in_valid = row != plan.rows.end();
      model_.in_swap = model_.in_valid && row->second.swap;
      model_.in_int8 = model_.in_valid && row->second.int8;
      model_.in_tag = model_.in_valid ? row->second.tag : 0xbeef;
      for (int k = 0; k < rows_; ++k) {
        PutLane(model_.in_x, 16, k, model_.in_valid ? row->second.x[k] : 0x7fc1u);  // NaN filler
      }
      Tick();
    }
    return out;
  }

  bool protocol_error() const { return model_.protocol_error != 0; }

 private:
  void Tick() {
    model_.clk = 0;
    model_.eval();
    model_.clk = 1;
    model_.eval();
  }

  int rows_, cols_;
  uint64_t now_ = 0;  // the cycle the next Tick() ends
  VerilatedContext context_;
  Model model_;
};

// Builds a plan and the outputs it must produce, for an R x C array.
class Scenario {
 public:
  Scenario(int rows, int cols) : rows_(rows), cols_(cols) {}

  // Shifts `tile` in: step q (tile row R - 1 - q) in cycle at[q] (R strictly increasing cycles).
  // The tile becomes the one the next popping MATMUL uses.
  void Shift(const Tile& tile, const std::vector<uint64_t>& at) {
    for (int q = 0; q < rows_; ++q) {
      const uint16_t* src = &tile[static_cast<size_t>((rows_ - 1 - q) * cols_)];
      plan_.steps[at[q]] = std::vector<uint16_t>(src, src + cols_);
    }
    shifted_.push_back(tile);
  }
  // Shifts over R contiguous cycles from t0 (rule 4).
  void Shift(const Tile& tile, uint64_t t0) {
    std::vector<uint64_t> at;
    for (int q = 0; q < rows_; ++q) at.push_back(t0 + q);
    Shift(tile, at);
  }

  // A MATMUL whose row r is fed in cycle at[r]; with `pop` its first row swaps in the tile shifted
  // least recently and not popped yet. Row tags are (matmul number << 8) | r.
  void Matmul(bool pop, bool int8, const std::vector<Row>& rows, const std::vector<uint64_t>& at) {
    if (pop) active_ = popped_++;
    const Tile& w = shifted_.at(active_);
    for (size_t r = 0; r < rows.size(); ++r) {
      const auto tag = static_cast<uint16_t>(matmuls_ << 8 | r);
      plan_.rows[at[r]] = RowFeed{pop && r == 0, int8, tag, rows[r]};
      expected_.push_back(OutRow{at[r] + rows_ + cols_ - 1, tag, Reference(int8, rows[r], w)});
    }
    ++matmuls_;
  }
  // B = rows.size() contiguous rows from s.
  void Matmul(bool pop, bool int8, const std::vector<Row>& rows, uint64_t s) {
    std::vector<uint64_t> at;
    for (size_t r = 0; r < rows.size(); ++r) at.push_back(s + r);
    Matmul(pop, int8, rows, at);
  }

  const Plan& plan() const { return plan_; }
  // Every expected output row, sorted by cycle.
  std::vector<OutRow> expected() const {
    std::vector<OutRow> e = expected_;
    std::sort(e.begin(), e.end(),
              [](const OutRow& a, const OutRow& b) { return a.cycle < b.cycle; });
    return e;
  }
  // A cycle by which everything planned has come out.
  uint64_t end() const {
    uint64_t last = 0;
    for (const OutRow& o : expected_) last = std::max(last, o.cycle);
    return last + 2;
  }

 private:
  // The sums a row must produce with tile w: numerics::ColumnDot* down each column, row 0 first.
  std::vector<uint32_t> Reference(bool int8, const Row& x, const Tile& w) const {
    namespace num = isa::numerics;
    std::vector<uint32_t> sums;
    if (int8) {
      std::vector<int8_t> xi(x.size()), wi(w.size());
      for (size_t i = 0; i < x.size(); ++i) xi[i] = static_cast<int8_t>(x[i] & 0xff);
      for (size_t i = 0; i < w.size(); ++i) wi[i] = static_cast<int8_t>(w[i] & 0xff);
      for (int c = 0; c < cols_; ++c) {
        sums.push_back(
            static_cast<uint32_t>(num::ColumnDotInt8(xi.data(), wi.data() + c, rows_, cols_)));
      }
    } else {
      std::vector<float> xf(x.size()), wf(w.size());
      for (size_t i = 0; i < x.size(); ++i) xf[i] = num::Bf16BitsToF32(x[i]);
      for (size_t i = 0; i < w.size(); ++i) wf[i] = num::Bf16BitsToF32(w[i]);
      for (int c = 0; c < cols_; ++c) {
        sums.push_back(static_cast<uint32_t>(
            isa::F32Bits(num::ColumnDotBf16(xf.data(), wf.data() + c, rows_, cols_))));
      }
    }
    return sums;
  }

  int rows_, cols_;
  Plan plan_;
  std::vector<Tile> shifted_;
  size_t popped_ = 0, active_ = 0;
  int matmuls_ = 0;
  std::vector<OutRow> expected_;
};

inline std::string Describe(const OutRow& o) {
  std::string s = absl::StrFormat("cycle %d tag %04x:", o.cycle, o.tag);
  for (uint32_t v : o.sums) absl::StrAppendFormat(&s, " %08x", v);
  return s;
}

// Every output row equal to the expectation: same cycles, tags and bits, nothing more or less.
inline void ExpectOutputs(const std::vector<OutRow>& got, const std::vector<OutRow>& want) {
  EXPECT_EQ(got.size(), want.size()) << "number of output rows";
  int shown = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()) && shown < 5; ++i) {
    if (!(got[i] == want[i])) {
      ADD_FAILURE() << "output row " << i << "\n  rtl:       " << Describe(got[i])
                    << "\n  expected:  " << Describe(want[i]);
      ++shown;
    }
  }
}

}  // namespace tpusim::rtl::testing
