// Program-level schedule passes (schedule_program.h): weight-load hoisting and token re-placement over a
// finished instruction stream.
#include "schedule_program.h"

#include <utility>
#include <vector>

#include "tpusim/compiler_backend/schedule_tokens.h"
#include "tpusim/isa/isa.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::compiler::codegen {
namespace {

// Units a 6-bit `mxu` field can name (opcodes.def); a larger value (only a hand-built instruction can
// carry one) is left where it is and not tracked.
constexpr uint64_t kMaxUnits = 64;

bool Overlaps(const Range& a, const Range& b) {
  return a.space == b.space && a.begin < b.end && b.begin < a.end;
}

// True if `inst` writes a DRAM byte that `reads` (a LOAD_WEIGHTS' accesses) reads.
bool WritesWhatItReads(const isa::Instruction& inst, const Accesses& reads) {
  if (inst.opcode != isa::Opcode::STORE) return false;  // the only instruction that writes DRAM
  const Accesses acc = AccessesOf(inst);
  for (size_t w = 0; w < acc.num_writes; ++w) {
    for (size_t r = 0; r < reads.num_reads; ++r) {
      if (Overlaps(acc.writes[w], reads.reads[r])) return true;
    }
  }
  return false;
}

}  // namespace

size_t HoistWeightLoads(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags, uint64_t fifo_depth,
                        size_t window) {
  TPUSIM_CHECK(tags.size() == code.size(), "HoistWeightLoads: one tag per instruction");
  // The new order, as indices into `code`. A LOAD_WEIGHTS is inserted at most `window` entries before
  // the end, so each insertion moves at most `window` indices.
  std::vector<size_t> order;
  order.reserve(code.size());
  // Per unit: tiles its FIFO holds in program order after the last entry of `order` (pushes - pops).
  std::vector<int64_t> held;
  auto unit_held = [&held](uint64_t unit) -> int64_t& {
    if (unit >= held.size()) held.resize(unit + 1, 0);  // unit < kMaxUnits (checked by the callers)
    return held[unit];
  };
  const int64_t depth = static_cast<int64_t>(fifo_depth);
  size_t moved = 0;
  for (size_t i = 0; i < code.size(); ++i) {
    const isa::Instruction& inst = code[i];
    if (inst.opcode == isa::Opcode::MATMUL) {
      const auto& a = inst.as<isa::MatmulArgs>();
      if (a.pop_weights != 0 && a.mxu < kMaxUnits) --unit_held(a.mxu);
    }
    if (inst.opcode != isa::Opcode::LOAD_WEIGHTS || inst.as<isa::WeightsArgs>().mxu >= kMaxUnits) {
      order.push_back(i);
      continue;
    }
    const uint64_t unit = inst.as<isa::WeightsArgs>().mxu;
    const Accesses reads = AccessesOf(inst);
    // Walk back from the end: `after` is its unit's program-order occupancy right before position p
    // (after entry p - 1) without this load; placing the load at p makes every later entry's one higher.
    int64_t after = unit_held(unit);
    size_t p = order.size();
    const size_t lowest = order.size() > window ? order.size() - window : 0;
    // after < 0: the stream pops tiles an earlier launch left (codegen's never do); leave it alone.
    while (p > lowest && after >= 0) {
      const isa::Instruction& prev = code[order[p - 1]];
      const isa::Opcode op = prev.opcode;
      if (op == isa::Opcode::SIGNAL || op == isa::Opcode::WAIT || op == isa::Opcode::SYNC ||
          op == isa::Opcode::HALT) {
        break;
      }
      if (op == isa::Opcode::LOAD_WEIGHTS && prev.as<isa::WeightsArgs>().mxu == unit) break;
      if (WritesWhatItReads(prev, reads)) break;
      // Before `prev` the unit holds one more tile if `prev` pops one of this unit.
      const bool pops = op == isa::Opcode::MATMUL && prev.as<isa::MatmulArgs>().pop_weights != 0 &&
                        prev.as<isa::MatmulArgs>().mxu == unit;
      const int64_t before = after + (pops ? 1 : 0);
      if (before + 1 > depth) break;  // the FIFO would overflow in program order
      after = before;
      --p;
    }
    if (p != order.size()) ++moved;
    order.insert(order.begin() + static_cast<std::ptrdiff_t>(p), i);
    ++unit_held(unit);
  }
  if (moved == 0) return 0;
  std::vector<isa::Instruction> new_code;
  std::vector<uint32_t> new_tags;
  new_code.reserve(code.size());
  new_tags.reserve(code.size());
  for (size_t i : order) {
    new_code.push_back(std::move(code[i]));
    new_tags.push_back(tags[i]);
  }
  code = std::move(new_code);
  tags = std::move(new_tags);
  return moved;
}

void RescheduleTokens(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags, uint64_t fifo_depth) {
  TPUSIM_CHECK(tags.size() == code.size(), "RescheduleTokens: one tag per instruction");
  std::vector<isa::Instruction> bare;
  std::vector<uint32_t> bare_tags;
  bare.reserve(code.size());
  bare_tags.reserve(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i].opcode == isa::Opcode::SIGNAL || code[i].opcode == isa::Opcode::WAIT) continue;
    bare.push_back(std::move(code[i]));
    bare_tags.push_back(tags[i]);
  }
  HoistWeightLoads(bare, bare_tags, fifo_depth);
  TokenStream stream;
  for (size_t i = 0; i < bare.size(); ++i) stream.Append(std::move(bare[i]), bare_tags[i]);
  stream.Finish(code, tags);
}

}  // namespace tpusim::compiler::codegen
