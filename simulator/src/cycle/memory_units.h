// The memory side of the cycle engine (docs/timing.md rules 3 and 4): the one DRAM channel, the
// three DMA engines that use it (load, weight, store) and the weight path of each matrix unit (weight
// FIFO, weight shift into the shadow weights, pop into the array). Kernel thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <systemc>
#include <vector>

#include "job.h"
#include "tpusim/simulator/dram_timing.h"
#include "wiring.h"

namespace tpusim::simulator::cycle {

class DmaEngine;

// The DRAM channel (rule 3), timed by the shared DramChannelModel: transfers one at a time in
// request order, requests made in the same cycle served load, weight, store. A DMA of S bytes and
// `rows` UB rows holds the channel X'(S, rows) = DramTiming::HoldCycles cycles from
// t_c = max(request, channel free), releases its queue at t_c + X' (at least request + 1) and
// completes at t_c + X' + Lat; one with X' = 0 (rows = 0) never holds it and completes Lat cycles
// after its request. SystemC delivers same-cycle requests in any delta order, so each one re-plans
// that cycle's requests in service order and tells their engines the new times.
class DramChannel : public sc_core::sc_module {
 public:
  enum Requester { kLoad = 0, kWeight = 1, kStore = 2 };
  DramChannel(sc_core::sc_module_name name, Wiring* wiring);
  void Reset();  // a new launch: the job's DramTiming, the channel free from cycle 0
  // Requests, now, a transfer that holds the channel `hold` cycles (DramTiming::HoldCycles) for
  // `engine`'s transfer `ticket`: the engine's Planned is called with its grant now, and again (in
  // this cycle) should a same-cycle request of a higher-priority requester arrive afterwards.
  void Request(Requester who, uint64_t hold, DmaEngine* engine, uint64_t ticket);

 private:
  struct Granted {
    Requester who;
    uint64_t hold;
    DmaEngine* engine;
    uint64_t ticket;
    uint64_t complete;
  };
  Wiring* w_;
  DramChannelModel channel_{DramTiming{}};      // after every request so far
  uint64_t batch_cycle_ = kNever;               // the cycle of the requests in batch_
  DramChannelModel batch_start_{DramTiming{}};  // channel_ before the first of them
  std::vector<Granted> batch_;                  // this cycle's requests, in service order
};

// One DMA engine: runs LOAD, STORE or LOAD_WEIGHTS instructions over the DRAM channel, several in
// flight (docs/timing.md rule 3, version 3): it tells its queue when the newest transfer has left
// the channel (the queue may start its next instruction then) and completes the transfers in
// request order, applying each one's data effect at its completion.
class DmaEngine : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(DmaEngine);
  DmaEngine(sc_core::sc_module_name name, DramChannel::Requester who, int queue, Wiring* wiring);
  void Reset();                           // a new launch: nothing in flight
  void Start(uint32_t i, uint64_t hold);  // instruction i starts now and holds the channel `hold`
  // The channel's (re)plan of transfer `ticket`, made now (DramChannel::Request).
  void Planned(uint64_t ticket, const DramChannelModel::Grant& grant);

 private:
  struct InFlight {
    uint32_t index;
    uint64_t ticket;
    uint64_t complete;
  };
  void Released();  // SC_METHOD on release_
  void Done();      // SC_METHOD on done_
  const DramChannel::Requester who_;
  const int queue_;
  Wiring* w_;
  sc_core::sc_event release_;   // at the release of the newest transfer
  sc_core::sc_event done_;      // at the completion of flight_.front()
  std::deque<InFlight> flight_;  // started, not completed, in request (= completion) order
  uint64_t next_ticket_ = 0;
};

// The weight path of every matrix unit (rule 4, per unit since version 4). Unit m's `held` counts
// every tile loaded for it and not yet popped by a MATMUL on it — in flight from DRAM, waiting in
// its FIFO, shifting, or in its shadow weights — which is what the functional engine's weight FIFO
// of unit m holds; a LOAD_WEIGHTS mxu=m may start only while unit m holds fewer than F. Each unit's
// head tile shifts into its own shadow weights over job.mxu->WeightShiftCycles() cycles (WS: R;
// OS: 0, the FIFO head itself is what a pop takes) once they are empty; a MATMUL with pop_weights
// takes its unit's shadow tile into its array at its start. Tiles are numbered across all units in
// the order they enter a FIFO (job.tile_arrival). `unit` arguments are below units().
class WeightPath : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(WeightPath);
  WeightPath(sc_core::sc_module_name name, Wiring* wiring);
  // One weight set per unit of the job's device; tiles already in a unit's FIFO at launch are in
  // that FIFO at cycle 0.
  void Reset();
  size_t units() const { return units_.size(); }
  bool HasSpace(size_t unit) const;
  void Reserve(size_t unit) { ++units_[unit].held; }  // a LOAD_WEIGHTS to `unit` started
  void Arrive(size_t unit);                             // its tile entered the unit's FIFO now
  bool ShadowFull(size_t unit) const { return units_[unit].shadow_full; }
  uint32_t Pop(size_t unit);  // a MATMUL takes the unit's shadow tile now; returns its number
  uint64_t held(size_t unit) const { return units_[unit].held; }

 private:
  struct Unit {
    std::deque<uint32_t> fifo;  // tile numbers, head first
    uint64_t held = 0;
    bool shifting = false;
    uint64_t shift_done = 0;
    uint32_t shifting_tile = kNoTile;
    bool shadow_full = false;
    uint32_t shadow_tile = kNoTile;
  };
  void Shift();  // SC_METHOD on wake_: advances every unit, re-arms for the next shift to finish
  Wiring* w_;
  sc_core::sc_event wake_;
  std::vector<Unit> units_;
};

}  // namespace tpusim::simulator::cycle
