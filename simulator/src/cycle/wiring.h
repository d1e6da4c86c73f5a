// How the cycle engine's SystemC modules find each other, and the unit of SystemC time.
//
// One SystemC time unit (the kernel's default resolution, 1 ps) stands for one clock cycle of the
// launch's arch: the modules are generic and read every size and rate from the Job at run time.
// Modules talk by direct calls (all on the kernel thread) and wake each other with delta
// notifications; a module waiting for a duration notifies its own event after that many cycles.
#pragma once

#include <cstdint>
#include <systemc>

#include "tpusim/isa/instruction.h"

namespace tpusim::simulator::cycle {

class Job;
class Controller;
class InstructionQueue;
class DramChannel;
class DmaEngine;
class WeightPath;
class Mxu;
class VectorUnit;

// The queues of opcodes.def, as array indices.
inline constexpr int kLoadQueue = 0;
inline constexpr int kComputeQueue = 1;
inline constexpr int kStoreQueue = 2;
inline constexpr int kNumQueues = 3;

struct Wiring {
  Job* job = nullptr;  // the launch being run; null between launches
  Controller* controller = nullptr;
  InstructionQueue* queues[kNumQueues] = {};
  DramChannel* dram = nullptr;
  DmaEngine* load_dma = nullptr;
  DmaEngine* weight_dma = nullptr;
  DmaEngine* store_dma = nullptr;
  WeightPath* weights = nullptr;
  Mxu* mxu = nullptr;
  VectorUnit* vector = nullptr;
};

inline sc_core::sc_time Cycles(uint64_t n) { return sc_core::sc_time::from_value(n); }

// The queue an instruction goes to (rule 1): SIGNAL/WAIT by their queue field, others by the table.
// -1 when the instruction is malformed (unknown opcode, wrong operand format, a token on the control
// queue): the controller then lets the Executor report it.
int QueueIndexOf(const isa::Instruction& inst);

}  // namespace tpusim::simulator::cycle
