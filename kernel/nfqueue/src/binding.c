/*
 * realmgw NFQUEUE binding: Node-API glue around nfq_core.
 *
 * The netlink socket is watched with a uv_poll handle on the event loop of the environment that opened
 * the queue (no threads). Each wake-up reads up to `batch` datagrams with one recvmmsg and hands every
 * packet of the wake-up to JavaScript in ONE call: onBatch(count, arrayBuffer), where arrayBuffer holds
 * count records of 8 u32 (id, length, mark, hook, indev, outdev, hwProtocol, payloadLength) followed by
 * the payloads back to back. Verdicts given while that call runs are coalesced into one sendto after it
 * returns; verdicts given at any other time are sent at once.
 *
 * Exports (used only by src/dataplane/nfqueue.ts, which validates arguments and builds the public API):
 *   open(queueNum, copyBytes, maxQueueLen, failOpen, batch, onBatch, onError?, rcvbuf?) -> handle
 *   verdict(handle, id, verdict(0 drop | 1 accept), mark?)
 *   close(handle, onClosed)     unbind + close the socket now; onClosed() once the poll handle is gone
 *   kick(handle)                read now (delivers packets that arrived while open() waited for the ack)
 *   stats(handle) -> { received, verdicts, errors, enobufs, truncated, stashed }
 *   ref(handle) / unref(handle) whether an open queue keeps the event loop alive (default: it does)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <node_api.h>
#include <uv.h>

#include "nfq_core.h"
#include "nft.h"
#include "nft_elems.h"
#include "process.h"

#define BINDING_MAGIC 0x4e465131u /* "NFQ1" */
#define META_FIELDS 8u
#define MAX_ERRS_PER_WAKEUP 64u

typedef struct binding {
  uint32_t magic;
  rgw_nfq q;
  napi_env env;
  uv_poll_t poll;
  napi_ref self_ref;     /* strong while open: an open queue is not garbage */
  napi_ref on_batch_ref;
  napi_ref on_error_ref; /* may be NULL */
  napi_ref close_cb_ref; /* may be NULL */
  napi_ref resource_ref; /* async resource of actx, kept until napi_async_destroy */
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup_hook;

  rgw_nfq_pkt *pkts; /* packets of the current wake-up */
  size_t npkts, cap_pkts;
  rgw_nfq_async_err errs[MAX_ERRS_PER_WAKEUP];
  size_t nerrs;

  int is_open;       /* bound, socket open, poll running */
  int closing;       /* begin_close has run */
  int handle_closed; /* uv_close callback has run */
  int finalized;     /* the JS handle was collected (or the environment is going away) */
  int dispatching;
  int teardown;      /* environment teardown: never call into JS */
} binding;

/* ---------- errors ---------- */

static napi_value make_error(napi_env env, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static napi_value make_error(napi_env env, int err, const char *fmt, ...) {
  char msg[384];
  va_list ap;
  int off = snprintf(msg, sizeof msg, "nfqueue: ");
  napi_value code, text, e, num;
  va_start(ap, fmt);
  vsnprintf(msg + off, sizeof msg - (size_t)off, fmt, ap);
  va_end(ap);
  napi_create_string_utf8(env, err ? rgw_errno_name(err) : "ERR_NFQUEUE", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  if (err) {
    napi_create_int32(env, err, &num);
    napi_set_named_property(env, e, "errno", num);
  }
  return e;
}

#define THROW_TYPE(env, msg)                                          \
  do {                                                                \
    napi_throw_type_error((env), "ERR_INVALID_ARG_TYPE", "nfqueue: " msg); \
    return NULL;                                                      \
  } while (0)

/* Hands an exception that JS code threw from a callback to process 'uncaughtException'. */
static void report_pending_exception(napi_env env) {
  napi_value exc;
  if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
}

/* ---------- lifetime ---------- */

static void free_if_done(binding *b) {
  if (!b->handle_closed || !b->finalized) return;
  free(b->pkts);
  b->magic = 0;
  free(b);
}

static void on_handle_closed(uv_handle_t *h) {
  binding *b = h->data;
  b->handle_closed = 1;
  if (!b->teardown) {
    napi_env env = b->env;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      if (b->close_cb_ref) {
        napi_value fn, recv;
        napi_get_reference_value(env, b->close_cb_ref, &fn);
        napi_get_global(env, &recv);
        if (fn && napi_make_callback(env, b->actx, recv, fn, 0, NULL, NULL) == napi_pending_exception)
          report_pending_exception(env);
        napi_delete_reference(env, b->close_cb_ref);
        b->close_cb_ref = NULL;
      }
      napi_close_handle_scope(env, scope);
    }
    napi_async_destroy(env, b->actx);
    b->actx = NULL;
    if (b->resource_ref) napi_delete_reference(env, b->resource_ref);
    b->resource_ref = NULL;
  }
  if (b->cleanup_hook) {
    napi_remove_async_cleanup_hook(b->cleanup_hook);
    b->cleanup_hook = NULL;
  }
  free_if_done(b);
}

/* Unbinds and closes the socket now (synchronously: the queue number is free when this returns), then
 * starts closing the poll handle. Never calls into JS. */
static void begin_close(binding *b) {
  if (b->closing) return;
  b->closing = 1;
  if (b->is_open) {
    b->is_open = 0;
    uv_poll_stop(&b->poll); /* removes the fd from epoll before it is closed */
    rgw_nfq_close(&b->q);
  }
  uv_close((uv_handle_t *)&b->poll, on_handle_closed);
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  binding *b = arg;
  (void)handle;
  b->teardown = 1;
  begin_close(b); /* on_handle_closed removes the hook */
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  binding *b = data;
  (void)env;
  (void)hint;
  b->finalized = 1;
  if (!b->closing) { /* only at environment teardown: an open queue is strongly referenced */
    b->teardown = 1;
    begin_close(b);
  }
  free_if_done(b);
}

/* ---------- delivery ---------- */

static void sink_packet(void *ctx, const rgw_nfq_pkt *pkt) {
  binding *b = ctx;
  if (b->npkts == b->cap_pkts) {
    size_t cap = b->cap_pkts ? b->cap_pkts * 2 : 64;
    rgw_nfq_pkt *p = realloc(b->pkts, cap * sizeof *p);
    if (!p) {
      b->q.errors++; /* the packet stays queued without a verdict until close */
      return;
    }
    b->pkts = p;
    b->cap_pkts = cap;
  }
  b->pkts[b->npkts++] = *pkt;
}

static void sink_error(void *ctx, const rgw_nfq_async_err *err) {
  binding *b = ctx;
  if (b->nerrs < MAX_ERRS_PER_WAKEUP) b->errs[b->nerrs++] = *err;
}

/* Calls fn(args...). From the event loop this is a make_callback (async context, microtasks drained
 * afterwards; a throw goes to 'uncaughtException'); from JS a plain call whose exception propagates.
 * Returns napi_pending_exception only in the from_js case. */
static napi_status call_js(binding *b, int from_js, napi_value fn, size_t argc, napi_value *argv) {
  napi_env env = b->env;
  napi_value recv;
  napi_status st;
  /* napi_make_callback converts its receiver with ToObject: undefined would throw */
  napi_get_global(env, &recv);
  if (from_js) return napi_call_function(env, recv, fn, argc, argv, NULL);
  st = napi_make_callback(env, b->actx, recv, fn, argc, argv, NULL);
  if (st == napi_pending_exception) report_pending_exception(env);
  return napi_ok;
}

static napi_status deliver_packets(binding *b, int from_js) {
  napi_env env = b->env;
  size_t i, total = 0, count = b->npkts, meta_bytes = count * META_FIELDS * sizeof(uint32_t);
  void *data;
  uint32_t *meta;
  uint8_t *out;
  napi_value ab, fn, argv[2];
  if (b->npkts == 0 || !b->on_batch_ref) return napi_ok;
  for (i = 0; i < b->npkts; i++) total += b->pkts[i].payload_len;
  if (napi_create_arraybuffer(env, meta_bytes + total, &data, &ab) != napi_ok) {
    b->q.errors += b->npkts;
    return napi_ok;
  }
  meta = data;
  out = (uint8_t *)data + meta_bytes;
  for (i = 0; i < b->npkts; i++) {
    const rgw_nfq_pkt *p = &b->pkts[i];
    uint32_t *m = meta + i * META_FIELDS;
    m[0] = p->id;
    m[1] = p->length;
    m[2] = p->mark;
    m[3] = p->hook;
    m[4] = p->indev;
    m[5] = p->outdev;
    m[6] = p->hw_protocol;
    m[7] = p->payload_len;
    if (p->payload_len) memcpy(out, p->payload, p->payload_len);
    out += p->payload_len;
  }
  b->npkts = 0; /* payload pointers are dead from here on: JS may close the queue */
  napi_get_reference_value(env, b->on_batch_ref, &fn);
  napi_create_uint32(env, (uint32_t)count, &argv[0]);
  argv[1] = ab;
  return call_js(b, from_js, fn, 2, argv);
}

static napi_value async_error_value(napi_env env, const rgw_nfq_async_err *ae, uint16_t queue) {
  if (ae->has_id)
    return make_error(env, ae->err, "queue %u: the kernel rejected the verdict for packet %u: %s (%s)", queue,
                      ae->id, strerror(ae->err), rgw_errno_name(ae->err));
  return make_error(env, ae->err, "queue %u: the kernel rejected a request (type %u): %s (%s)", queue,
                    ae->msg_type, strerror(ae->err), rgw_errno_name(ae->err));
}

/* onError(err); a throw from onError always goes to 'uncaughtException'. */
static void deliver_error(binding *b, napi_value err) {
  napi_value fn;
  if (!b->on_error_ref || b->closing) return;
  napi_get_reference_value(b->env, b->on_error_ref, &fn);
  (void)call_js(b, 0, fn, 1, &err);
}

/* Reads what is waiting and delivers it. Returns napi_pending_exception when from_js and onBatch threw. */
static napi_status dispatch(binding *b, int from_js) {
  rgw_nfq_sink sink = {b, sink_packet, sink_error};
  uint8_t *stash;
  size_t stash_len = 0, i;
  int rc;
  napi_status st;
  uint16_t queue = b->q.cfg.queue_num;

  if (!b->is_open || b->dispatching) return napi_ok;
  b->dispatching = 1;
  b->npkts = 0;
  b->nerrs = 0;
  stash = rgw_nfq_take_stash(&b->q, &stash_len);
  if (stash) rgw_nfq_parse(&b->q, stash, stash_len, &sink);
  rc = rgw_nfq_read(&b->q, &sink);
  st = deliver_packets(b, from_js);
  free(stash);
  b->dispatching = 0;

  if (b->is_open) {
    int frc = rgw_nfq_flush(&b->q);
    if (frc < 0 && b->on_error_ref)
      deliver_error(b,
                    make_error(b->env, -frc, "queue %u: sending verdicts failed: %s (%s)", queue, strerror(-frc),
                               rgw_errno_name(-frc)));
  }
  if (st == napi_pending_exception) return st;
  if (rc < 0 && b->on_error_ref)
    deliver_error(b,
                  make_error(b->env, -rc, "queue %u: receive failed: %s (%s)", queue, strerror(-rc),
                             rgw_errno_name(-rc)));
  for (i = 0; i < b->nerrs && b->on_error_ref; i++)
    deliver_error(b, async_error_value(b->env, &b->errs[i], queue));
  b->nerrs = 0;
  return napi_ok;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  binding *b = h->data;
  napi_handle_scope scope;
  (void)events;
  if (!b->is_open || b->teardown) return;
  if (napi_open_handle_scope(b->env, &scope) != napi_ok) return;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF and stops the handle. On this socket POLLERR means a pending socket
     * error, in practice ENOBUFS (the kernel dropped messages for us): take it (SO_ERROR clears it), read
     * what is waiting and poll again. Only a failing getsockopt means the descriptor is really unusable. */
    int err = 0, rc;
    socklen_t len = sizeof err;
    if (getsockopt(b->q.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
      b->q.errors++;
      deliver_error(b, make_error(b->env, errno, "queue %u: socket unusable: %s (%s)", b->q.cfg.queue_num,
                                  strerror(errno), rgw_errno_name(errno)));
    } else {
      if (err == ENOBUFS) {
        b->q.enobufs++;
      } else if (err != 0) {
        b->q.errors++;
        deliver_error(b, make_error(b->env, err, "queue %u: socket error: %s (%s)", b->q.cfg.queue_num,
                                    strerror(err), rgw_errno_name(err)));
      }
      (void)dispatch(b, 0);
      if (b->is_open && (rc = uv_poll_start(&b->poll, UV_READABLE, on_poll)) != 0) {
        b->q.errors++;
        deliver_error(b, make_error(b->env, 0, "queue %u: cannot poll again: %s", b->q.cfg.queue_num, uv_strerror(rc)));
      }
    }
  } else {
    (void)dispatch(b, 0);
  }
  napi_close_handle_scope(b->env, scope);
}

/* ---------- argument helpers ---------- */

static binding *get_binding(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  if (((binding *)p)->magic != BINDING_MAGIC) return NULL;
  return p;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

static int is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == want;
}

/* ---------- exported functions ---------- */

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8], ext = NULL, name, resource;
  rgw_nfq_config cfg;
  rgw_nfq_open_err oerr;
  uint32_t queue_num;
  bool fail_open = false;
  binding *b;
  uv_loop_t *loop;
  int rc;

  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) THROW_TYPE(env, "open(queueNum, copyBytes, maxQueueLen, failOpen, batch, onBatch, onError?, rcvbuf?)");
  memset(&cfg, 0, sizeof cfg);
  if (!get_u32(env, argv[0], &queue_num) || queue_num > 65535) THROW_TYPE(env, "queueNum must be an integer 0..65535");
  if (!get_u32(env, argv[1], &cfg.copy_bytes) || cfg.copy_bytes < 1 || cfg.copy_bytes > RGW_NFQ_MAX_COPY)
    THROW_TYPE(env, "copyBytes must be an integer 1..65535");
  if (!get_u32(env, argv[2], &cfg.max_queue_len) || cfg.max_queue_len < 1)
    THROW_TYPE(env, "maxQueueLen must be a positive integer");
  if (!is_type(env, argv[3], napi_boolean)) THROW_TYPE(env, "failOpen must be a boolean");
  napi_get_value_bool(env, argv[3], &fail_open);
  if (!get_u32(env, argv[4], &cfg.batch) || cfg.batch < 1 || cfg.batch > RGW_NFQ_MAX_BATCH)
    THROW_TYPE(env, "batch must be an integer 1..1024");
  if (!is_type(env, argv[5], napi_function)) THROW_TYPE(env, "onBatch must be a function");
  if (argc > 6 && !is_type(env, argv[6], napi_function) && !is_type(env, argv[6], napi_undefined))
    THROW_TYPE(env, "onError must be a function or undefined");
  if (argc > 7 && !is_type(env, argv[7], napi_undefined) && !get_u32(env, argv[7], &cfg.rcvbuf))
    THROW_TYPE(env, "rcvbuf must be an integer 0..2^32-1");
  cfg.queue_num = (uint16_t)queue_num;
  cfg.fail_open = fail_open ? 1 : 0;

  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, "ERR_NFQUEUE", "nfqueue: no event loop");
    return NULL;
  }
  b = calloc(1, sizeof *b);
  if (!b) {
    napi_throw(env, make_error(env, ENOMEM, "out of memory"));
    return NULL;
  }
  b->magic = BINDING_MAGIC;
  b->env = env;
  if (rgw_nfq_open(&b->q, &cfg, &oerr) < 0) {
    napi_throw(env, make_error(env, oerr.err, "%s", oerr.msg));
    free(b);
    return NULL;
  }
  rc = uv_poll_init(loop, &b->poll, b->q.fd);
  if (rc == 0) {
    b->poll.data = b;
    rc = uv_poll_start(&b->poll, UV_READABLE, on_poll);
    if (rc != 0) {
      /* the handle is initialised: it must go through uv_close */
      b->is_open = 1;
      b->finalized = 1;
      b->teardown = 1;
      begin_close(b);
      napi_throw(env, make_error(env, 0, "queue %u: uv_poll_start failed: %s", queue_num, uv_strerror(rc)));
      return NULL;
    }
  } else {
    rgw_nfq_close(&b->q);
    free(b);
    napi_throw(env, make_error(env, 0, "queue %u: uv_poll_init failed: %s", queue_num, uv_strerror(rc)));
    return NULL;
  }
  b->is_open = 1;

  /* The async resource must be an object (an external is not one): a plain {} kept alive by a reference. */
  if (napi_create_external(env, b, finalize_handle, NULL, &ext) != napi_ok ||
      napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "NfQueue", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, resource, 1, &b->resource_ref) != napi_ok ||
      napi_async_init(env, resource, name, &b->actx) != napi_ok ||
      napi_create_reference(env, ext, 1, &b->self_ref) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &b->on_batch_ref) != napi_ok ||
      (argc > 6 && is_type(env, argv[6], napi_function) &&
       napi_create_reference(env, argv[6], 1, &b->on_error_ref) != napi_ok) ||
      napi_add_async_cleanup_hook(env, on_env_teardown, b, &b->cleanup_hook) != napi_ok) {
    /* practically unreachable (out of memory); leaves the JS exception, if any, pending */
    b->teardown = 1;
    if (!ext) b->finalized = 1;
    begin_close(b);
    return NULL;
  }
  return ext;
}

static napi_value js_verdict(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  binding *b;
  uint32_t id, verdict, mark = 0;
  int has_mark = 0, rc;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3 || !(b = get_binding(env, argv[0]))) THROW_TYPE(env, "verdict(handle, id, verdict, mark?)");
  if (!get_u32(env, argv[1], &id)) THROW_TYPE(env, "packet id must be an integer 0..2^32-1");
  if (!get_u32(env, argv[2], &verdict) || (verdict != RGW_NFQ_VERDICT_ACCEPT && verdict != RGW_NFQ_VERDICT_DROP))
    THROW_TYPE(env, "verdict must be 0 (drop) or 1 (accept)");
  if (argc > 3 && !is_type(env, argv[3], napi_undefined)) {
    if (!get_u32(env, argv[3], &mark)) THROW_TYPE(env, "mark must be an integer 0..2^32-1");
    has_mark = 1;
  }
  if (!b->is_open) {
    napi_throw(env, make_error(env, EBADF, "queue %u is closed: no verdict for packet %u", b->q.cfg.queue_num, id));
    return NULL;
  }
  rc = b->dispatching ? rgw_nfq_verdict_defer(&b->q, id, verdict, has_mark, mark)
                      : rgw_nfq_verdict_now(&b->q, id, verdict, has_mark, mark);
  if (rc < 0) {
    napi_throw(env, make_error(env, -rc, "queue %u: sending the verdict for packet %u failed: %s (%s)",
                               b->q.cfg.queue_num, id, strerror(-rc), rgw_errno_name(-rc)));
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  binding *b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !(b = get_binding(env, argv[0]))) THROW_TYPE(env, "close(handle, onClosed?)");
  if (b->closing) return NULL; /* idempotent; the wrapper shares one promise */
  if (argc > 1 && is_type(env, argv[1], napi_function)) napi_create_reference(env, argv[1], 1, &b->close_cb_ref);
  if (b->on_batch_ref) napi_delete_reference(env, b->on_batch_ref);
  if (b->on_error_ref) napi_delete_reference(env, b->on_error_ref);
  if (b->self_ref) napi_delete_reference(env, b->self_ref);
  b->on_batch_ref = b->on_error_ref = b->self_ref = NULL;
  begin_close(b);
  return NULL;
}

static napi_value js_kick(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  binding *b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !(b = get_binding(env, argv[0]))) THROW_TYPE(env, "kick(handle)");
  (void)dispatch(b, 1); /* an onBatch exception stays pending and propagates to the caller */
  return NULL;
}

static void set_num(napi_env env, napi_value obj, const char *key, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, key, n);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], obj;
  binding *b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !(b = get_binding(env, argv[0]))) THROW_TYPE(env, "stats(handle)");
  napi_create_object(env, &obj);
  set_num(env, obj, "received", (double)b->q.received);
  set_num(env, obj, "verdicts", (double)b->q.verdicts);
  set_num(env, obj, "errors", (double)b->q.errors);
  set_num(env, obj, "enobufs", (double)b->q.enobufs);
  set_num(env, obj, "truncated", (double)b->q.truncated);
  set_num(env, obj, "stashed", (double)b->q.stashed);
  return obj;
}

static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  binding *b;
  bool on = true;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || !(b = get_binding(env, argv[0])) || !is_type(env, argv[1], napi_boolean))
    THROW_TYPE(env, "ref(handle, boolean)");
  napi_get_value_bool(env, argv[1], &on);
  if (!b->closing) {
    if (on)
      uv_ref((uv_handle_t *)&b->poll);
    else
      uv_unref((uv_handle_t *)&b->poll);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  rgw_nft_register(env, exports);
  rgw_elems_register(env, exports);
  rgw_process_register(env, exports);
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"open", js_open},   {"verdict", js_verdict}, {"close", js_close},
             {"kick", js_kick},   {"stats", js_stats},     {"ref", js_ref}};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}
