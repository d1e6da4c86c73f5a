// Program-level schedule passes over a finished instruction stream (schedule_program.cc); codegen.cc
// runs RescheduleTokens under Schedule::kTokens. Private to compiler_backend (and its tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

// Moves every LOAD_WEIGHTS earlier in program order, as far as it may go within the `window` entries
// before it: never past a LOAD_WEIGHTS of the same unit (each unit's FIFO keeps its push order, so every
// MATMUL pops the same tile), a STORE whose DRAM bytes overlap those it reads (the token scheduler's
// conservative ranges), a SIGNAL, WAIT or SYNC, nor to a point where its unit's FIFO would hold more than
// `fifo_depth` tiles in program order (so the functional engine's FIFO check still holds, and with it
// the cycle engine's no-deadlock guarantee, docs/timing.md). Anything else it passes reads and writes
// nothing it touches, so every instruction sees the same data. In the load queue the next op's weights
// then stream while the current op drains (its stores, its last MATMULs), instead of behind the next
// op's input loads, which wait for those stores. `tags` (one per instruction) move with their
// instructions. Returns the number of LOAD_WEIGHTS moved.
size_t HoistWeightLoads(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags, uint64_t fifo_depth,
                        size_t window = 4096);


// The kTokens program pass (codegen.cc runs it on the finished stream): drops the stream's SIGNAL/WAIT
// pairs (all placed by a TokenScheduler; hand-placed ones must not be given), hoists the weight loads
// (HoistWeightLoads, `fifo_depth` = the arch's weight_fifo_depth) and places the tokens again.
// Program order stays a valid execution order.
void RescheduleTokens(std::vector<isa::Instruction>& code, std::vector<uint32_t>& tags, uint64_t fifo_depth);

}  // namespace tpusim::compiler::codegen
