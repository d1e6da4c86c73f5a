// The DRAM channel of the timing contract (docs/timing.md rule 3), in one place for every engine
// that times DMAs: the cycle engine (SystemC) and the rtl engine's C++ harness, which serves the
// RTL's DMA port and must give the same cycles. No SystemC here. Every duration is in cycles of
// clock_mhz, every time a cycle counted from the launch start.
#pragma once

#include <cstdint>

#include "isa/proto/arch_config.pb.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::simulator {

// The bytes and UB rows one DMA instruction moves: LOAD and STORE `rows × lanes × bytes(dtype)` and
// `rows`; LOAD_WEIGHTS `rows × cols × bytes(dtype)` and `rows` (the tile rows, which enter the
// weight FIFO at the UB port's rate). A bad dtype moves 0 bytes (its device error comes when the
// instruction is applied); products too large for 64 bits saturate. Any other opcode: {0, 0}.
struct DmaShape {
  uint64_t bytes = 0;  // S
  uint64_t rows = 0;
};
DmaShape DmaShapeOf(const isa::Instruction& inst);

// The channel's numbers, from an ArchConfig. Plain data; copyable.
struct DramTiming {
  // BW from dram_bandwidth_gbps and clock_mhz taken to 6 decimal places, exactly; 9 × 10^12 GB/s
  // and more (or a bandwidth that does not fit) count as unbounded.
  static DramTiming FromArch(const isa::ArchConfig& arch);

  // X(S) = ceil(S / BW): the cycles the channel's bandwidth needs for S bytes; 0 for S = 0 or
  // unbounded bandwidth; UINT64_MAX where it does not fit.
  uint64_t TransferCycles(uint64_t bytes) const;
  // X'(S, rows) = max(X(S), ceil(rows / banks)): the cycles a DMA of S bytes and `rows` UB rows
  // holds the channel (the UB port moves one row per bank per cycle). 0 only when rows = 0 and
  // X(S) = 0.
  uint64_t HoldCycles(uint64_t bytes, uint64_t rows) const;
  uint64_t HoldCycles(const DmaShape& shape) const { return HoldCycles(shape.bytes, shape.rows); }

  uint64_t latency = 0;  // Lat: dram_latency_cycles, from the end of the hold to the completion
  uint64_t banks = 1;    // ub_banks (≥ 1): UB rows the DMA port moves per cycle
  // BW = bw_num / bw_den bytes per cycle exactly (bw_num = gbps × 10^6 × 1000, bw_den = MHz × 10^6).
  __extension__ typedef unsigned __int128 Wide;
  Wide bw_num = 1;
  Wide bw_den = 1;
  bool unbounded_bandwidth = false;  // X(S) = 0 for every S
};

// The one DRAM channel shared by the load, weight and store DMA engines: it serves transfers one at
// a time in request order. A transfer of hold X' > 0 holds it for [t_c, t_c + X'),
// t_c = max(request, channel free), and completes at t_c + X' + Lat; one with X' = 0 never holds it
// and completes at request + Lat. Requests must be made in non-decreasing `now` and, within one
// cycle, in service order: load, weight, store (a caller whose same-cycle requests arrive in
// another order re-plans them from a copy taken before the first of them). Not thread-safe;
// copyable (a copy is a snapshot of the channel's state).
class DramChannelModel {
 public:
  explicit DramChannelModel(const DramTiming& timing) : timing_(timing) {}
  void Reset();  // the channel is free from cycle 0 and has seen no request

  struct Grant {
    uint64_t begin;     // t_c: the first cycle the transfer holds the channel (request, if X' = 0)
    uint64_t complete;  // t_c + X' + Lat: the cycle the instruction completes (saturating)
    // t_c + X', at least request + 1: the cycle the transfer has left the channel and the DMA
    // instruction releases its queue (rule 3, version 3: the queue may request the channel again
    // while this transfer is in its latency; one DMA per queue per cycle).
    uint64_t release;
  };
  // A transfer requested at cycle `now` that holds the channel `hold` cycles (DramTiming::HoldCycles).
  Grant Request(uint64_t now, uint64_t hold);

  uint64_t free_at() const { return free_at_; }  // the channel is free from this cycle on
  const DramTiming& timing() const { return timing_; }

 private:
  DramTiming timing_;
  uint64_t free_at_ = 0;
  uint64_t last_request_ = 0;
};

}  // namespace tpusim::simulator
