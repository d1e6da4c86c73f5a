/* A C11 program driving a full launch through the C ABI (libtpusim_c.so):
 *   test_driver_c <add_mul.tpb> <engine>
 * The program (make_test_program.cc) computes y = (a + b) * 2 for a, b, y = [2, 8] f32 on `tiny`.
 * Checks: the table's version, platform and device open, memory statistics and the limit error,
 * copies, memset, a host callback, events, the launch against hand arithmetic, its run statistics,
 * elapsed cycles on a timing engine, and that errors come back as codes with messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpusim/driver/tpusim_c_api.h"

static int failures = 0;
static const tpusim_api* api = NULL;

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

/* Calls must succeed; on failure print the code and the thread's message, and stop. */
#define MUST(call)                                                                      \
  do {                                                                                  \
    tpusim_code code_ = (call);                                                         \
    if (code_ != TPUSIM_OK) {                                                           \
      fprintf(stderr, "%s:%d: %s -> code %d: %s\n", __FILE__, __LINE__, #call, (int)code_, \
              api->error_message());                                                    \
      exit(1);                                                                          \
    }                                                                                   \
  } while (0)

static char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  char* data;
  long n;
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  data = (char*)malloc((size_t)n);
  if (data != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

struct callback_log {
  int calls;
  tpusim_code code;
  float first_output; /* y[0] as copied to the host before the callback */
  const float* y;
};

static void on_done(void* user, tpusim_code code, const char* message) {
  struct callback_log* log = (struct callback_log*)user;
  (void)message;
  log->calls++;
  log->code = code;
  log->first_output = log->y[0];
}

int main(int argc, char** argv) {
  const char* engine;
  size_t tpb_size = 0;
  char* tpb;
  int timed, i;
  float a[16], b[16], y[16], expected[16];
  unsigned char bytes[64];
  tpusim_buffer da, db, dy;
  struct callback_log log;
  tpusim_run_stats stats;

  if (argc != 3) {
    fprintf(stderr, "usage: test_driver_c <program.tpb> <engine>\n");
    return 2;
  }
  engine = argv[2];
  timed = strcmp(engine, "functional") != 0;
  tpb = read_file(argv[1], &tpb_size);
  if (tpb == NULL) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }

  /* Versioning: major 1 exists, an unknown major does not. */
  CHECK(tpusim_get_api(999) == NULL);
  api = tpusim_get_api(TPUSIM_C_API_MAJOR);
  if (api == NULL) return 1;
  CHECK(api->struct_size >= sizeof(tpusim_api));
  CHECK(api->major == 1);

  {
    tpusim_platform_get_args pg;
    memset(&pg, 0, sizeof pg);
    pg.struct_size = sizeof pg;
    pg.platform = "tpu";
    MUST(api->platform_get(&pg));
    CHECK(pg.device_count >= 1);
    pg.platform = "gpu"; /* unknown: a code and a message naming the platforms */
    CHECK(api->platform_get(&pg) == TPUSIM_NOT_FOUND);
    CHECK(strstr(api->error_message(), "gpu") != NULL);
    pg.struct_size = 4; /* too small: refused, not read past */
    CHECK(api->platform_get(&pg) == TPUSIM_INVALID_ARGUMENT);
    CHECK(strstr(api->error_message(), "struct_size") != NULL);
  }

  tpusim_device_open_args open;
  memset(&open, 0, sizeof open);
  open.struct_size = sizeof open;
  open.platform = "tpu";
  open.ordinal = 0;
  open.engine = engine;
  open.arch = "tiny";
  open.memory_limit_bytes = 4096;
  MUST(api->device_open(&open));
  CHECK(strcmp(open.name, "/job:localhost/replica:0/task:0/device:TPU:0") == 0);
  printf("device: %s — %s\n", open.name, open.description);
  CHECK(*api->error_message() == '\0'); /* a successful call clears the thread's message */

  tpusim_executable_load_args load;
  memset(&load, 0, sizeof load);
  load.struct_size = sizeof load;
  load.device = open.device;
  load.tpb = tpb;
  load.tpb_bytes = tpb_size - 1; /* a cut file is refused */
  CHECK(api->executable_load(&load) == TPUSIM_INVALID_ARGUMENT);
  load.tpb_bytes = tpb_size;
  MUST(api->executable_load(&load));
  CHECK(load.num_inputs == 2 && load.num_outputs == 1);
  {
    tpusim_executable_binding_args bind;
    memset(&bind, 0, sizeof bind);
    bind.struct_size = sizeof bind;
    bind.executable = load.executable;
    bind.is_output = 1;
    bind.index = 0;
    MUST(api->executable_binding(&bind));
    CHECK(strcmp(bind.name, "y") == 0 && bind.bytes == 64);
  }

  /* Memory: the 192-byte frame reserves 256; three 64-byte buffers 256 each: 1024 of 4096. */
  tpusim_mem_alloc_args alloc;
  memset(&alloc, 0, sizeof alloc);
  alloc.struct_size = sizeof alloc;
  alloc.device = open.device;
  alloc.bytes = 64;
  MUST(api->mem_alloc(&alloc));
  da = alloc.buffer;
  MUST(api->mem_alloc(&alloc));
  db = alloc.buffer;
  MUST(api->mem_alloc(&alloc));
  dy = alloc.buffer;
  alloc.bytes = 4000; /* over the limit: ResourceExhausted naming the sizes */
  CHECK(api->mem_alloc(&alloc) == TPUSIM_RESOURCE_EXHAUSTED);
  CHECK(strstr(api->error_message(), "4000 bytes") != NULL);
  CHECK(strstr(api->error_message(), "4096-byte memory limit") != NULL);
  {
    tpusim_device_memory_stats_args ms;
    memset(&ms, 0, sizeof ms);
    ms.struct_size = sizeof ms;
    ms.device = open.device;
    MUST(api->device_memory_stats(&ms));
    CHECK(ms.bytes_in_use == 1024 && ms.bytes_limit == 4096 && ms.num_allocs == 4);
  }

  /* Inputs: a[i] = i - 8, b[i] = 0.5 * i; y = (a + b) * 2 = 3i - 16 (exact in fp32). */
  for (i = 0; i < 16; ++i) {
    a[i] = (float)i - 8.0f;
    b[i] = 0.5f * (float)i;
    expected[i] = 3.0f * (float)i - 16.0f;
    y[i] = -1000.0f;
  }

  tpusim_stream_create_args sc;
  memset(&sc, 0, sizeof sc);
  sc.struct_size = sizeof sc;
  sc.device = open.device;
  MUST(api->stream_create(&sc));
  tpusim_stream_args sa;
  memset(&sa, 0, sizeof sa);
  sa.struct_size = sizeof sa;
  sa.stream = sc.stream;

  tpusim_event_create_args ec;
  tpusim_event* start;
  tpusim_event* end;
  memset(&ec, 0, sizeof ec);
  ec.struct_size = sizeof ec;
  ec.device = open.device;
  MUST(api->event_create(&ec));
  start = ec.event;
  MUST(api->event_create(&ec));
  end = ec.event;
  tpusim_event_args ev;
  memset(&ev, 0, sizeof ev);
  ev.struct_size = sizeof ev;
  ev.stream = sc.stream;

  tpusim_memset_args fill;
  memset(&fill, 0, sizeof fill);
  fill.struct_size = sizeof fill;
  fill.stream = sc.stream;
  fill.dst = dy;
  fill.value = 0xFF; /* overwritten by the launch */
  fill.bytes = 64;
  MUST(api->memset(&fill));

  tpusim_memcpy_args cp;
  memset(&cp, 0, sizeof cp);
  cp.struct_size = sizeof cp;
  cp.stream = sc.stream;
  cp.bytes = 64;
  cp.dst = da;
  cp.src_host = a;
  MUST(api->memcpy_h2d(&cp));
  cp.dst = db;
  cp.src_host = b;
  MUST(api->memcpy_h2d(&cp));

  ev.event = start;
  MUST(api->event_record(&ev));
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  {
    tpusim_buffer inputs[2];
    tpusim_launch_args launch;
    inputs[0] = da;
    inputs[1] = db;
    memset(&launch, 0, sizeof launch);
    launch.struct_size = sizeof launch;
    launch.stream = sc.stream;
    launch.executable = load.executable;
    launch.inputs = inputs;
    launch.num_inputs = 2;
    launch.outputs = &dy;
    launch.num_outputs = 1;
    launch.stats = &stats;
    MUST(api->launch(&launch));
  }
  ev.event = end;
  MUST(api->event_record(&ev));

  memset(&cp, 0, sizeof cp);
  cp.struct_size = sizeof cp;
  cp.stream = sc.stream;
  cp.bytes = 64;
  cp.dst_host = y;
  cp.src = dy;
  MUST(api->memcpy_d2h(&cp));
  memset(&log, 0, sizeof log);
  log.y = y;
  {
    tpusim_stream_add_callback_args cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.stream = sc.stream;
    cb.callback = on_done;
    cb.user_data = &log;
    MUST(api->stream_add_callback(&cb));
  }
  MUST(api->stream_synchronize(&sa));

  for (i = 0; i < 16; ++i) {
    if (y[i] != expected[i]) {
      fprintf(stderr, "y[%d] = %g, expected %g\n", i, (double)y[i], (double)expected[i]);
      ++failures;
    }
  }
  CHECK(log.calls == 1 && log.code == TPUSIM_OK && log.first_output == -16.0f);
  /* LOAD, LOAD, SYNC, VECTOR, VECTOR, SYNC, STORE, HALT. */
  CHECK(stats.instructions == 8);
  CHECK(stats.dram_to_ub_bytes == 128 && stats.ub_to_dram_bytes == 64);
  CHECK(stats.vector_elements == 32); /* two VECTOR ops over 2 rows x 8 lanes */
  CHECK(stats.macs == 0);
  ev.event = end;
  MUST(api->event_query(&ev));
  CHECK(ev.completed == 1);
  MUST(api->event_synchronize(&ev));
  {
    tpusim_event_elapsed_cycles_args el;
    memset(&el, 0, sizeof el);
    el.struct_size = sizeof el;
    el.start = start;
    el.end = end;
    if (timed) {
      MUST(api->event_elapsed_cycles(&el));
      CHECK(stats.cycles > 0 && el.cycles == stats.cycles);
      printf("%s engine: launch took %llu cycles\n", engine, (unsigned long long)el.cycles);
    } else {
      CHECK(api->event_elapsed_cycles(&el) == TPUSIM_FAILED_PRECONDITION);
      CHECK(stats.cycles == 0);
    }
  }

  /* Device-to-device copy and a sticky asynchronous error. */
  memset(&cp, 0, sizeof cp);
  cp.struct_size = sizeof cp;
  cp.stream = sc.stream;
  cp.bytes = 64;
  cp.dst = da;
  cp.src = dy;
  MUST(api->memcpy_d2d(&cp));
  cp.dst_host = bytes;
  cp.src = da;
  MUST(api->memcpy_d2h(&cp));
  MUST(api->stream_synchronize(&sa));
  CHECK(memcmp(bytes, y, 64) == 0);
  fill.dst = da;
  fill.bytes = 65; /* past the 64-byte allocation: fails when it runs */
  MUST(api->memset(&fill));
  CHECK(api->stream_synchronize(&sa) == TPUSIM_OUT_OF_RANGE);
  CHECK(strstr(api->error_message(), "Memset") != NULL);
  CHECK(api->stream_status(&sa) == TPUSIM_OUT_OF_RANGE); /* sticky */

  /* Teardown, in an order other than creation's. */
  {
    tpusim_device_close_args close;
    tpusim_executable_destroy_args ed;
    tpusim_mem_free_args mf;
    memset(&mf, 0, sizeof mf);
    mf.struct_size = sizeof mf;
    mf.device = open.device;
    mf.buffer = da;
    MUST(api->mem_free(&mf));
    CHECK(api->mem_free(&mf) == TPUSIM_INVALID_ARGUMENT); /* double free: a code, not a crash */
    memset(&ed, 0, sizeof ed);
    ed.struct_size = sizeof ed;
    ed.executable = load.executable;
    MUST(api->executable_destroy(&ed));
    ev.event = start;
    MUST(api->event_destroy(&ev));
    ev.event = end;
    MUST(api->event_destroy(&ev));
    memset(&close, 0, sizeof close);
    close.struct_size = sizeof close;
    close.device = open.device;
    MUST(api->device_close(&close));
    MUST(api->stream_destroy(&sa));
  }
  free(tpb);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("c api test passed (%s engine)\n", engine);
  return 0;
}
