// The architectural state of one device: DRAM, unified buffer (UB), accumulators, the weight FIFO and
// the array's current weights of each matrix unit, and the token semaphores. Engines execute programs against it.
// Not thread-safe: the driver serializes launches on a device.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "isa/proto/arch_config.pb.h"

namespace tpusim::simulator {

// Device DRAM: byte-addressed, `size` bytes, backed sparsely by 64 KiB pages allocated on first write
// (reads of never-written bytes return zero), so a 32 GiB HBM costs only what is touched.
class Dram {
 public:
  static constexpr uint64_t kPageBytes = 64 * 1024;
  explicit Dram(uint64_t size) : size_(size) {}
  uint64_t size() const { return size_; }
  // OutOfRange (naming the range and the size) if [addr, addr + n) is not inside the DRAM.
  absl::Status Read(uint64_t addr, void* dst, uint64_t n) const;
  absl::Status Write(uint64_t addr, const void* src, uint64_t n);
  absl::Status CheckRange(uint64_t addr, uint64_t n) const;
  uint64_t touched_bytes() const { return pages_.size() * kPageBytes; }
  // A deep copy (the written pages only).
  Dram Clone() const;

 private:
  uint64_t size_;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
};

// One weight tile: array_rows x array_cols 32-bit words (fp32 bf16-valued bits, or int32 int8-valued),
// row-major (index k * array_cols + n).
using WeightTile = std::vector<uint32_t>;

// The weights of one matrix unit (opcodes.def, formats Weights and Matmul): LOAD_WEIGHTS mxu=m pushes
// into unit m's FIFO (at most weight_fifo_depth tiles), MATMUL mxu=m pops from it into its array.
struct MxuWeights {
  std::deque<WeightTile> weight_fifo;  // loaded, not yet popped; head first
  WeightTile weights;                  // the tile in the array (empty until the first pop)
  bool operator==(const MxuWeights& o) const {
    return weight_fifo == o.weight_fifo && weights == o.weights;
  }
  bool operator!=(const MxuWeights& o) const { return !(*this == o); }
};

struct DeviceState {
  // Sizes UB for `mode` (UbRows(arch, mode) rows of UbLanes(arch) words) and the accumulators for
  // accumulator_entries rows of array_cols words. DRAM is arch.dram_bytes.
  DeviceState(const isa::ArchConfig& arch, isa::MatmulType mode);

  // Resizes and zeroes UB/accumulators/semaphores, and empties every unit's FIFO and array weights,
  // for a launch in `mode` (DRAM is kept).
  void ResetOnChip(isa::MatmulType mode);

  isa::ArchConfig arch;
  isa::MatmulType mode;
  uint32_t lanes;      // UB row width in elements
  uint64_t ub_rows;
  Dram dram;
  std::vector<uint32_t> ub;   // ub_rows * lanes words
  std::vector<uint32_t> acc;  // accumulator_entries * array_cols words
  // One per matrix unit: MxuCount(arch) entries (unit 0 first; the accumulators are shared).
  std::vector<MxuWeights> mxu;
  std::vector<uint32_t> semaphores = std::vector<uint32_t>(256, 0);

  // A deep copy of the whole state (DRAM pages included), e.g. for a trial run.
  DeviceState Clone() const;

  uint32_t* ub_row(uint64_t r) { return ub.data() + r * lanes; }
  uint32_t* acc_row(uint64_t r) { return acc.data() + r * arch.array_cols(); }
};

// The matrix units a device of `arch` has: mxu_count, at least 1 (an unvalidated ArchConfig may say 0).
inline size_t MxuCount(const isa::ArchConfig& arch) {
  return arch.mxu_count() > 0 ? arch.mxu_count() : 1;
}

}  // namespace tpusim::simulator
