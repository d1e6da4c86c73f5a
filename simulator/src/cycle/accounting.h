// Turns the cycle records of a finished launch into the RunStats timing fields: the cycle buckets
// (docs/timing.md, "Where every cycle of the array goes"), traffic per path, per-op cycles and the
// trace. Pure functions of the Job; any thread.
#pragma once

#include "job.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::simulator::cycle {

// Fills stats.cycles, buckets, ub_to_array_bytes, accumulator_bytes, op_cycles and (when
// collect_trace) trace. `job` must have halted.
void Account(const Job& job, bool collect_trace, RunStats& stats);

}  // namespace tpusim::simulator::cycle
