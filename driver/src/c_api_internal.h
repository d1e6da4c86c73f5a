// Private to the C ABI (c_api*.cc): the handle types behind the opaque C pointers, the thread-local
// last error, and the guard every entry point runs its body in (checks the argument struct, turns a
// status or any exception into a code, never lets one escape).
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tpusim/driver/driver.h"
#include "tpusim/driver/tpusim_c_api.h"

struct tpusim_device {
  std::unique_ptr<tpusim::driver::Device> device;
  std::string name;
  std::string description;
};
struct tpusim_stream {
  std::unique_ptr<tpusim::driver::Stream> stream;
};
struct tpusim_event {
  std::unique_ptr<tpusim::driver::Event> event;
};
struct tpusim_executable {
  std::unique_ptr<tpusim::driver::Executable> executable;
};

namespace tpusim::driver::c_api {

// The calling thread's last error message ("" after a successful call).
std::string& LastError();

// Records `status` as the calling thread's result and returns its code.
tpusim_code Finish(const absl::Status& status);

// Runs `body` (returning absl::Status) for entry point `function`, after checking that `args` is
// non-null and its struct_size covers the version-1 struct.
template <typename Args, typename Body>
tpusim_code Guard(const char* function, Args* args, Body&& body) {
  try {
    if (args == nullptr) return Finish(absl::InvalidArgumentError(absl::StrCat(function, ": args is NULL")));
    if (args->struct_size < sizeof(Args)) {
      return Finish(absl::InvalidArgumentError(absl::StrCat(function, ": args->struct_size is ",
                                                            args->struct_size, ", expected at least ",
                                                            sizeof(Args), " (set it to sizeof the struct)")));
    }
    absl::Status s = body();
    if (!s.ok()) s = absl::Status(s.code(), absl::StrCat(function, ": ", s.message()));
    return Finish(s);
  } catch (const std::exception& e) {
    return Finish(absl::InternalError(absl::StrCat(function, ": unexpected exception: ", e.what())));
  } catch (...) {
    return Finish(absl::InternalError(absl::StrCat(function, ": unexpected non-standard exception")));
  }
}

// InvalidArgument naming `what` if `handle` is null.
template <typename T>
absl::Status Require(const T* handle, const char* what) {
  if (handle != nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " is NULL"));
}

inline DeviceMemory ToMemory(tpusim_buffer b) { return DeviceMemory{b.address, b.size}; }

// The entry points of c_api_streams.cc, placed in the table by c_api.cc.
tpusim_code MemcpyH2D(tpusim_memcpy_args* args);
tpusim_code MemcpyD2H(tpusim_memcpy_args* args);
tpusim_code MemcpyD2D(tpusim_memcpy_args* args);
tpusim_code Memset(tpusim_memset_args* args);
tpusim_code StreamCreate(tpusim_stream_create_args* args);
tpusim_code StreamDestroy(tpusim_stream_args* args);
tpusim_code StreamSynchronize(tpusim_stream_args* args);
tpusim_code StreamStatus(tpusim_stream_args* args);
tpusim_code StreamAddCallback(tpusim_stream_add_callback_args* args);
tpusim_code EventCreate(tpusim_event_create_args* args);
tpusim_code EventDestroy(tpusim_event_args* args);
tpusim_code EventRecord(tpusim_event_args* args);
tpusim_code EventWait(tpusim_event_args* args);
tpusim_code EventQuery(tpusim_event_args* args);
tpusim_code EventSynchronize(tpusim_event_args* args);
tpusim_code EventElapsedCycles(tpusim_event_elapsed_cycles_args* args);
tpusim_code ExecutableLoad(tpusim_executable_load_args* args);
tpusim_code ExecutableDestroy(tpusim_executable_destroy_args* args);
tpusim_code ExecutableBinding(tpusim_executable_binding_args* args);
tpusim_code Launch(tpusim_launch_args* args);

}  // namespace tpusim::driver::c_api
