/*
 * conveyor_plugin.h — the C ABI of Conveyor native plugins, API version 1.
 *
 * A native plugin is a shared library (.so) that exports one symbol:
 *
 *     const ConveyorPlugin *conveyor_plugin_declare(void);
 *
 * It returns a pointer to a declaration that lives as long as the library
 * (a static struct): the plugin API version, the plugin's name, version and
 * description, and its stages. Each stage carries its metadata as JSON and a
 * table of functions. Batches cross the boundary through the Arrow C Data
 * Interface (https://arrow.apache.org/docs/format/CDataInterface.html): a
 * batch is a struct array (format "+s") whose children are the columns.
 *
 * Conveyor refuses a library whose api_version differs from
 * CONVEYOR_PLUGIN_API_VERSION, that lacks the symbol, whose metadata JSON is
 * invalid, or that the dynamic loader cannot open (wrong platform, not a
 * shared library); the message names the file.
 *
 * Stage metadata (ConveyorStage.spec_json) has the shape of Conveyor's
 * built-in stage specs:
 *
 *   {
 *     "name": "geo.lookup",               required; lower case, dots
 *     "kind": "transform",                source | transform | sink
 *     "summary": "One line.",             required
 *     "description": "Paragraphs.",       required
 *     "tags": ["geo"],                    optional
 *     "stateful": false,                  optional, transforms only: true if
 *                                         the stage holds rows until flush
 *     "unbounded": false,                 optional, sources only: true if it
 *                                         never ends by itself (a stream:
 *                                         `conveyor run` refuses it)
 *     "params": [                         optional
 *       {"name": "column", "type": "str", "required": true,
 *        "default": null, "allowed": ["a", "b"], "min": 0, "max": 10,
 *        "doc": "What it does."}          doc is required
 *     ],
 *     "examples": [                       optional, run by Conveyor's tests
 *       {"title": "...", "config": "column = \"x\"",
 *        "input": "{\"x\":1}\n", "output": "{\"x\":1,\"y\":2}\n"}
 *     ]
 *   }
 *
 * Parameter types: "str", "int", "float", "bool", "list", "table", "dur",
 * "any", "bool|list", "str|list". Conveyor validates a stage's TOML config
 * against these params (unknown keys, types, required, allowed values,
 * ranges) before create is called.
 *
 * Threading: Conveyor calls the functions of one stage instance from one
 * thread at a time (not always the same thread). Different instances may be
 * called concurrently. Release callbacks may be called from any thread.
 *
 * Isolation: the same library runs in the Conveyor process
 * (isolation = "none") or in a child process, `conveyor plugin-host`,
 * that exchanges Arrow IPC with Conveyor over pipes (isolation = "process"):
 * a crash (segfault, abort) then fails only the stage. Nothing in the
 * library changes between the two modes. A plugin must not write to its
 * standard output in either mode expecting it to be seen as data (in the
 * child process, standard output is redirected to standard error).
 */
#ifndef CONVEYOR_PLUGIN_H
#define CONVEYOR_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The Arrow C Data Interface structs, as the Arrow specification defines
 * them (guarded so that Arrow's own headers may be included as well). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char *format;
  const char *name;
  const char *metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema **children;
  struct ArrowSchema *dictionary;
  void (*release)(struct ArrowSchema *);
  void *private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void **buffers;
  struct ArrowArray **children;
  struct ArrowArray *dictionary;
  void (*release)(struct ArrowArray *);
  void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* The API version this header describes. */
#define CONVEYOR_PLUGIN_API_VERSION 1

/* The name of the one symbol a plugin exports. */
#define CONVEYOR_PLUGIN_DECLARE_SYMBOL "conveyor_plugin_declare"

/* Status codes returned by create, process, next and flush. */
#define CONVEYOR_OK 0    /* success */
#define CONVEYOR_END 1   /* next only: the source has no more batches */
#define CONVEYOR_ERROR -1 /* failure: last_error(handle) says why */

/*
 * One stage: its metadata and its functions.
 *
 * Ownership of batches (the C Data Interface's move semantics):
 *
 * - Output structs (out_schema, out) are zero-initialised by Conveyor. A
 *   function that emits a batch fills both (a "+s" struct schema and a
 *   struct array whose children are the columns) and sets their release
 *   callbacks; Conveyor takes ownership and calls the release callbacks
 *   when it is done with the data, which may be long after the call
 *   returns. A function that emits nothing leaves out->release NULL.
 *   Emitting a batch of zero rows is allowed and equals emitting nothing.
 * - Input structs (in_schema, in) are lent for the duration of the call.
 *   After the call Conveyor releases whatever still has a release callback.
 *   A plugin may take ownership of the input or of any of its children by
 *   moving it (copy the struct, then set the source's release to NULL):
 *   a pass-through column moved into the output costs no copy. Input data
 *   must not be read after the call unless it was moved.
 * - The handle is the plugin's: Conveyor passes it back and never reads it.
 */
typedef struct ConveyorStage {
  /* The stage's metadata, a NUL-terminated JSON object (see above). */
  const char *spec_json;

  /*
   * Create an instance from its configuration. config_json is a JSON object
   * of the stage's validated parameters with their defaults filled in
   * ("dur" parameters as a number of seconds). env_json is a JSON object
   * describing where it runs: {"stage_id": "...", "pipeline": "...",
   * "base_dir": "...", "batch_size": 65536} (relative paths in the config
   * resolve against base_dir). Both strings are valid during the call only.
   *
   * Returns CONVEYOR_OK and sets *handle. On failure returns CONVEYOR_ERROR
   * and may set *handle to an instance whose last_error says why; Conveyor
   * then reads that message and calls destroy on it.
   */
  int (*create)(const char *config_json, const char *env_json, void **handle);

  /*
   * Transforms: process one input batch; may emit one output batch.
   * Sinks: consume one input batch; out_schema and out are NULL.
   * Sources: NULL.
   */
  int (*process)(void *handle, struct ArrowSchema *in_schema,
                 struct ArrowArray *in, struct ArrowSchema *out_schema,
                 struct ArrowArray *out);

  /*
   * Sources: emit the next batch (CONVEYOR_OK, filling out_schema and out),
   * or return CONVEYOR_END when there is no more. Conveyor calls next until
   * it returns CONVEYOR_END or the pipeline drains. A source waiting for
   * data should not block for long: it may return CONVEYOR_OK without a
   * batch after a short wait (say 100 ms), which lets a drain stop it.
   * Transforms and sinks: NULL.
   */
  int (*next)(void *handle, struct ArrowSchema *out_schema,
              struct ArrowArray *out);

  /*
   * End of input (may be NULL).
   * Transforms: called once after the last batch when the stage declares
   * "stateful": true; it may emit a last batch. Stateless transforms are
   * never flushed.
   * Sinks: the commit: make everything written durable (rename a temporary
   * file onto its target, say); out_schema and out are NULL. A sink that is
   * destroyed without having been flushed belongs to a run that failed:
   * it should discard its partial output.
   * Sources: NULL (never called).
   */
  int (*flush)(void *handle, struct ArrowSchema *out_schema,
               struct ArrowArray *out);

  /* Free an instance. Called exactly once per created handle. Batches the
   * instance emitted may still be alive: their release callbacks must keep
   * working after destroy. */
  void (*destroy)(void *handle);

  /*
   * The message of the last failure of this instance, NUL-terminated,
   * valid until the next call on the instance. Conveyor copies it.
   */
  const char *(*last_error)(void *handle);
} ConveyorStage;

/* The declaration returned by conveyor_plugin_declare. api_version must stay
 * the first field in every version of this ABI. */
typedef struct ConveyorPlugin {
  uint32_t api_version; /* CONVEYOR_PLUGIN_API_VERSION */
  uint32_t n_stages;    /* entries in stages */
  const char *name;        /* e.g. "geo" */
  const char *version;     /* the plugin's own version, e.g. "1.2.0" */
  const char *description; /* one paragraph */
  const ConveyorStage *stages;
} ConveyorPlugin;

/* The one symbol a plugin exports. Called once per load; the result must
 * stay valid while the library is loaded (Conveyor never unloads it). */
const ConveyorPlugin *conveyor_plugin_declare(void);

#ifdef __cplusplus
}
#endif

#endif /* CONVEYOR_PLUGIN_H */
