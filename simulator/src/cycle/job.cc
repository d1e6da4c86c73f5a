// Job: the per-launch context of the cycle engine (job.h).
#include "job.h"

#include <systemc>
#include <utility>

namespace tpusim::simulator::cycle {
namespace {

size_t TilesAtLaunch(const DeviceState& s) {
  size_t n = 0;
  for (const MxuWeights& unit : s.mxu) n += unit.weight_fifo.size();
  return n;
}

}  // namespace

Job::Job(const Launch& l, DeviceState& s, const std::vector<isa::Instruction>& c,
         const isa::ArchConfig& arch, std::unique_ptr<const MxuTiming> m)
    : launch(l),
      state(s),
      code(c),
      params(MakeTimingParams(arch)),
      mxu(std::move(m)),
      times(c.size()),
      popped_tile(c.size(), kNoTile),
      tile_arrival(TilesAtLaunch(s), 0),
      executor_(l, s) {
  for (size_t ch = 0; ch < kTokenChannels && ch < s.semaphores.size(); ++ch) {
    tokens_signalled[ch] = s.semaphores[ch];
  }
}

uint64_t Job::Now() const { return sc_core::sc_time_stamp().value() - base_; }

void Job::SetStart() { base_ = sc_core::sc_time_stamp().value(); }

bool Job::Apply(uint32_t i) {
  if (!running()) return false;
  absl::Status s = executor_.Step(i, code[i]);
  if (!s.ok()) {
    Fail(std::move(s));
    return false;
  }
  return true;
}

void Job::Fail(absl::Status s) {
  if (status.ok()) status = std::move(s);
}

}  // namespace tpusim::simulator::cycle
