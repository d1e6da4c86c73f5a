// The core models of this build (core_models.h): one CoreHarness instantiation per Verilated model
// (rtl/CMakeLists.txt Verilates tpu_core as Vtpu_core_tiny and Vtpu_core_rtl16x16).
#include "core_models.h"

#include "absl/strings/str_cat.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"

#if TPUSIM_RTL_HAVE_CORE
#include "Vtpu_core_rtl16x16.h"
#include "Vtpu_core_tiny.h"
#include "core_harness.h"
#endif

namespace tpusim::rtl {
namespace {

#if TPUSIM_RTL_HAVE_CORE
template <typename M>
CoreModelInfo Model(const std::string& preset) {
  absl::StatusOr<isa::ArchConfig> arch = isa::LoadArch(preset);
  TPUSIM_CHECK(arch.ok(), "a built-in preset does not load");
  const isa::ArchConfig a = *arch;
  return CoreModelInfo{preset, a, [a] { return std::make_unique<CoreHarness<M>>(a); }};
}
#endif

}  // namespace

const std::vector<CoreModelInfo>& CoreModels() {
  static const std::vector<CoreModelInfo>* models = [] {
    auto* m = new std::vector<CoreModelInfo>;
#if TPUSIM_RTL_HAVE_CORE
    m->push_back(Model<Vtpu_core_tiny>("tiny"));
    m->push_back(Model<Vtpu_core_rtl16x16>("rtl-16x16"));
#endif
    return m;
  }();
  return *models;
}

std::string CoreConfigDifference(const isa::ArchConfig& model, const isa::ArchConfig& arch) {
  const auto differ = [](const char* field, uint64_t got, uint64_t want) {
    return absl::StrCat(field, " ", got, " (model: ", want, ")");
  };
  if (arch.dataflow() != isa::WEIGHT_STATIONARY) {
    return "dataflow is not WEIGHT_STATIONARY (the RTL array is weight-stationary)";
  }
  if (arch.dram_latency_cycles() < 1) {
    return "dram_latency_cycles 0 (the harness answers a DMA one cycle after its request at the "
           "earliest)";
  }
#define TPUSIM_CORE_FIELD(F) \
  if (arch.F() != model.F()) return differ(#F, arch.F(), model.F());
  TPUSIM_CORE_FIELD(array_rows)
  TPUSIM_CORE_FIELD(array_cols)
  TPUSIM_CORE_FIELD(ub_banks)
  TPUSIM_CORE_FIELD(accumulator_entries)
  TPUSIM_CORE_FIELD(weight_fifo_depth)
  TPUSIM_CORE_FIELD(vector_lanes)
  TPUSIM_CORE_FIELD(instruction_queue_depth)
  TPUSIM_CORE_FIELD(mxu_count)
#undef TPUSIM_CORE_FIELD
  for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
    if (isa::UbRows(arch, mode) != isa::UbRows(model, mode)) {
      return differ("UB rows (ub_bytes)", isa::UbRows(arch, mode), isa::UbRows(model, mode));
    }
  }
  return "";
}

}  // namespace tpusim::rtl
