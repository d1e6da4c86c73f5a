// The GEMM emitter's internals (codegen_gemm.h's EmitGemm), shared by codegen_gemm.cc (instruction
// emission) and codegen_gemm_steps.cc (UB layout, step order, load placement). Private to
// compiler_backend/src; see codegen_gemm.cc for the tiling and schedules.
//
// Several matrix units (GemmPlan::units > 1, kTokens on an arch with mxu_count > 1): the output tiles
// of an m-tile run in "waves" of at most `units` tiles, tile i of a wave on unit i with its own
// accumulator rows [i * sub, (i + 1) * sub) (the accumulators are shared by the units, so concurrent
// tiles need distinct rows). A wave covers up to units / m_split consecutive n-tiles (n-tile j of the
// wave on units j * m_split ...: column tiles go to the units round-robin) and, with m_split > 1, cuts
// the m-tile's rows into m_split sub-tiles, each with its own copy of the weight tile (GEMMs with fewer
// n-tiles than units). A wave's steps run k-tile by k-tile, pass by pass, one MATMUL per tile (so per
// unit) in turn: a MATMUL releases the compute queue as soon as its unit takes it (docs/timing.md,
// version 4), so the in-order queue keeps every unit fed; each tile's own order (k-tile then pass,
// hence its bits) is the single-unit one. Epilogues run after the wave's last MATMUL, all together: an
// ACTIVATE waits for every earlier MATMUL, so one drain per wave instead of one per tile.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "codegen_context.h"
#include "codegen_gemm.h"

namespace tpusim::compiler::codegen::gemm_detail {

inline uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
inline constexpr uint64_t kMaxInterleavedNTiles = 4;  // see GemmEmitter::interleave_

struct ABlock {  // A rows [m0, m0+mt) x k-tiles [kt0, kt0+count) in part-0 buffer `slot`
  uint64_t m0, mt, kt0, count, slot;
};
struct Step {  // one MATMUL: k-tile `pos` of block `block`, precision pass `pass`, output tile `tile`
  size_t block;
  uint64_t pos;
  size_t pass, tile;
};
struct OutTile {
  uint64_t m0, mt, n0, nt;
  size_t first_step, last_step;
  // Several units: the tile's wave, its index in the wave and so its unit (0 in the single-unit mode).
  size_t wave = 0, idx = 0;
};
struct Wave {  // several units: tiles [first_tile, first_tile + num_tiles), steps [first_step, last_step]
  size_t first_tile, num_tiles, first_step, last_step;
};

class GemmEmitter {
 public:
  GemmEmitter(CodegenContext& ctx, const GemmOperands& g, const GemmEpilogue& e)
      : ctx_(ctx), g_(g), e_(e), plan_(PlanGemm(ctx, g, e)),
        passes_(PrecisionPasses(ctx.precision())),
        fifo_(std::max<uint64_t>(1, ctx.arch().weight_fifo_depth())),
        multi_(plan_.units > 1) {}

  void Run();

 private:
  // codegen_gemm_steps.cc
  void Layout();
  void BuildSteps();
  void BuildWaves();  // BuildSteps for several units
  void PlaceLoads();
  bool ChooseInterleave() const;
  // codegen_gemm.cc
  void EmitSlot(size_t slot);
  void LoadA(size_t b, uint64_t pos);
  void SplitA(size_t b, uint64_t pos);
  void LoadWeights(size_t s);
  void LoadTileInput(size_t t, bool c);  // bias (c = false) or C of output tile t
  void LoadWaveInputs(size_t w);         // several units: the double-buffered bias and C of wave w
  void Epilogue(size_t t);
  uint64_t APartRow(size_t b, uint64_t pos, int part) const {
    const uint64_t base = part == 0 ? a0_[blocks_[b].slot] : a_part_[static_cast<size_t>(part)];
    return base + pos * plan_.mt;
  }
  uint64_t CRows(const OutTile& t) const { return e_.c->row_stride == 0 ? 1 : t.mt; }
  // Accumulator row of tile t: several units, its wave index's region; interleaved, a region per
  // n-tile of an m-tile, two sets; else acc_slots.
  uint64_t AccRow(size_t t) const {
    if (multi_) return tiles_[t].idx * wave_.sub;
    return (interleave_ ? t % (2 * n_tiles_) : t % plan_.acc_slots) * plan_.mt;
  }
  // UB rows of tile t's output, C and bias buffers (several units: a wave buffer, a region per tile).
  uint64_t OutRow(size_t t) const { return WaveRow(out_, t, wave_.sub); }
  uint64_t CRow(size_t t) const { return WaveRow(c_, t, wave_.sub); }
  uint64_t BiasRow(size_t t) const { return WaveRow(bias_, t, 1); }
  uint64_t WaveRow(const std::vector<uint64_t>& slots, size_t t, uint64_t per_tile) const {
    if (!multi_) return slots[t % slots.size()];
    return slots[tiles_[t].wave % slots.size()] + tiles_[t].idx * per_tile;
  }
  uint32_t UnitOf(size_t t) const { return static_cast<uint32_t>(multi_ ? tiles_[t].idx : 0); }

  CodegenContext& ctx_;
  const GemmOperands& g_;
  const GemmEpilogue& e_;
  const GemmPlan plan_;
  const std::vector<std::pair<int, int>> passes_;
  const uint64_t fifo_;
  const bool multi_;         // several matrix units (plan_.units > 1)
  GemmWaveShape wave_;       // several units: the wave shape
  std::vector<Wave> waves_;  // several units
  // kTokens, resident A, 2..kMaxInterleavedNTiles n-tiles: an m-tile's steps run k-tile by k-tile over
  // all its n-tiles, so its A loads overlap every n-tile's MATMULs; per tile the order (so the bits) stays.
  bool interleave_ = false;
  uint64_t n_tiles_ = 1;
  // UB rows.
  std::vector<uint64_t> a0_, a_part_, out_, c_, bias_;
  std::vector<ABlock> blocks_;
  std::vector<Step> steps_;
  std::vector<OutTile> tiles_;
  // kSerial: the A loads at each step (a block's first). kTokens: the load-queue work emitted right
  // after MATMUL k (slot k + 1; slot 0 is the prologue), in the order the MATMULs need it.
  struct LoadItem {
    size_t need;     // the step whose MATMUL needs it
    bool is_a;       // an A k-tile (block, pos) or the weight tile of step `need`
    size_t block;
    uint64_t pos;
  };
  std::vector<std::vector<std::pair<size_t, uint64_t>>> load_before_;
  std::vector<std::vector<LoadItem>> load_slot_;
  std::vector<bool> first_use_;  // the first step of its (block, k-tile): the split goes there
};

}  // namespace tpusim::compiler::codegen::gemm_detail
