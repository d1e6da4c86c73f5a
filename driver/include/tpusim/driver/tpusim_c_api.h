/* The tpusim driver's C ABI (libtpusim_c.so). Documented in docs/c_api.md.
 *
 * The library exports one symbol, tpusim_get_api(major), which returns a versioned table of function
 * pointers. Every function takes one argument struct whose first field is `size_t struct_size`
 * (set it to sizeof the struct); outputs are written into the same struct. Every function returns a
 * tpusim_code; on failure the calling thread's tpusim_api.error_message() holds a message naming what
 * failed and where (until that thread's next call). Nothing is thrown across this boundary.
 *
 * Versioning: a minor version only appends fields to structs and functions to the table; the library
 * reads an appended field only when the caller's struct_size covers it, and a caller must only call
 * a table entry that lies inside the table's struct_size. A new major version is a new table.
 *
 * Threading: every function may be called from any thread (the C++ driver's contract). Work on one
 * stream runs in order on that stream's thread; errors of asynchronous work are sticky on the stream.
 */
#ifndef TPUSIM_DRIVER_TPUSIM_C_API_H_
#define TPUSIM_DRIVER_TPUSIM_C_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TPUSIM_C_API_MAJOR 1
#define TPUSIM_C_API_MINOR 0

#if defined(TPUSIM_C_API_BUILD)
#define TPUSIM_C_EXPORT __attribute__((visibility("default")))
#else
#define TPUSIM_C_EXPORT
#endif

/* Status codes: the values of absl::StatusCode (and of gRPC / TensorFlow). */
typedef enum tpusim_code {
  TPUSIM_OK = 0,
  TPUSIM_CANCELLED = 1,
  TPUSIM_UNKNOWN = 2,
  TPUSIM_INVALID_ARGUMENT = 3,
  TPUSIM_DEADLINE_EXCEEDED = 4,
  TPUSIM_NOT_FOUND = 5,
  TPUSIM_ALREADY_EXISTS = 6,
  TPUSIM_PERMISSION_DENIED = 7,
  TPUSIM_RESOURCE_EXHAUSTED = 8,
  TPUSIM_FAILED_PRECONDITION = 9,
  TPUSIM_ABORTED = 10,
  TPUSIM_OUT_OF_RANGE = 11,
  TPUSIM_UNIMPLEMENTED = 12,
  TPUSIM_INTERNAL = 13,
  TPUSIM_UNAVAILABLE = 14,
  TPUSIM_DATA_LOSS = 15,
  TPUSIM_UNAUTHENTICATED = 16
} tpusim_code;

/* Opaque handles. Each is owned by the caller from the call that creates it to the matching
 * destroy/close; handles may be destroyed in any order (a stream keeps its device's memory alive). */
typedef struct tpusim_device tpusim_device;
typedef struct tpusim_stream tpusim_stream;
typedef struct tpusim_event tpusim_event;
typedef struct tpusim_executable tpusim_executable;

/* A device allocation: an opaque device address (never dereference it) and its size in bytes. A
 * sub-range {address + k, size - k} of an allocation is a valid operand too. */
typedef struct tpusim_buffer {
  uint64_t address;
  uint64_t size;
} tpusim_buffer;

/* Counters of one launch (RunStats). cycles is 0 on the functional engine. */
typedef struct tpusim_run_stats {
  size_t struct_size;
  uint64_t cycles;
  uint64_t instructions;
  uint64_t macs;                  /* multiply-accumulates the array performed */
  uint64_t useful_macs;           /* on non-padding operands */
  uint64_t vector_elements;       /* produced by ACTIVATE and VECTOR */
  uint64_t dram_to_ub_bytes;      /* LOAD */
  uint64_t ub_to_dram_bytes;      /* STORE */
  uint64_t dram_to_weights_bytes; /* LOAD_WEIGHTS */
} tpusim_run_stats;

/* ---- platforms ("cpu", "tpu"; they live for the whole process, nothing to close) ---- */
typedef struct tpusim_platform_get_args {
  size_t struct_size;
  const char* platform;  /* in: "cpu" or "tpu" */
  int device_count;      /* out: ordinals [0, device_count) may be opened */
} tpusim_platform_get_args;

typedef struct tpusim_platform_set_device_count_args {
  size_t struct_size;
  const char* platform;  /* in */
  int device_count;      /* in: [1, 64] */
} tpusim_platform_set_device_count_args;

/* ---- devices ---- */
typedef struct tpusim_device_open_args {
  size_t struct_size;
  const char* platform;         /* in: "cpu" or "tpu" */
  int ordinal;                  /* in */
  const char* engine;           /* in, tpu: "functional", "cycle" or "rtl"; NULL = "functional" */
  const char* arch;             /* in, tpu: a preset ("tiny", "tpu-v4", ...) or a .textproto path; NULL = "tiny" */
  uint64_t memory_limit_bytes;  /* in: 0 = the whole device memory */
  tpusim_device* device;        /* out */
  const char* name;             /* out: "/job:localhost/replica:0/task:0/device:TPU:0"; valid until close */
  const char* description;      /* out: valid until close */
} tpusim_device_open_args;

typedef struct tpusim_device_close_args {
  size_t struct_size;
  tpusim_device* device;  /* in; NULL is a no-op */
} tpusim_device_close_args;

typedef struct tpusim_device_memory_stats_args {
  size_t struct_size;
  tpusim_device* device;        /* in */
  uint64_t bytes_in_use;        /* out: reserved by live allocations (256-byte alignment included) */
  uint64_t peak_bytes_in_use;   /* out */
  uint64_t bytes_limit;         /* out */
  uint64_t largest_free_block;  /* out */
  uint64_t num_allocs;          /* out: live allocations */
  uint64_t total_allocs;        /* out: since open */
} tpusim_device_memory_stats_args;

/* ---- memory ---- */
typedef struct tpusim_mem_alloc_args {
  size_t struct_size;
  tpusim_device* device;  /* in */
  uint64_t bytes;         /* in: 0 gives the null buffer {0, 0} */
  tpusim_buffer buffer;   /* out */
} tpusim_mem_alloc_args;

typedef struct tpusim_mem_free_args {
  size_t struct_size;
  tpusim_device* device;  /* in */
  tpusim_buffer buffer;   /* in: as returned by mem_alloc */
} tpusim_mem_free_args;

/* Asynchronous copies on a stream (memcpy_h2d uses dst + src_host, memcpy_d2h dst_host + src,
 * memcpy_d2d dst + src). Host memory must stay valid until the copy completes. */
typedef struct tpusim_memcpy_args {
  size_t struct_size;
  tpusim_stream* stream;
  tpusim_buffer dst;
  void* dst_host;
  tpusim_buffer src;
  const void* src_host;
  uint64_t bytes;
} tpusim_memcpy_args;

typedef struct tpusim_memset_args {
  size_t struct_size;
  tpusim_stream* stream;
  tpusim_buffer dst;
  uint8_t value;
  uint64_t bytes;
} tpusim_memset_args;

/* ---- streams ---- */
typedef struct tpusim_stream_create_args {
  size_t struct_size;
  tpusim_device* device;  /* in */
  tpusim_stream* stream;  /* out */
} tpusim_stream_create_args;

/* stream_destroy (waits for the stream's work first), stream_synchronize (blocks; returns the sticky
 * status) and stream_status (the sticky status, without blocking). */
typedef struct tpusim_stream_args {
  size_t struct_size;
  tpusim_stream* stream;
} tpusim_stream_args;

/* Runs callback(user_data, code, message) on the stream's thread after all earlier work, with the
 * stream's sticky status (it runs even after a failure). `message` is valid during the call only. */
typedef struct tpusim_stream_add_callback_args {
  size_t struct_size;
  tpusim_stream* stream;
  void (*callback)(void* user_data, tpusim_code code, const char* message);
  void* user_data;
} tpusim_stream_add_callback_args;

/* ---- events ---- */
typedef struct tpusim_event_create_args {
  size_t struct_size;
  tpusim_device* device;  /* in */
  tpusim_event* event;    /* out */
} tpusim_event_create_args;

/* event_destroy (event), event_record (event marks the current end of stream), event_wait (stream
 * waits for event's latest record), event_query (out: completed = 1 once the recorded work is done),
 * event_synchronize (event; blocks and returns the recording stream's status at the record). */
typedef struct tpusim_event_args {
  size_t struct_size;
  tpusim_event* event;
  tpusim_stream* stream;
  int completed;
} tpusim_event_args;

/* Simulated cycles between two completed records on one stream of a timing engine (see
 * tpusim::driver::ElapsedCycles for the errors). */
typedef struct tpusim_event_elapsed_cycles_args {
  size_t struct_size;
  tpusim_event* start;  /* in */
  tpusim_event* end;    /* in */
  uint64_t cycles;      /* out */
} tpusim_event_elapsed_cycles_args;

/* ---- programs ---- */
typedef struct tpusim_executable_load_args {
  size_t struct_size;
  tpusim_device* device;           /* in: a tpu device */
  const void* tpb;                 /* in: a .tpb file's bytes (magic, length, serialized Program) */
  size_t tpb_bytes;                /* in */
  tpusim_executable* executable;   /* out */
  int num_inputs;                  /* out */
  int num_outputs;                 /* out */
} tpusim_executable_load_args;

typedef struct tpusim_executable_destroy_args {
  size_t struct_size;
  tpusim_executable* executable;
} tpusim_executable_destroy_args;

/* One binding of a loaded program: input `index` (is_output = 0) or output `index`. */
typedef struct tpusim_executable_binding_args {
  size_t struct_size;
  tpusim_executable* executable;  /* in */
  int is_output;                  /* in */
  int index;                      /* in */
  const char* name;               /* out: valid while the executable lives */
  uint64_t bytes;                 /* out: the buffer size a launch must pass */
} tpusim_executable_binding_args;

/* Enqueues a launch: inputs in program input order, outputs in program output order; each buffer's
 * size must equal its binding's bytes. If `stats` is non-NULL (its struct_size set), it is filled
 * when the launch completes successfully; keep it valid until then (synchronize). Launches of one
 * executable must not overlap (one stream, or events between streams). */
typedef struct tpusim_launch_args {
  size_t struct_size;
  tpusim_stream* stream;
  tpusim_executable* executable;
  const tpusim_buffer* inputs;
  size_t num_inputs;
  const tpusim_buffer* outputs;
  size_t num_outputs;
  tpusim_run_stats* stats;
} tpusim_launch_args;

/* The function table of major version 1. */
typedef struct tpusim_api {
  size_t struct_size; /* sizeof(tpusim_api) of the library: entries beyond it do not exist */
  int major;
  int minor;
  /* The message of the calling thread's last failed call ("" if its last call succeeded). Valid until
   * the thread's next call. */
  const char* (*error_message)(void);

  tpusim_code (*platform_get)(tpusim_platform_get_args* args);
  tpusim_code (*platform_set_device_count)(tpusim_platform_set_device_count_args* args);

  tpusim_code (*device_open)(tpusim_device_open_args* args);
  tpusim_code (*device_close)(tpusim_device_close_args* args);
  tpusim_code (*device_memory_stats)(tpusim_device_memory_stats_args* args);

  tpusim_code (*mem_alloc)(tpusim_mem_alloc_args* args);
  tpusim_code (*mem_free)(tpusim_mem_free_args* args);
  tpusim_code (*memcpy_h2d)(tpusim_memcpy_args* args);
  tpusim_code (*memcpy_d2h)(tpusim_memcpy_args* args);
  tpusim_code (*memcpy_d2d)(tpusim_memcpy_args* args);
  tpusim_code (*memset)(tpusim_memset_args* args);

  tpusim_code (*stream_create)(tpusim_stream_create_args* args);
  tpusim_code (*stream_destroy)(tpusim_stream_args* args);
  tpusim_code (*stream_synchronize)(tpusim_stream_args* args);
  tpusim_code (*stream_status)(tpusim_stream_args* args);
  tpusim_code (*stream_add_callback)(tpusim_stream_add_callback_args* args);

  tpusim_code (*event_create)(tpusim_event_create_args* args);
  tpusim_code (*event_destroy)(tpusim_event_args* args);
  tpusim_code (*event_record)(tpusim_event_args* args);
  tpusim_code (*event_wait)(tpusim_event_args* args);
  tpusim_code (*event_query)(tpusim_event_args* args);
  tpusim_code (*event_synchronize)(tpusim_event_args* args);
  tpusim_code (*event_elapsed_cycles)(tpusim_event_elapsed_cycles_args* args);

  tpusim_code (*executable_load)(tpusim_executable_load_args* args);
  tpusim_code (*executable_destroy)(tpusim_executable_destroy_args* args);
  tpusim_code (*executable_binding)(tpusim_executable_binding_args* args);
  tpusim_code (*launch)(tpusim_launch_args* args);
} tpusim_api;

/* The table of `major` (TPUSIM_C_API_MAJOR), or NULL if this library does not provide it. The table
 * is static: never free it. */
TPUSIM_C_EXPORT const tpusim_api* tpusim_get_api(int major);
typedef const tpusim_api* (*tpusim_get_api_fn)(int major);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TPUSIM_DRIVER_TPUSIM_C_API_H_ */
