// The declaration of the Go example plugin: a static table whose function
// pointers are C wrappers around the functions main.go exports.
#include <stdint.h>
#include "_cgo_export.h"
#include "conveyor_plugin.h"

#define WRAP(idx, prefix)                                                             \
  static int prefix##_create(const char *config, const char *env, void **handle) {   \
    uintptr_t id = 0;                                                                 \
    int rc = goCreate(idx, (char *)config, (char *)env, &id);                         \
    *handle = (void *)id;                                                             \
    return rc;                                                                        \
  }

WRAP(0, upper)
WRAP(1, count)

static int process(void *h, struct ArrowSchema *in_schema, struct ArrowArray *in,
                   struct ArrowSchema *out_schema, struct ArrowArray *out) {
  return goProcess((uintptr_t)h, in_schema, in, out_schema, out);
}
static int flush(void *h, struct ArrowSchema *out_schema, struct ArrowArray *out) {
  return goFlush((uintptr_t)h, out_schema, out);
}
static void destroy(void *h) { goDestroy((uintptr_t)h); }
static const char *last_error(void *h) { return goLastError((uintptr_t)h); }

static ConveyorStage stages[2];
static ConveyorPlugin plugin;

const ConveyorPlugin *conveyor_plugin_declare(void) {
  if (plugin.api_version == 0) {
    stages[0] = (ConveyorStage){goSpec(0), upper_create, process, NULL, NULL, destroy, last_error};
    stages[1] = (ConveyorStage){goSpec(1), count_create, process, NULL, flush, destroy, last_error};
    plugin = (ConveyorPlugin){CONVEYOR_PLUGIN_API_VERSION, 2, "goexample", "1.0.0",
                              "Example stages written in Go (built with -buildmode=c-shared).", stages};
  }
  return &plugin;
}
