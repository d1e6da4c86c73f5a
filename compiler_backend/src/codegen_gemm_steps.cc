// The GEMM emitter's plan made concrete (codegen_gemm_emitter.h): UB layout, the MATMUL steps in
// program order, and where each load goes in the load queue.
#include <algorithm>
#include <cmath>
#include <map>

#include "codegen_gemm_emitter.h"

namespace tpusim::compiler::codegen::gemm_detail {

bool GemmEmitter::ChooseInterleave() const {
  // Few n-tiles only: all their epilogues come after the last k-tile; many make a tail longer than the gain.
  if (multi_ || !ctx_.overlapped() || !plan_.resident || n_tiles_ < 2 || n_tiles_ > kMaxInterleavedNTiles ||
      2 * n_tiles_ * plan_.mt > ctx_.arch().accumulator_entries()) return false;
  const uint64_t P = static_cast<uint64_t>(NumBf16Parts(ctx_.precision()));
  const uint64_t rows = (plan_.a_slots + P - 1) * plan_.chunk * plan_.mt + plan_.out_slots * plan_.mt +
                        (e_.c.has_value() ? 2 * plan_.mt : 0) + (e_.bias.has_value() ? 2 * n_tiles_ : 0);
  return rows <= ctx_.ub_rows();
}

void GemmEmitter::Layout() {
  const uint64_t P = static_cast<uint64_t>(NumBf16Parts(ctx_.precision()));
  UbAllocator alloc = ctx_.NewUb();
  const uint64_t a_rows = plan_.chunk * plan_.mt;
  for (uint64_t s = 0; s < plan_.a_slots; ++s) a0_.push_back(alloc.Take(a_rows));
  a_part_.push_back(0);  // part 0 lives in a0_
  for (uint64_t p = 1; p < P; ++p) a_part_.push_back(alloc.Take(a_rows));
  if (multi_) {  // wave buffers: a region of wave_.sub rows (bias: one row) per tile of the wave
    for (uint64_t s = 0; s < plan_.out_slots; ++s) out_.push_back(alloc.Take(wave_.tiles * wave_.sub));
    for (uint64_t s = 0; s < (e_.c.has_value() ? plan_.c_slots : 0); ++s) c_.push_back(alloc.Take(wave_.tiles * wave_.sub));
    for (uint64_t s = 0; s < (e_.bias.has_value() ? plan_.bias_slots : 0); ++s) bias_.push_back(alloc.Take(wave_.tiles));
    return;
  }
  for (uint64_t s = 0; s < plan_.out_slots; ++s) out_.push_back(alloc.Take(plan_.mt));
  if (e_.c.has_value()) {
    for (uint64_t s = 0; s < (interleave_ ? 2 : plan_.c_slots); ++s) c_.push_back(alloc.Take(plan_.mt));
  }
  if (e_.bias.has_value()) {
    for (uint64_t s = 0; s < (interleave_ ? 2 * n_tiles_ : plan_.bias_slots); ++s) bias_.push_back(alloc.Take(1));
  }
}

void GemmEmitter::BuildSteps() {
  if (multi_) return BuildWaves();
  const uint64_t R = ctx_.array_rows(), C = ctx_.array_cols();
  const uint64_t KT = g_.k_tiles.empty() ? CeilDiv(g_.k, R) : g_.k_tiles.size();
  auto add_block = [&](uint64_t m0, uint64_t mt, uint64_t kt0, uint64_t count) {
    blocks_.push_back({m0, mt, kt0, count, blocks_.size() % plan_.a_slots});
  };
  for (uint64_t m0 = 0; m0 < g_.m; m0 += plan_.mt) {
    const uint64_t mt = std::min(plan_.mt, g_.m - m0);
    if (plan_.resident) add_block(m0, mt, 0, KT);
    if (interleave_) {  // resident: one block of all KT k-tiles
      const size_t first_tile = tiles_.size();
      for (uint64_t n0 = 0; n0 < g_.n; n0 += C) tiles_.push_back({m0, mt, n0, std::min(C, g_.n - n0), 0, 0});
      for (uint64_t pos = 0; pos < KT; ++pos) {
        for (size_t t = first_tile; t < tiles_.size(); ++t) {
          for (size_t pass = 0; pass < passes_.size(); ++pass) {
            if (pos == 0 && pass == 0) tiles_[t].first_step = steps_.size();
            tiles_[t].last_step = steps_.size();
            steps_.push_back({blocks_.size() - 1, pos, pass, t});
          }
        }
      }
      continue;
    }
    for (uint64_t n0 = 0; n0 < g_.n; n0 += C) {
      tiles_.push_back({m0, mt, n0, std::min(C, g_.n - n0), steps_.size(), 0});
      for (uint64_t kt0 = 0; kt0 < KT; kt0 += plan_.chunk) {
        const uint64_t count = std::min(plan_.chunk, KT - kt0);
        if (!plan_.resident) add_block(m0, mt, kt0, count);
        for (uint64_t pos = 0; pos < count; ++pos) {
          for (size_t pass = 0; pass < passes_.size(); ++pass) {
            steps_.push_back({blocks_.size() - 1, pos, pass, tiles_.size() - 1});
          }
        }
      }
      tiles_.back().last_step = steps_.size() - 1;
    }
  }
}

// Per m-tile (resident: one A block for all its waves), per wave of wave_.group n-tiles x m_split
// sub-tiles, per A chunk (not resident: one block per wave and chunk): k-tile, pass, tile of the wave.
void GemmEmitter::BuildWaves() {
  const uint64_t R = ctx_.array_rows(), C = ctx_.array_cols();
  const uint64_t KT = g_.k_tiles.empty() ? CeilDiv(g_.k, R) : g_.k_tiles.size();
  auto add_block = [&](uint64_t m0, uint64_t mt, uint64_t kt0, uint64_t count) {
    blocks_.push_back({m0, mt, kt0, count, blocks_.size() % plan_.a_slots});
  };
  for (uint64_t m0 = 0; m0 < g_.m; m0 += plan_.mt) {
    const uint64_t mt = std::min(plan_.mt, g_.m - m0), sub = CeilDiv(mt, plan_.m_split);
    if (plan_.resident) add_block(m0, mt, 0, KT);
    for (uint64_t j0 = 0; j0 < n_tiles_; j0 += wave_.group) {
      Wave w{tiles_.size(), 0, steps_.size(), 0};
      for (uint64_t j = j0; j < std::min(n_tiles_, j0 + wave_.group); ++j) {
        for (uint64_t r0 = 0; r0 < mt; r0 += sub) {
          tiles_.push_back({m0 + r0, std::min(sub, mt - r0), j * C, std::min(C, g_.n - j * C), 0, 0, waves_.size(),
                            tiles_.size() - w.first_tile});
        }
      }
      w.num_tiles = tiles_.size() - w.first_tile;
      for (uint64_t kt0 = 0; kt0 < KT; kt0 += plan_.chunk) {
        const uint64_t count = std::min(plan_.chunk, KT - kt0);
        if (!plan_.resident) add_block(m0, mt, kt0, count);
        for (uint64_t pos = 0; pos < count; ++pos) {
          for (size_t pass = 0; pass < passes_.size(); ++pass) {
            for (size_t t = w.first_tile; t < tiles_.size(); ++t) {
              if (kt0 == 0 && pos == 0 && pass == 0) tiles_[t].first_step = steps_.size();
              tiles_[t].last_step = steps_.size();
              steps_.push_back({blocks_.size() - 1, pos, pass, t});
            }
          }
        }
      }
      w.last_step = steps_.size() - 1;
      waves_.push_back(w);
    }
  }
}

// Where the loads go. kSerial: a block's A loads at its first step; weights in Run(). kTokens: the
// weight tile of step s right after MATMUL s - F (F = FIFO depth: the FIFO never overflows in
// program order), and A k-tile j of block b D steps before its first MATMUL, D = F + the steps one A
// load takes + 1 (resident with two A buffers, earlier still: the next m-tile's loads spread evenly
// over this m-tile's steps), but never before the last MATMUL that reads the UB rows it overwrites (with two A buffers
// that was two blocks back; with one, the previous block's k-tile j: refill).
void GemmEmitter::PlaceLoads() {
  const size_t n = steps_.size();
  first_use_.assign(n, false);
  std::vector<size_t> first_step(blocks_.size(), n), last_step(blocks_.size(), 0);
  std::vector<std::vector<size_t>> first_use(blocks_.size()), last_use(blocks_.size());
  for (size_t b = 0; b < blocks_.size(); ++b) {
    first_use[b].assign(blocks_[b].count, n);
    last_use[b].assign(blocks_[b].count, 0);
  }
  for (size_t s = 0; s < n; ++s) {
    const Step& st = steps_[s];
    first_step[st.block] = std::min(first_step[st.block], s);
    last_step[st.block] = s;
    if (first_use[st.block][st.pos] == n) {
      first_use[st.block][st.pos] = s;
      first_use_[s] = true;
    }
    last_use[st.block][st.pos] = s;
  }
  if (!ctx_.overlapped()) {
    load_before_.assign(n, {});
    for (size_t b = 1; b < blocks_.size(); ++b) {
      for (uint64_t j = 0; j < blocks_[b].count; ++j) load_before_[first_step[b]].push_back({b, j});
    }
    return;
  }
  const uint64_t R = ctx_.array_rows();
  const uint64_t a_bytes = plan_.mt * std::min<uint64_t>(R, g_.k) * kF32Bytes;
  const double a_cycles = GemmDmaCycles(ctx_.arch(), static_cast<double>(a_bytes));
  // Steps an A load spans: a step takes Mt cycles on one unit; with several units a round of one step
  // per tile of the wave takes max(sub-tile rows, R) (the weight shift), shared by its steps.
  const double step_cycles =
      multi_ ? static_cast<double>(std::max<uint64_t>(wave_.sub, R)) / static_cast<double>(wave_.tiles)
             : static_cast<double>(plan_.mt);
  const size_t lookahead = fifo_ * (multi_ ? wave_.tiles : 1) + static_cast<size_t>(std::ceil(a_cycles / step_cycles)) + 1;
  load_slot_.assign(n + 1, {});
  // Weights: after the MATMUL F steps back on the same unit, so in program order no unit's FIFO holds
  // more than F tiles (one unit: F steps back).
  std::vector<std::vector<size_t>> unit_steps(multi_ ? wave_.tiles : 1);
  for (size_t s = 0; s < n; ++s) {
    std::vector<size_t>& mine = unit_steps[UnitOf(steps_[s].tile)];
    load_slot_[mine.size() < fifo_ ? 0 : mine[mine.size() - fifo_] + 1].push_back({s, false, 0, 0});
    mine.push_back(s);
  }
  std::map<std::pair<uint64_t, uint64_t>, size_t> last_reader;  // (buffer, k-tile) -> step + 1
  for (size_t b = 0; b < blocks_.size(); ++b) {
    for (uint64_t j = 0; j < blocks_[b].count; ++j) {
      const size_t need = first_use[b][j];
      size_t slot = need >= lookahead ? need - lookahead + 1 : 0;
      if (plan_.resident && b > 0 && blocks_[b].slot != blocks_[b - 1].slot) {  // spread over the previous m-tile
        const size_t len = last_step[b - 1] - first_step[b - 1] + 1;
        slot = std::min<size_t>(slot, first_step[b - 1] + 1 + j * len / blocks_[b].count);
      }
      if (auto it = last_reader.find({blocks_[b].slot, j}); it != last_reader.end()) {
        // Several units, resident A: after the end of the last reader's wave when that still precedes
        // the need (the refill for the next m-tile): Run() emits that slot after the wave's epilogue,
        // where a SIGNAL on the compute queue costs no extra drain (one mid-wave stalls every unit).
        // Chunks keep the mid-wave drain: waiting for a whole chunk at the wave's end costs more.
        size_t after = it->second;
        if (multi_ && plan_.resident) after = std::max(after, waves_[tiles_[steps_[it->second - 1].tile].wave].last_step + 1);
        slot = std::max(slot, after <= need ? after : it->second);
      }
      load_slot_[slot].push_back({need, true, b, j});
    }
    for (uint64_t j = 0; j < blocks_[b].count; ++j) last_reader[{blocks_[b].slot, j}] = last_use[b][j] + 1;
  }
  for (std::vector<LoadItem>& items : load_slot_) {
    std::stable_sort(items.begin(), items.end(), [](const LoadItem& x, const LoadItem& y) {
      return x.need != y.need ? x.need < y.need : (!x.is_a && y.is_a);  // same step: the weights first
    });
  }
}

}  // namespace tpusim::compiler::codegen::gemm_detail
