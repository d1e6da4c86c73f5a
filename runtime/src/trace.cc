#include "tpusim/runtime/trace.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "json_writer.h"
#include "tpusim/isa/isa.h"

namespace tpusim::runtime {
namespace {

constexpr int kPid = 1;
constexpr int kLaunchTid = 0;

// One event, compact, without the trailing newline.
class Event {
 public:
  Event(std::string_view phase, int tid) : w_(/*indent=*/false) {
    w_.BeginObject();
    w_.Key("ph"); w_.String(phase);
    w_.Key("pid"); w_.Int(kPid);
    w_.Key("tid"); w_.Int(tid);
  }
  detail::JsonWriter& w() { return w_; }
  std::string Finish() {
    w_.EndObject();
    std::string s = w_.str();
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  detail::JsonWriter w_;
};

std::string Metadata(std::string_view name, int tid, std::string_view value) {
  Event e("M", tid);
  e.w().Key("name"); e.w().String(name);
  e.w().Key("args");
  e.w().BeginObject();
  e.w().Key("name"); e.w().String(value);
  e.w().EndObject();
  return e.Finish();
}

std::string SortIndex(int tid, int sort_index) {
  Event e("M", tid);
  e.w().Key("name"); e.w().String("thread_sort_index");
  e.w().Key("args");
  e.w().BeginObject();
  e.w().Key("sort_index"); e.w().Int(sort_index);
  e.w().EndObject();
  return e.Finish();
}

// The sub-track (lane) of every slice, lanes[k][j] for launches[k].trace[j]: per unit, slices taken
// in order of absolute start (launch k starts after the cycles of launches 0 .. k-1) go to the
// lowest-numbered lane that is free at their start (its last slice ended at or before it), so that
// slices on one lane never overlap. A zero-length slice nests inside anything and stays on lane 0.
std::vector<std::vector<size_t>> AssignLanes(const std::vector<LaunchRecord>& launches) {
  struct Item {
    uint64_t start, end;
    size_t launch, slice;
  };
  std::vector<Item> items;
  std::vector<std::vector<size_t>> lanes(launches.size());
  uint64_t base = 0;
  for (size_t k = 0; k < launches.size(); ++k) {
    const std::vector<simulator::TraceSlice>& trace = launches[k].trace;
    lanes[k].assign(trace.size(), 0);
    for (size_t j = 0; j < trace.size(); ++j) {
      items.push_back({base + trace[j].start, base + std::max(trace[j].start, trace[j].end), k, j});
    }
    base += launches[k].cycles;
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.start < b.start; });
  std::map<std::string_view, std::vector<uint64_t>> lane_end;  // per unit: end of each lane's last slice
  for (const Item& item : items) {
    if (item.end == item.start) continue;
    std::vector<uint64_t>& ends = lane_end[launches[item.launch].trace[item.slice].unit];
    size_t lane = 0;
    while (lane < ends.size() && ends[lane] > item.start) ++lane;
    if (lane == ends.size()) ends.push_back(0);
    ends[lane] = item.end;
    lanes[item.launch][item.slice] = lane;
  }
  return lanes;
}

// The track name of `unit`'s lane: the unit itself for lane 0, "<unit> #<lane>" for the others.
std::string TrackName(std::string_view unit, size_t lane) {
  return lane == 0 ? std::string(unit) : absl::StrCat(std::string(unit), " #", lane);
}

}  // namespace

std::string ChromeTraceJson(const std::vector<LaunchRecord>& launches, const isa::ArchConfig& arch,
                            std::string_view process_name) {
  const double us_per_cycle = arch.clock_mhz() > 0 ? 1.0 / arch.clock_mhz() : 0.0;
  std::map<std::string, int, std::less<>> tids;
  std::vector<std::string> track_order = {"launches"};  // track names, by tid
  std::vector<std::string> track_unit = {"launches"};   // the unit of each tid's track
  std::vector<size_t> track_lane = {0};                  // and its lane
  for (std::string_view unit : kTraceUnits) {
    tids.emplace(std::string(unit), static_cast<int>(track_order.size()));
    track_order.emplace_back(unit);
    track_unit.emplace_back(unit);
    track_lane.push_back(0);
  }
  const std::vector<std::vector<size_t>> lanes = AssignLanes(launches);
  std::vector<std::string> events;
  uint64_t base = 0;  // cycles before this launch
  for (size_t k = 0; k < launches.size(); ++k) {
    const LaunchRecord& launch = launches[k];
    {
      Event e("X", kLaunchTid);
      e.w().Key("name"); e.w().String(launch.label);
      e.w().Key("ts"); e.w().Fixed(base * us_per_cycle, 6);
      e.w().Key("dur"); e.w().Fixed(launch.cycles * us_per_cycle, 6);
      e.w().Key("args");
      e.w().BeginObject();
      e.w().Key("launch"); e.w().Uint(k);
      e.w().Key("cycles"); e.w().Uint(launch.cycles);
      e.w().EndObject();
      events.push_back(e.Finish());
    }
    for (size_t j = 0; j < launch.trace.size(); ++j) {
      const simulator::TraceSlice& slice = launch.trace[j];
      const std::string track = TrackName(slice.unit, lanes[k][j]);
      auto it = tids.find(track);
      if (it == tids.end()) {
        it = tids.emplace(track, static_cast<int>(track_order.size())).first;
        track_order.push_back(track);
        track_unit.emplace_back(slice.unit);
        track_lane.push_back(lanes[k][j]);
      }
      const size_t i = slice.instruction;
      const std::string name =
          i < launch.opcodes.size() ? std::string(isa::Mnemonic(launch.opcodes[i])) : "instruction";
      const std::string op = i < launch.inst_op.size() && launch.inst_op[i] < launch.op_names.size()
                                 ? launch.op_names[launch.inst_op[i]]
                                 : "";
      const uint64_t end = slice.end > slice.start ? slice.end : slice.start;
      Event e("X", it->second);
      e.w().Key("name"); e.w().String(name);
      e.w().Key("ts"); e.w().Fixed((base + slice.start) * us_per_cycle, 6);
      e.w().Key("dur"); e.w().Fixed((end - slice.start) * us_per_cycle, 6);
      e.w().Key("args");
      e.w().BeginObject();
      e.w().Key("instruction"); e.w().Uint(slice.instruction);
      e.w().Key("op"); e.w().String(op);
      e.w().Key("launch"); e.w().Uint(k);
      e.w().EndObject();
      events.push_back(e.Finish());
    }
    base += launch.cycles;
  }
  std::vector<std::string> metadata = {Metadata("process_name", kLaunchTid, process_name)};
  // Display order: the lane-0 tracks by tid, each followed by its other lanes by lane number.
  std::vector<size_t> order(track_order.size());
  for (size_t tid = 0; tid < order.size(); ++tid) order[tid] = tid;
  auto lane0_tid = [&](size_t tid) {
    auto it = tids.find(track_unit[tid]);
    return it == tids.end() ? static_cast<int>(tid) : it->second;
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int ua = lane0_tid(a), ub = lane0_tid(b);
    return ua != ub ? ua < ub : track_lane[a] < track_lane[b];
  });
  std::vector<int> sort_index(track_order.size());
  for (size_t rank = 0; rank < order.size(); ++rank) sort_index[order[rank]] = static_cast<int>(rank);
  for (size_t tid = 0; tid < track_order.size(); ++tid) {
    metadata.push_back(Metadata("thread_name", static_cast<int>(tid), track_order[tid]));
    metadata.push_back(SortIndex(static_cast<int>(tid), sort_index[tid]));
  }
  std::string out = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  absl::StrAppend(&out, absl::StrJoin(metadata, ",\n"));
  if (!events.empty()) absl::StrAppend(&out, ",\n", absl::StrJoin(events, ",\n"));
  out += "\n]}\n";
  return out;
}

}  // namespace tpusim::runtime
