/*
 * cexample — an example Conveyor plugin in C, built and run by the tests of
 * the plugins package:
 *
 *     gcc -O2 -fPIC -shared -I../../include -o cexample.so cexample.c
 *
 * Stages:
 *   cexample.add_column   transform: passes every column through (moved,
 *                         not copied) and appends an int64 constant column;
 *                         can fail, segfault or abort on demand (tests)
 *   cexample.sequence     source: int64 column n = 0, 1, ... in batches
 *   cexample.sum          sink: writes the sum of an int64 column to a file
 *                         on flush (temporary file renamed on commit)
 *   cexample.allocations  source: one row, the number of blocks this
 *                         library has allocated and not freed (a leak check)
 *
 * Test switches: -DCEXAMPLE_API_VERSION=N declares another API version;
 * -DCEXAMPLE_BAD_METADATA declares invalid metadata JSON.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conveyor_plugin.h"

#ifndef CEXAMPLE_API_VERSION
#define CEXAMPLE_API_VERSION CONVEYOR_PLUGIN_API_VERSION
#endif

/* ---- allocation accounting: every block goes through these ---- */

static int64_t live_blocks;

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p != NULL) __atomic_add_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  return p;
}

static void xfree(const void *p) {
  if (p == NULL) return;
  __atomic_sub_fetch(&live_blocks, 1, __ATOMIC_RELAXED);
  free((void *)p);
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = xcalloc(1, n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}

/* ---- a tiny reader for the flat JSON objects Conveyor passes ---- */

/* json_value returns the start of the value of "key", or NULL. */
static const char *json_value(const char *js, const char *key) {
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  for (const char *p = strstr(js, pat); p != NULL; p = strstr(p + 1, pat)) {
    if (p > js && p[-1] == '\\') continue; /* inside a string */
    p += strlen(pat);
    while (*p == ' ') p++;
    return p;
  }
  return NULL;
}

static int json_int(const char *js, const char *key, long long *out) {
  const char *v = json_value(js, key);
  if (v == NULL || *v == 'n') return 0;
  *out = strtoll(v, NULL, 10);
  return 1;
}

/* json_str copies a string value (simple escapes only). */
static int json_str(const char *js, const char *key, char *buf, size_t n) {
  const char *v = json_value(js, key);
  if (v == NULL || *v != '"' || n == 0) return 0;
  size_t i = 0;
  for (v++; *v && *v != '"' && i + 1 < n; v++) {
    if (*v == '\\' && v[1]) {
      v++;
      buf[i++] = *v == 'n' ? '\n' : *v == 't' ? '\t' : *v;
    } else {
      buf[i++] = *v;
    }
  }
  buf[i] = 0;
  return 1;
}

/* ---- Arrow C Data helpers ---- */

/* Arrays and schemas this library builds own everything they point to:
 * buffers, child structs, strings. Children moved in from an input keep
 * their own release callbacks; only their holder struct is ours. */
static void release_array(struct ArrowArray *a) {
  for (int64_t i = 0; i < a->n_children; i++) {
    if (a->children[i]->release) a->children[i]->release(a->children[i]);
    xfree(a->children[i]);
  }
  xfree(a->children);
  for (int64_t i = 0; i < a->n_buffers; i++) xfree(a->buffers[i]);
  xfree(a->buffers);
  a->release = NULL;
}

static void release_schema(struct ArrowSchema *s) {
  for (int64_t i = 0; i < s->n_children; i++) {
    if (s->children[i]->release) s->children[i]->release(s->children[i]);
    xfree(s->children[i]);
  }
  xfree(s->children);
  xfree(s->format);
  xfree(s->name);
  s->release = NULL;
}

/* make_schema fills s as a field of the given format and name with room
 * for n children. */
static void make_schema(struct ArrowSchema *s, const char *format, const char *name, int64_t n) {
  memset(s, 0, sizeof *s);
  s->format = xstrdup(format);
  s->name = xstrdup(name);
  s->flags = ARROW_FLAG_NULLABLE;
  s->n_children = n;
  s->children = xcalloc(n, sizeof(struct ArrowSchema *));
  for (int64_t i = 0; i < n; i++) s->children[i] = xcalloc(1, sizeof(struct ArrowSchema));
  s->release = release_schema;
}

/* make_struct fills a as a struct array (no validity) of length rows with
 * room for n children. */
static void make_struct(struct ArrowArray *a, int64_t rows, int64_t n) {
  memset(a, 0, sizeof *a);
  a->length = rows;
  a->n_buffers = 1;
  a->buffers = xcalloc(1, sizeof(void *));
  a->n_children = n;
  a->children = xcalloc(n, sizeof(struct ArrowArray *));
  for (int64_t i = 0; i < n; i++) a->children[i] = xcalloc(1, sizeof(struct ArrowArray));
  a->release = release_array;
}

/* make_int64 fills a as an int64 array without nulls; returns its data. */
static int64_t *make_int64(struct ArrowArray *a, int64_t rows) {
  memset(a, 0, sizeof *a);
  a->length = rows;
  a->n_buffers = 2;
  a->buffers = xcalloc(2, sizeof(void *));
  int64_t *data = xcalloc(rows, sizeof(int64_t));
  a->buffers[1] = data;
  a->release = release_array;
  return data;
}

/* move_array moves src into dst (C Data Interface move semantics). */
static void move_array(struct ArrowArray *dst, struct ArrowArray *src) {
  *dst = *src;
  src->release = NULL;
}

static void move_schema(struct ArrowSchema *dst, struct ArrowSchema *src) {
  *dst = *src;
  src->release = NULL;
}

/* ---- instances ---- */

typedef struct {
  char error[8400];
  /* add_column */
  char column[256];
  long long value;
  char fail[256];
  char crash[32];
  long long crash_on_batch;
  long long batches;
  /* sequence */
  long long count, batch_rows, pos;
  /* sum */
  char path[8200], tmp[8300];
  long long sum;
  int committed;
  /* allocations */
  int emitted;
} instance;

static int failf(instance *in, const char *msg) {
  snprintf(in->error, sizeof in->error, "%s", msg);
  return CONVEYOR_ERROR;
}

static const char *last_error(void *h) { return ((instance *)h)->error; }

static void destroy(void *h) {
  instance *in = h;
  if (in->tmp[0] && !in->committed) remove(in->tmp); /* a failed run: discard */
  xfree(in);
}

/* cexample.add_column */

static int add_column_create(const char *config, const char *env, void **h) {
  (void)env;
  instance *in = xcalloc(1, sizeof *in);
  *h = in;
  if (!json_str(config, "name", in->column, sizeof in->column)) return failf(in, "config has no name");
  json_int(config, "value", &in->value);
  json_str(config, "fail", in->fail, sizeof in->fail);
  json_str(config, "crash", in->crash, sizeof in->crash);
  in->crash_on_batch = 1;
  json_int(config, "crash_on_batch", &in->crash_on_batch);
  return CONVEYOR_OK;
}

static int add_column_process(void *h, struct ArrowSchema *in_schema, struct ArrowArray *in_arr,
                              struct ArrowSchema *out_schema, struct ArrowArray *out) {
  instance *in = h;
  in->batches++;
  if (in->crash[0] && in->batches == in->crash_on_batch) {
    if (strcmp(in->crash, "abort") == 0) abort();
    volatile int *volatile p = NULL;
    *p = 1; /* a real segmentation fault */
  }
  if (in->fail[0]) return failf(in, in->fail);
  if (strcmp(in_schema->format, "+s") != 0) return failf(in, "input is not a struct (record batch)");
  if (in_arr->null_count != 0) return failf(in, "input has null rows at the struct level");
  int64_t n = in_schema->n_children;
  make_schema(out_schema, "+s", "", n + 1);
  make_struct(out, in_arr->length, n + 1);
  out->offset = in_arr->offset;
  for (int64_t i = 0; i < n; i++) {
    move_schema(out_schema->children[i], in_schema->children[i]);
    move_array(out->children[i], in_arr->children[i]);
  }
  /* The parent's offset applies to every child: the new column spans it. */
  struct ArrowSchema *cs = out_schema->children[n];
  make_schema(cs, "l", in->column, 0);
  int64_t rows = in_arr->offset + in_arr->length;
  int64_t *data = make_int64(out->children[n], rows);
  for (int64_t i = 0; i < rows; i++) data[i] = in->value;
  return CONVEYOR_OK;
}

/* cexample.sequence */

static int sequence_create(const char *config, const char *env, void **h) {
  (void)env;
  instance *in = xcalloc(1, sizeof *in);
  *h = in;
  in->count = 10;
  in->batch_rows = 1024;
  json_int(config, "count", &in->count);
  json_int(config, "batch_rows", &in->batch_rows);
  if (in->batch_rows < 1) return failf(in, "batch_rows must be at least 1");
  return CONVEYOR_OK;
}

static int sequence_next(void *h, struct ArrowSchema *out_schema, struct ArrowArray *out) {
  instance *in = h;
  if (in->pos >= in->count) return CONVEYOR_END;
  int64_t rows = in->count - in->pos;
  if (rows > in->batch_rows) rows = in->batch_rows;
  make_schema(out_schema, "+s", "", 1);
  make_schema(out_schema->children[0], "l", "n", 0);
  make_struct(out, rows, 1);
  int64_t *data = make_int64(out->children[0], rows);
  for (int64_t i = 0; i < rows; i++) data[i] = in->pos + i;
  in->pos += rows;
  return CONVEYOR_OK;
}

/* cexample.sum */

static int sum_create(const char *config, const char *env, void **h) {
  instance *in = xcalloc(1, sizeof *in);
  *h = in;
  char path[4096], base[4096] = "";
  if (!json_str(config, "column", in->column, sizeof in->column)) return failf(in, "config has no column");
  if (!json_str(config, "path", path, sizeof path)) return failf(in, "config has no path");
  json_str(env, "base_dir", base, sizeof base);
  if (path[0] != '/' && base[0])
    snprintf(in->path, sizeof in->path, "%s/%s", base, path);
  else
    snprintf(in->path, sizeof in->path, "%s", path);
  snprintf(in->tmp, sizeof in->tmp, "%s.tmp", in->path);
  return CONVEYOR_OK;
}

static int sum_process(void *h, struct ArrowSchema *in_schema, struct ArrowArray *in_arr,
                       struct ArrowSchema *out_schema, struct ArrowArray *out) {
  (void)out_schema;
  (void)out;
  instance *in = h;
  for (int64_t c = 0; c < in_schema->n_children; c++) {
    struct ArrowSchema *cs = in_schema->children[c];
    if (cs->name == NULL || strcmp(cs->name, in->column) != 0) continue;
    if (strcmp(cs->format, "l") != 0) {
      snprintf(in->error, sizeof in->error, "column %s is not int64 (format %s)", in->column, cs->format);
      return CONVEYOR_ERROR;
    }
    struct ArrowArray *col = in_arr->children[c];
    const uint8_t *valid = col->buffers[0];
    const int64_t *data = col->buffers[1];
    int64_t off = col->offset + in_arr->offset;
    for (int64_t i = 0; i < in_arr->length; i++) {
      int64_t j = off + i;
      if (valid != NULL && !((valid[j >> 3] >> (j & 7)) & 1)) continue;
      in->sum += data[j];
    }
    return CONVEYOR_OK; /* the input stays the host's: it releases it */
  }
  snprintf(in->error, sizeof in->error, "no column %s in the input", in->column);
  return CONVEYOR_ERROR;
}

static int sum_flush(void *h, struct ArrowSchema *out_schema, struct ArrowArray *out) {
  (void)out_schema;
  (void)out;
  instance *in = h;
  FILE *f = fopen(in->tmp, "w");
  if (f == NULL) {
    snprintf(in->error, sizeof in->error, "cannot create %s", in->tmp);
    return CONVEYOR_ERROR;
  }
  fprintf(f, "%lld\n", in->sum);
  if (fclose(f) != 0 || rename(in->tmp, in->path) != 0) {
    snprintf(in->error, sizeof in->error, "cannot write %s", in->path);
    return CONVEYOR_ERROR;
  }
  in->committed = 1;
  return CONVEYOR_OK;
}

/* cexample.allocations */

static int allocations_create(const char *config, const char *env, void **h) {
  (void)config;
  (void)env;
  *h = xcalloc(1, sizeof(instance));
  return CONVEYOR_OK;
}

static int allocations_next(void *h, struct ArrowSchema *out_schema, struct ArrowArray *out) {
  instance *in = h;
  if (in->emitted) return CONVEYOR_END;
  in->emitted = 1;
  /* The count excludes this instance and the batch being built. */
  int64_t live = __atomic_load_n(&live_blocks, __ATOMIC_RELAXED) - 1;
  make_schema(out_schema, "+s", "", 1);
  make_schema(out_schema->children[0], "l", "live", 0);
  make_struct(out, 1, 1);
  make_int64(out->children[0], 1)[0] = live;
  return CONVEYOR_OK;
}

/* ---- the declaration ---- */

static const char add_column_spec[] =
#ifdef CEXAMPLE_BAD_METADATA
    "{\"name\": \"cexample.add_column\", \"kind\": ";
#else
    "{\"name\": \"cexample.add_column\", \"kind\": \"transform\","
    " \"summary\": \"Append an int64 column holding a constant (a C plugin example).\","
    " \"description\": \"Passes every input column through without copying it (the columns are"
    " moved across the Arrow C Data Interface) and appends the column `name` holding `value` in"
    " every row. For tests it can fail (`fail`) or crash the process (`crash`) on a chosen batch.\","
    " \"tags\": [\"example\"],"
    " \"params\": ["
    "  {\"name\": \"name\", \"type\": \"str\", \"default\": \"plugin_value\", \"doc\": \"Name of the appended column.\"},"
    "  {\"name\": \"value\", \"type\": \"int\", \"default\": 1, \"doc\": \"Value of the appended column.\"},"
    "  {\"name\": \"fail\", \"type\": \"str\", \"doc\": \"When set, every batch fails with this message.\"},"
    "  {\"name\": \"crash\", \"type\": \"str\", \"allowed\": [\"segfault\", \"abort\"],"
    "   \"doc\": \"Crash the process on batch crash_on_batch of each instance (for isolation tests).\"},"
    "  {\"name\": \"crash_on_batch\", \"type\": \"int\", \"default\": 1, \"min\": 1,"
    "   \"doc\": \"Which batch of an instance crashes (1 = the first).\"}"
    " ],"
    " \"examples\": [{\"title\": \"Tag every row\", \"config\": \"name = \\\"source\\\"\\nvalue = 7\","
    "   \"input\": \"{\\\"id\\\":1}\\n{\\\"id\\\":2}\\n\","
    "   \"output\": \"{\\\"id\\\":1,\\\"source\\\":7}\\n{\\\"id\\\":2,\\\"source\\\":7}\\n\"}]"
    "}";
#endif

static const char sequence_spec[] =
    "{\"name\": \"cexample.sequence\", \"kind\": \"source\","
    " \"summary\": \"Emit the int64 column n = 0, 1, 2, ... (a C plugin example).\","
    " \"description\": \"Emits `count` rows of one int64 column `n` counting from 0, in batches"
    " of `batch_rows` rows.\","
    " \"params\": ["
    "  {\"name\": \"count\", \"type\": \"int\", \"default\": 10, \"min\": 0, \"doc\": \"Rows to emit.\"},"
    "  {\"name\": \"batch_rows\", \"type\": \"int\", \"default\": 1024, \"min\": 1, \"doc\": \"Rows per batch.\"}"
    " ],"
    " \"examples\": [{\"title\": \"Three rows\", \"config\": \"count = 3\","
    "   \"output\": \"{\\\"n\\\":0}\\n{\\\"n\\\":1}\\n{\\\"n\\\":2}\\n\"}]"
    "}";

static const char sum_spec[] =
    "{\"name\": \"cexample.sum\", \"kind\": \"sink\","
    " \"summary\": \"Write the sum of an int64 column to a file (a C plugin example).\","
    " \"description\": \"Adds up the non-null values of the int64 column `column` and, when the"
    " input ends, writes the sum and a newline to `path` (written to path.tmp and renamed; a failed"
    " run leaves no file).\","
    " \"params\": ["
    "  {\"name\": \"column\", \"type\": \"str\", \"required\": true, \"doc\": \"The int64 column to add up.\"},"
    "  {\"name\": \"path\", \"type\": \"str\", \"required\": true, \"doc\": \"The file to write.\"}"
    " ],"
    " \"examples\": [{\"title\": \"Sum a column\", \"config\": \"column = \\\"x\\\"\\npath = \\\"sum.txt\\\"\","
    "   \"input\": \"{\\\"x\\\":1}\\n{\\\"x\\\":2}\\n{\\\"x\\\":39}\\n\","
    "   \"want_files\": {\"sum.txt\": \"42\\n\"}}]"
    "}";

static const char allocations_spec[] =
    "{\"name\": \"cexample.allocations\", \"kind\": \"source\","
    " \"summary\": \"Emit the number of blocks the C example plugin holds (a leak check for tests).\","
    " \"description\": \"Emits one row with the int64 column `live`: how many blocks this library"
    " has allocated and not yet freed, not counting the row itself. Once every batch the plugin"
    " emitted has been released and every instance destroyed, it is 0.\""
    "}";

static const ConveyorStage stages[] = {
    {add_column_spec, add_column_create, add_column_process, NULL, NULL, destroy, last_error},
    {sequence_spec, sequence_create, NULL, sequence_next, NULL, destroy, last_error},
    {sum_spec, sum_create, sum_process, NULL, sum_flush, destroy, last_error},
    {allocations_spec, allocations_create, NULL, allocations_next, NULL, destroy, last_error},
};

static const ConveyorPlugin plugin = {
    CEXAMPLE_API_VERSION,
    sizeof stages / sizeof stages[0],
    "cexample",
    "1.0.0",
    "Example stages written in C: a column-appending transform, a sequence source, a summing sink.",
    stages,
};

const ConveyorPlugin *conveyor_plugin_declare(void) { return &plugin; }
