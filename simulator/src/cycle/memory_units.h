// The memory side of the cycle engine (docs/timing.md rules 3 and 4): the one DRAM channel, the
// three DMA engines that use it (load, weight, store) and the weight path (weight FIFO, weight shift
// into the shadow weights, pop into the array). Kernel thread only.
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

// The weight path. `held` counts every tile loaded and not yet popped by a MATMUL — in flight from
// DRAM, waiting in the FIFO, shifting, or in the shadow weights — which is what the functional
// engine's weight FIFO holds; a LOAD_WEIGHTS may start only while held < F. The head tile of the FIFO
// shifts into the shadow weights over job.mxu->WeightShiftCycles() cycles (WS: R; OS: 0, the FIFO
// head itself is what a pop takes) once they are empty; a MATMUL with pop_weights takes the shadow
// tile into the array at its start.
class WeightPath : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(WeightPath);
  WeightPath(sc_core::sc_module_name name, Wiring* wiring);
  // Tiles already in the device's FIFO at launch are in the FIFO at cycle 0.
  void Reset();
  bool HasSpace() const;
  void Reserve() { ++held_; }      // a LOAD_WEIGHTS started
  void Arrive();                   // its tile entered the FIFO now
  bool ShadowFull() const { return shadow_full_; }
  uint32_t Pop();                  // a MATMUL takes the shadow tile now; returns its number
  uint64_t held() const { return held_; }

 private:
  void Shift();  // SC_METHOD on wake_
  Wiring* w_;
  sc_core::sc_event wake_;
  std::deque<uint32_t> fifo_;  // tile numbers, head first
  uint64_t held_ = 0;
  bool shifting_ = false;
  uint64_t shift_done_ = 0;
  uint32_t shifting_tile_ = kNoTile;
  bool shadow_full_ = false;
  uint32_t shadow_tile_ = kNoTile;
};

}  // namespace tpusim::simulator::cycle
