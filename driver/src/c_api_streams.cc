// The C ABI's stream, event and program entry points (docs/c_api.md).
#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

#include "c_api_internal.h"
#include "isa/proto/program.pb.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::driver::c_api {
namespace {

// The .tpb container (isa/program.h): "TPUSIMP1", payload length (little-endian uint64), Program.
absl::StatusOr<isa::Program> ParseTpb(const void* data, size_t bytes) {
  constexpr char kMagic[] = "TPUSIMP1";
  constexpr size_t kHeader = 16;
  if (data == nullptr) return absl::InvalidArgumentError("tpb is NULL");
  const auto* p = static_cast<const uint8_t*>(data);
  if (bytes < kHeader || std::memcmp(p, kMagic, 8) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a tpusim program: the ", bytes, " bytes do not start with the TPUSIMP1 header"));
  }
  uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(p[8 + i]) << (8 * i);
  if (length != bytes - kHeader) {
    return absl::InvalidArgumentError(absl::StrCat("truncated or corrupt program: header says ", length,
                                                   " payload bytes, ", bytes - kHeader, " were given"));
  }
  isa::Program program;
  if (length > static_cast<uint64_t>(INT32_MAX) || !program.ParseFromArray(p + kHeader, static_cast<int>(length))) {
    return absl::InvalidArgumentError("not a tpusim program: the payload does not parse as a Program");
  }
  return program;
}

// Writes the counters of `s` that fit in out->struct_size (a caller built against an older header
// passes a shorter struct).
void FillStats(const simulator::RunStats& s, tpusim_run_stats* out) {
  const uint64_t values[] = {s.cycles,          s.instructions,     s.macs,
                             s.useful_macs,     s.vector_elements,  s.dram_to_ub_bytes,
                             s.ub_to_dram_bytes, s.dram_to_weights_bytes};
  uint64_t* fields[] = {&out->cycles,          &out->instructions,     &out->macs,
                        &out->useful_macs,     &out->vector_elements,  &out->dram_to_ub_bytes,
                        &out->ub_to_dram_bytes, &out->dram_to_weights_bytes};
  for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); ++i) {
    const size_t end = static_cast<size_t>(reinterpret_cast<char*>(fields[i]) - reinterpret_cast<char*>(out)) +
                       sizeof(uint64_t);
    if (out->struct_size >= end) *fields[i] = values[i];
  }
}

}  // namespace

tpusim_code MemcpyH2D(tpusim_memcpy_args* args) {
  return Guard("memcpy_h2d", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->MemcpyHostToDevice(ToMemory(args->dst), args->src_host, args->bytes);
    return absl::OkStatus();
  });
}

tpusim_code MemcpyD2H(tpusim_memcpy_args* args) {
  return Guard("memcpy_d2h", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->MemcpyDeviceToHost(args->dst_host, ToMemory(args->src), args->bytes);
    return absl::OkStatus();
  });
}

tpusim_code MemcpyD2D(tpusim_memcpy_args* args) {
  return Guard("memcpy_d2d", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->MemcpyDeviceToDevice(ToMemory(args->dst), ToMemory(args->src), args->bytes);
    return absl::OkStatus();
  });
}

tpusim_code Memset(tpusim_memset_args* args) {
  return Guard("memset", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->Memset(ToMemory(args->dst), args->value, args->bytes);
    return absl::OkStatus();
  });
}

tpusim_code StreamCreate(tpusim_stream_create_args* args) {
  return Guard("stream_create", args, [&]() -> absl::Status {
    args->stream = nullptr;
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, args->device->device->CreateStream());
    args->stream = new tpusim_stream{std::move(stream)};
    return absl::OkStatus();
  });
}

tpusim_code StreamDestroy(tpusim_stream_args* args) {
  return Guard("stream_destroy", args, [&]() -> absl::Status {
    delete args->stream;
    args->stream = nullptr;
    return absl::OkStatus();
  });
}

tpusim_code StreamSynchronize(tpusim_stream_args* args) {
  return Guard("stream_synchronize", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    return args->stream->stream->Synchronize();
  });
}

tpusim_code StreamStatus(tpusim_stream_args* args) {
  return Guard("stream_status", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    return args->stream->stream->status();
  });
}

tpusim_code StreamAddCallback(tpusim_stream_add_callback_args* args) {
  return Guard("stream_add_callback", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    if (args->callback == nullptr) return absl::InvalidArgumentError("callback is NULL");
    args->stream->stream->AddHostCallback(
        [callback = args->callback, user = args->user_data](const absl::Status& s) {
          const std::string message(s.message());
          callback(user, static_cast<tpusim_code>(s.code()), message.c_str());
        });
    return absl::OkStatus();
  });
}

tpusim_code EventCreate(tpusim_event_create_args* args) {
  return Guard("event_create", args, [&]() -> absl::Status {
    args->event = nullptr;
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    args->event = new tpusim_event{args->device->device->CreateEvent()};
    return absl::OkStatus();
  });
}

tpusim_code EventDestroy(tpusim_event_args* args) {
  return Guard("event_destroy", args, [&]() -> absl::Status {
    delete args->event;
    args->event = nullptr;
    return absl::OkStatus();
  });
}

tpusim_code EventRecord(tpusim_event_args* args) {
  return Guard("event_record", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->event, "event"));
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->RecordEvent(*args->event->event);
    return absl::OkStatus();
  });
}

tpusim_code EventWait(tpusim_event_args* args) {
  return Guard("event_wait", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->event, "event"));
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    args->stream->stream->WaitEvent(*args->event->event);
    return absl::OkStatus();
  });
}

tpusim_code EventQuery(tpusim_event_args* args) {
  return Guard("event_query", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->event, "event"));
    args->completed = args->event->event->Query() ? 1 : 0;
    return absl::OkStatus();
  });
}

tpusim_code EventSynchronize(tpusim_event_args* args) {
  return Guard("event_synchronize", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->event, "event"));
    return args->event->event->Synchronize();
  });
}

tpusim_code EventElapsedCycles(tpusim_event_elapsed_cycles_args* args) {
  return Guard("event_elapsed_cycles", args, [&]() -> absl::Status {
    args->cycles = 0;
    TPUSIM_RETURN_IF_ERROR(Require(args->start, "start"));
    TPUSIM_RETURN_IF_ERROR(Require(args->end, "end"));
    TPUSIM_ASSIGN_OR_RETURN(args->cycles, ElapsedCycles(*args->start->event, *args->end->event));
    return absl::OkStatus();
  });
}

tpusim_code ExecutableLoad(tpusim_executable_load_args* args) {
  return Guard("executable_load", args, [&]() -> absl::Status {
    args->executable = nullptr;
    TPUSIM_RETURN_IF_ERROR(Require(args->device, "device"));
    TPUSIM_ASSIGN_OR_RETURN(isa::Program program, ParseTpb(args->tpb, args->tpb_bytes));
    TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, args->device->device->LoadProgram(program));
    args->num_inputs = exe->program().inputs_size();
    args->num_outputs = exe->program().outputs_size();
    args->executable = new tpusim_executable{std::move(exe)};
    return absl::OkStatus();
  });
}

tpusim_code ExecutableDestroy(tpusim_executable_destroy_args* args) {
  return Guard("executable_destroy", args, [&]() -> absl::Status {
    delete args->executable;
    args->executable = nullptr;
    return absl::OkStatus();
  });
}

tpusim_code ExecutableBinding(tpusim_executable_binding_args* args) {
  return Guard("executable_binding", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->executable, "executable"));
    const isa::Program& program = args->executable->executable->program();
    const auto& bindings = args->is_output ? program.outputs() : program.inputs();
    if (args->index < 0 || args->index >= bindings.size()) {
      return absl::OutOfRangeError(absl::StrCat(args->is_output ? "output" : "input", " index ", args->index,
                                                " is out of range [0, ", bindings.size(), ")"));
    }
    const isa::Binding& b = bindings.Get(args->index);
    uint64_t bytes = isa::TensorTypeBytes(b.dtype());
    for (int64_t d : b.shape()) bytes *= static_cast<uint64_t>(d);  // validated at load
    args->name = b.name().c_str();
    args->bytes = bytes;
    return absl::OkStatus();
  });
}

tpusim_code Launch(tpusim_launch_args* args) {
  return Guard("launch", args, [&]() -> absl::Status {
    TPUSIM_RETURN_IF_ERROR(Require(args->stream, "stream"));
    TPUSIM_RETURN_IF_ERROR(Require(args->executable, "executable"));
    if ((args->num_inputs > 0 && args->inputs == nullptr) || (args->num_outputs > 0 && args->outputs == nullptr)) {
      return absl::InvalidArgumentError("inputs or outputs is NULL with a nonzero count");
    }
    if (args->stats != nullptr && args->stats->struct_size < sizeof(size_t)) {
      return absl::InvalidArgumentError("stats->struct_size is not set");
    }
    std::vector<DeviceMemory> inputs, outputs;
    for (size_t i = 0; i < args->num_inputs; ++i) inputs.push_back(ToMemory(args->inputs[i]));
    for (size_t i = 0; i < args->num_outputs; ++i) outputs.push_back(ToMemory(args->outputs[i]));
    Stream& stream = *args->stream->stream;
    if (args->stats == nullptr) {
      stream.Launch(*args->executable->executable, std::move(inputs), std::move(outputs), nullptr);
      return absl::OkStatus();
    }
    // The engine fills a RunStats on the worker; a callback right behind the launch converts it.
    auto stats = std::make_shared<simulator::RunStats>();
    stream.Launch(*args->executable->executable, std::move(inputs), std::move(outputs), stats.get());
    stream.AddHostCallback([stats, out = args->stats](const absl::Status& s) {
      if (s.ok()) FillStats(*stats, out);
    });
    return absl::OkStatus();
  });
}

}  // namespace tpusim::driver::c_api
