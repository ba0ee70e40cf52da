/*
 * realmgw libnftables binding: nft transactions in-process, off the event loop.
 *
 * `nft -i` spends most of its CPU in libedit (one read(2) per byte, history handling); calling libnftables
 * directly costs only the parse, the netlink batch and the kernel's work. Each call runs
 * nft_run_cmd_from_buffer (one buffer = one transaction) as napi_async_work on libuv's thread pool.
 *
 * Exports (used only by src/dataplane/nft.ts, NftChannel):
 *   nftOpen(netnsPath?) -> handle            a dedicated struct nft_ctx (NFT_CTX_DEFAULT, buffered output and errors);
 *                                            with netnsPath (/run/netns/NAME) its netlink socket lives in that
 *                                            namespace (the calling thread enters it only while the ctx is made)
 *   nftRun(handle, commands, callback)       callback(ok: boolean, error: string, output: string) on the loop
 *   nftClose(handle)                         frees the ctx now, or when the run in flight completes
 * One run at a time per handle (nftRun throws while one is in flight). The ctx is freed by nftClose, or by
 * the handle's finalizer if it is collected first; a run in flight holds a reference to the handle, so the
 * finalizer never races the worker thread.
 *
 * Namespaces (netns.c): a netlink socket belongs to the network namespace of the thread that created it.
 * nft_ctx_new opens libnftables' socket, so entering the target namespace around that call is enough; the
 * thread goes back to its own namespace before nftOpen returns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>
#include <node_api.h>

#include "netns.h"
#include "nft.h"

#define NFT_MAGIC 0x4e465431u /* "NFT1" */

typedef struct nft_handle {
  uint32_t magic;
  struct nft_ctx *ctx;
  int busy;   /* a run is in flight */
  int closed; /* nftClose was called: free the ctx as soon as nothing runs */
} nft_handle;

typedef struct nft_job {
  nft_handle *h;
  napi_async_work work;
  napi_ref handle_ref; /* keeps the handle (and so h) alive while the worker uses h->ctx */
  napi_ref cb_ref;
  char *commands;
  int rc;
  char *err; /* copied from the ctx's buffers on the worker thread */
  char *out;
} nft_job;

#define THROW(env, msg)                        \
  do {                                         \
    napi_throw_type_error((env), NULL, (msg)); \
    return NULL;                               \
  } while (0)

static void free_ctx(nft_handle *h) {
  if (h->ctx) {
    nft_ctx_free(h->ctx);
    h->ctx = NULL;
  }
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  nft_handle *h = data;
  free_ctx(h); /* never busy here: a run in flight holds a reference to the handle */
  h->magic = 0;
  free(h);
}

static nft_handle *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  if (((nft_handle *)p)->magic != NFT_MAGIC) return NULL;
  return p;
}

/* nft_ctx_new in the namespace at `path` (NULL: the caller's own); on failure returns NULL with `why` set. */
static struct nft_ctx *ctx_in_netns(const char *path, char *why, size_t whylen) {
  struct nft_ctx *ctx;
  int self = rgw_netns_enter(path, why, whylen);
  if (self == -1) return NULL;
  ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  rgw_netns_leave(self);
  if (!ctx || nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    if (ctx) nft_ctx_free(ctx);
    snprintf(why, whylen, "cannot create an nft context");
    return NULL;
  }
  return ctx;
}

static napi_value js_nft_open(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], ext;
  napi_valuetype t = napi_undefined;
  char path[4096], why[512];
  const char *netns = NULL;
  nft_handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1)
      THROW(env, "nftOpen: invalid namespace path");
    netns = path;
  } else if (t != napi_undefined && t != napi_null) {
    THROW(env, "nftOpen(netnsPath?: string)");
  }
  if (!(h = calloc(1, sizeof *h))) THROW(env, "nftOpen: out of memory");
  h->magic = NFT_MAGIC;
  if (!(h->ctx = ctx_in_netns(netns, why, sizeof why))) {
    free(h);
    napi_throw_error(env, "ERR_NFT", why);
    return NULL;
  }
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    free_ctx(h);
    free(h);
    napi_throw_error(env, "ERR_NFT", "nftOpen: cannot create the handle");
    return NULL;
  }
  return ext;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

static void execute(napi_env env, void *data) {
  nft_job *j = data;
  j->rc = nft_run_cmd_from_buffer(j->h->ctx, j->commands);
  /* the getters flush and rewind the buffers, so the next run starts with empty ones */
  j->err = dup_or_empty(nft_ctx_get_error_buffer(j->h->ctx));
  j->out = dup_or_empty(nft_ctx_get_output_buffer(j->h->ctx));
}

static void complete(napi_env env, napi_status status, void *data) {
  nft_job *j = data;
  nft_handle *h = j->h;
  h->busy = 0;
  if (h->closed) free_ctx(h);
  if (status == napi_ok) {
    napi_value cb, recv, argv[3];
    if (napi_get_reference_value(env, j->cb_ref, &cb) == napi_ok && cb) {
      napi_get_undefined(env, &recv);
      napi_get_boolean(env, j->rc == 0, &argv[0]);
      napi_create_string_utf8(env, j->err ? j->err : "out of memory", NAPI_AUTO_LENGTH, &argv[1]);
      napi_create_string_utf8(env, j->out ? j->out : "", NAPI_AUTO_LENGTH, &argv[2]);
      /* an exception thrown by the callback surfaces as an uncaught exception, as for any callback */
      napi_call_function(env, recv, cb, 3, argv, NULL);
    }
  }
  napi_delete_reference(env, j->cb_ref);
  napi_delete_reference(env, j->handle_ref);
  napi_delete_async_work(env, j->work);
  free(j->commands);
  free(j->err);
  free(j->out);
  free(j);
}

static napi_value js_nft_run(napi_env env, napi_callback_info info) {
  size_t argc = 3, len = 0;
  napi_value argv[3], name;
  napi_valuetype t;
  nft_handle *h;
  nft_job *j;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || !(h = get_handle(env, argv[0]))) THROW(env, "nftRun(handle, commands, callback)");
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string) THROW(env, "nftRun: commands must be a string");
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) THROW(env, "nftRun: callback must be a function");
  if (h->closed || !h->ctx) THROW(env, "nftRun: the nft context is closed");
  if (h->busy) THROW(env, "nftRun: a run is already in flight on this context");
  if (!(j = calloc(1, sizeof *j))) THROW(env, "nftRun: out of memory");
  j->h = h;
  napi_get_value_string_utf8(env, argv[1], NULL, 0, &len);
  if (!(j->commands = malloc(len + 1))) {
    free(j);
    THROW(env, "nftRun: out of memory");
  }
  napi_get_value_string_utf8(env, argv[1], j->commands, len + 1, &len);
  napi_create_reference(env, argv[0], 1, &j->handle_ref);
  napi_create_reference(env, argv[2], 1, &j->cb_ref);
  napi_create_string_utf8(env, "realmgw:nftRun", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->cb_ref);
    napi_delete_reference(env, j->handle_ref);
    free(j->commands);
    free(j);
    napi_throw_error(env, "ERR_NFT", "nftRun: cannot queue the work");
    return NULL;
  }
  h->busy = 1;
  return NULL;
}

static napi_value js_nft_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  nft_handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !(h = get_handle(env, argv[0]))) THROW(env, "nftClose(handle)");
  h->closed = 1;
  if (!h->busy) free_ctx(h);
  return NULL;
}

void rgw_nft_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"nftOpen", js_nft_open}, {"nftRun", js_nft_run}, {"nftClose", js_nft_close}};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
