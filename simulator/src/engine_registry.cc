// The engine registry (engine.h; thread-safe) and the trace track names. Built-in engines are
// registered by the registry's accessor on first use, so they exist even when no static initializer
// of this static library is linked.
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tpusim/simulator/engine.h"
#include "tpusim/simulator/functional_engine.h"
#include "cycle/cycle_engine.h"

namespace tpusim::simulator {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, EngineFactory, std::less<>> factories;
};

Registry& GetRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry;
    r->factories["functional"] = [](const isa::ArchConfig& arch) {
      return MakeFunctionalEngine(arch);
    };
    r->factories["cycle"] = [](const isa::ArchConfig& arch) { return MakeCycleEngine(arch); };
    return r;
  }();
  return *registry;
}

}  // namespace

const char* TraceUnitOf(isa::Opcode op) {
  switch (op) {
    case isa::Opcode::LOAD: return "load DMA";
    case isa::Opcode::LOAD_WEIGHTS: return "weight DMA";
    case isa::Opcode::STORE: return "store DMA";
    case isa::Opcode::MATMUL: return "MXU";
    case isa::Opcode::ACTIVATE:
    case isa::Opcode::VECTOR: return "vector unit";
    case isa::Opcode::SYNC: return "controller";
    default: return nullptr;  // SIGNAL, WAIT take no time; HALT adds none
  }
}

void RegisterEngine(std::string name, EngineFactory factory) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[std::move(name)] = std::move(factory);
}

absl::StatusOr<std::unique_ptr<Engine>> CreateEngine(std::string_view name,
                                                     const isa::ArchConfig& arch) {
  EngineFactory factory;
  {
    Registry& r = GetRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.factories.find(name);
    if (it == r.factories.end()) {
      std::vector<std::string> names;
      for (const auto& [n, f] : r.factories) names.push_back(n);
      return absl::NotFoundError(absl::StrCat("unknown engine '", std::string(name),
                                              "' (registered: ", absl::StrJoin(names, ", "), ")"));
    }
    factory = it->second;
  }
  std::unique_ptr<Engine> engine = factory ? factory(arch) : nullptr;
  if (!engine) {
    return absl::InternalError(
        absl::StrCat("engine factory '", std::string(name), "' returned no engine"));
  }
  return engine;
}

std::vector<std::string> EngineNames() {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> names;
  for (const auto& [n, f] : r.factories) names.push_back(n);
  return names;
}

}  // namespace tpusim::simulator
