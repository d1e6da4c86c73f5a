// Chip: elaboration, one launch, deadlock reports (top.h).
#include "top.h"

#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpusim/isa/isa.h"

namespace tpusim::simulator::cycle {

Chip::Chip(sc_core::sc_module_name name)
    : sc_core::sc_module(name),
      controller_("controller", &wiring_),
      load_queue_("load_queue", kLoadQueue, &wiring_),
      compute_queue_("compute_queue", kComputeQueue, &wiring_),
      store_queue_("store_queue", kStoreQueue, &wiring_),
      dram_("dram", &wiring_),
      load_dma_("load_dma", DramChannel::kLoad, kLoadQueue, &wiring_),
      weight_dma_("weight_dma", DramChannel::kWeight, kLoadQueue, &wiring_),
      store_dma_("store_dma", DramChannel::kStore, kStoreQueue, &wiring_),
      weights_("weights", &wiring_),
      mxu_("mxu", &wiring_),
      vector_("vector_unit", &wiring_) {
  wiring_.controller = &controller_;
  wiring_.queues[kLoadQueue] = &load_queue_;
  wiring_.queues[kComputeQueue] = &compute_queue_;
  wiring_.queues[kStoreQueue] = &store_queue_;
  wiring_.dram = &dram_;
  wiring_.load_dma = &load_dma_;
  wiring_.weight_dma = &weight_dma_;
  wiring_.store_dma = &store_dma_;
  wiring_.weights = &weights_;
  wiring_.mxu = &mxu_;
  wiring_.vector = &vector_;
}

void Chip::Run(Job& job) {
  wiring_.job = &job;
  job.SetStart();
  controller_.Reset();
  for (InstructionQueue* q : wiring_.queues) q->Reset();
  dram_.Reset();
  load_dma_.Reset();
  weight_dma_.Reset();
  store_dma_.Reset();
  weights_.Reset();
  mxu_.Reset();
  controller_.Kick();
  try {
    // Returns when no event is left: HALT, a device error (every process then returns at once), or
    // a deadlock.
    sc_core::sc_start();
  } catch (const std::exception& e) {
    job.Fail(absl::InternalError(absl::StrCat("SystemC: ", e.what())));
  }
  if (job.status.ok() && !job.halted) job.status = Deadlock(job);
  wiring_.job = nullptr;
}

absl::Status Chip::Deadlock(const Job& job) const {
  std::vector<std::string> blocked;
  for (const InstructionQueue* q : wiring_.queues) {
    std::string why = q->Blocked();
    if (!why.empty()) blocked.push_back(std::move(why));
  }
  if (blocked.empty()) {
    const size_t pc = controller_.pc();
    blocked.push_back(pc < job.code.size()
                          ? absl::StrCat("the controller cannot dispatch instruction ", pc, " (",
                                         std::string(isa::Mnemonic(job.code[pc].opcode)), ")")
                          : std::string("the controller stopped"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("deadlock at cycle ", job.Now(), ": ", absl::StrJoin(blocked, "; ")));
}

Chip& TheChip() {
  static Chip* chip = [] {
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
    // sc_start with nothing to do is normal here (an empty program), not worth a warning.
    sc_core::sc_report_handler::set_actions(sc_core::SC_ID_NO_SC_START_ACTIVITY_,
                                            sc_core::SC_DO_NOTHING);
    auto* c = new Chip("tpusim_chip");
    sc_core::sc_start(sc_core::SC_ZERO_TIME);  // end elaboration, initialise the processes
    return c;
  }();
  return *chip;
}

}  // namespace tpusim::simulator::cycle
