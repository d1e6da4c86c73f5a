// Timelines of a run's TPU launches in the Chrome trace-event format (the JSON Object Format of the
// Trace Event Format), which Perfetto (ui.perfetto.dev) and chrome://tracing open.
//
// Layout: one process (pid 1) named `process_name`; one track (tid) per unit, named by "thread_name"
// metadata and ordered by "thread_sort_index": 0 "launches" (one slice per launch, named by its
// label), 1 "load DMA", 2 "weight DMA", 3 "MXU", 4 "vector unit", 5 "store DMA", 6 "controller"; a
// unit an engine names otherwise gets the next free tid. Slices of one unit that overlap in time
// (pipelined DMAs, docs/timing.md rule 3) go to sub-tracks, since a track's complete events must
// nest: per unit, in order of start, each slice takes the lowest-numbered lane free at its start
// (lane 0 is the unit's own track; lane n > 0 is the track "<unit> #<n>", e.g. "load DMA #1", with
// the next free tid, displayed right after its unit's track). Every TraceSlice becomes an "X"
// (complete) event named by its instruction's mnemonic ("MATMUL") with args {"instruction": index in
// its program, "op": graph op name, "launch": launch index}. ts and dur are microseconds of simulated time at
// arch.clock_mhz (cycles / clock_mhz), written with 6 decimals. Launches are laid out one after
// another: launch k starts at the sum of the cycles of launches 0 .. k-1.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "isa/proto/arch_config.pb.h"
#include "tpusim/runtime/session.h"

namespace tpusim::runtime {

// The units of the cycle engine, in track order (tid 1, 2, ...).
inline constexpr std::string_view kTraceUnits[] = {"load DMA",  "weight DMA", "MXU",
                                                   "vector unit", "store DMA", "controller"};

// The whole document ('\n'-terminated), one event per line.
std::string ChromeTraceJson(const std::vector<LaunchRecord>& launches, const isa::ArchConfig& arch,
                            std::string_view process_name);

}  // namespace tpusim::runtime
