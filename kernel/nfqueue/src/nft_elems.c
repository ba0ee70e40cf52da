/*
 * realmgw set-element transactions straight to nf_tables (libnftnl + libmnl), off the event loop.
 *
 * libnftables re-reads the whole ruleset (every table, chain, set and object of every family) before any
 * command that follows a committed change, so each reservation paid 0.1-0.6 ms for a cache it did not need.
 * A set-element batch built directly costs one sendmsg and one recv: ~6-10 us (measured in a namespace).
 *
 * Exports (used by src/dataplane/nft-elements.ts):
 *   elemsOpen(netnsPath?) -> handle           a NETLINK_NETFILTER socket, opened inside that namespace if given
 *   elemsRun(handle, table, ops, callback)    ops: Buffer of records (below), ONE transaction;
 *                                             callback(ok: boolean, errno: number, message: string)
 *   elemsClose(handle)                        closes now, or when the run in flight completes
 * Record: u8 kind (1 add, 2 delete; | 0x80: a key end follows the key), u8 set name length, name, u8 key length,
 * key, [u8 key end length, key end: interval sets, e.g. a concatenation with a prefix], u8 data length (0 or 4),
 * data, u32 little-endian timeout in ms (0: none). One run at a time per handle.
 *
 * A batch is all-or-nothing; the kernel acks every message that parsed even when a later one fails and the
 * batch is rolled back, so success means "no error reply at all", and an error on the batch-begin message
 * (permissions, commit failure) may be the only reply.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <node_api.h>

#include "netns.h"
#include "nft_elems.h"

#define ELEMS_MAGIC 0x454c4d31u /* "ELM1" */
#define MAX_OPS 4096

typedef struct elems_handle {
  uint32_t magic;
  struct mnl_socket *nl;
  uint32_t seq;
  int busy;
  int closed;
} elems_handle;

typedef struct elems_job {
  elems_handle *h;
  napi_async_work work;
  napi_ref handle_ref;
  napi_ref cb_ref;
  char *table;
  uint8_t *ops;
  size_t ops_len;
  int err; /* 0 or a positive errno */
  char msg[256];
} elems_job;

#define THROW(env, msg)                        \
  do {                                         \
    napi_throw_type_error((env), NULL, (msg)); \
    return NULL;                               \
  } while (0)

static void close_socket(elems_handle *h) {
  if (h->nl) {
    mnl_socket_close(h->nl);
    h->nl = NULL;
  }
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  elems_handle *h = data;
  close_socket(h);
  h->magic = 0;
  free(h);
}

static elems_handle *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) return NULL;
  return ((elems_handle *)p)->magic == ELEMS_MAGIC ? p : NULL;
}

/* The socket is opened inside the namespace at `path` (NULL: the caller's own). */
static struct mnl_socket *open_in_netns(const char *path, char *why, size_t whylen) {
  struct mnl_socket *nl;
  int one = 1, self = rgw_netns_enter(path, why, whylen);
  if (self == -1) return NULL;
  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl);
    nl = NULL;
  }
  rgw_netns_leave(self);
  if (!nl) {
    snprintf(why, whylen, "cannot open a netfilter netlink socket: %s", strerror(errno));
    return NULL;
  }
  /* acks without a copy of each request: a merged batch of hundreds of elements stays a few kilobytes */
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
  return nl;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1], ext;
  napi_valuetype t = napi_undefined;
  char path[4096], why[512];
  elems_handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1)
      THROW(env, "elemsOpen: invalid namespace path");
  } else if (t != napi_undefined && t != napi_null) {
    THROW(env, "elemsOpen(netnsPath?: string)");
  }
  if (!(h = calloc(1, sizeof *h))) THROW(env, "elemsOpen: out of memory");
  h->magic = ELEMS_MAGIC;
  h->seq = (uint32_t)time(NULL);
  if (!(h->nl = open_in_netns(t == napi_string ? path : NULL, why, sizeof why))) {
    free(h);
    napi_throw_error(env, "ERR_NFT", why);
    return NULL;
  }
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    close_socket(h);
    free(h);
    napi_throw_error(env, "ERR_NFT", "elemsOpen: cannot create the handle");
    return NULL;
  }
  return ext;
}

static void fail(elems_job *j, int err, const char *what) {
  j->err = err;
  snprintf(j->msg, sizeof j->msg, "%s: %s", what, strerror(err));
}

static void execute(napi_env env, void *data) {
  elems_job *j = data;
  elems_handle *h = j->h;
  /* a record of ~30 bytes becomes a message of ~110: room for every one, so no message is ever cut off */
  size_t cap = 4096 + j->ops_len * 8;
  char *buf = malloc(cap);
  char rbuf[MNL_SOCKET_BUFFER_SIZE];
  struct mnl_nlmsg_batch *b;
  uint32_t begin, last = 0;
  size_t at = 0;
  int count = 0, done = 0;
  if (!buf) return fail(j, ENOMEM, "building the batch");
  b = mnl_nlmsg_batch_start(buf, cap);
  begin = h->seq;
  nftnl_batch_begin(mnl_nlmsg_batch_current(b), h->seq++);
  mnl_nlmsg_batch_next(b);
  while (at < j->ops_len) {
    uint8_t kind, nlen, klen, elen = 0, dlen;
    const uint8_t *name, *key, *kend = NULL, *val;
    uint32_t timeout;
    char set[256];
    struct nftnl_set *s;
    struct nftnl_set_elem *e;
    struct nlmsghdr *nlh;
    if (at + 2 > j->ops_len) goto malformed;
    kind = j->ops[at++];
    nlen = j->ops[at++];
    if (at + nlen + 1 > j->ops_len) goto malformed;
    name = j->ops + at;
    at += nlen;
    klen = j->ops[at++];
    if (at + klen + 1 > j->ops_len) goto malformed;
    key = j->ops + at;
    at += klen;
    if (kind & 0x80) {
      elen = j->ops[at++];
      if (at + elen + 1 > j->ops_len || elen != klen) goto malformed;
      kend = j->ops + at;
      at += elen;
      kind &= 0x7f;
    }
    dlen = j->ops[at++];
    if (at + dlen + 4 > j->ops_len) goto malformed;
    val = j->ops + at;
    at += dlen;
    timeout = (uint32_t)j->ops[at] | (uint32_t)j->ops[at + 1] << 8 | (uint32_t)j->ops[at + 2] << 16 | (uint32_t)j->ops[at + 3] << 24;
    at += 4;
    if ((kind != 1 && kind != 2) || nlen == 0 || klen == 0 || ++count > MAX_OPS) goto malformed;
    memcpy(set, name, nlen);
    set[nlen] = 0;
    s = nftnl_set_alloc();
    e = nftnl_set_elem_alloc();
    if (!s || !e) {
      if (s) nftnl_set_free(s);
      if (e) nftnl_set_elem_free(e);
      free(buf);
      return fail(j, ENOMEM, "building the batch");
    }
    nftnl_set_set_str(s, NFTNL_SET_TABLE, j->table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, set);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, klen);
    if (kend) nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, kend, elen);
    if (dlen) nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, val, dlen);
    if (timeout) nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, timeout);
    nftnl_set_elem_add(s, e);
    last = h->seq;
    nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), kind == 1 ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, NFPROTO_IPV4,
                                (kind == 1 ? NLM_F_CREATE : 0) | NLM_F_ACK, h->seq++);
    nftnl_set_elems_nlmsg_build_payload(nlh, s);
    nftnl_set_free(s);
    mnl_nlmsg_batch_next(b);
  }
  if (count == 0) goto malformed;
  nftnl_batch_end(mnl_nlmsg_batch_current(b), h->seq++);
  mnl_nlmsg_batch_next(b);
  if (mnl_socket_sendto(h->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
    int err = errno;
    mnl_nlmsg_batch_stop(b);
    free(buf);
    return fail(j, err, "sending the batch");
  }
  mnl_nlmsg_batch_stop(b);
  free(buf);
  while (!done) {
    ssize_t n = mnl_socket_recvfrom(h->nl, rbuf, sizeof rbuf);
    struct nlmsghdr *r = (struct nlmsghdr *)rbuf;
    int left;
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(j, errno, "reading the kernel's answer");
    }
    left = (int)n;
    while (mnl_nlmsg_ok(r, left)) {
      if (r->nlmsg_type == NLMSG_ERROR && r->nlmsg_seq >= begin && r->nlmsg_seq <= last) {
        const struct nlmsgerr *er = mnl_nlmsg_get_payload(r);
        if (er->error && !j->err) fail(j, -er->error, "nf_tables refused the transaction");
        if (r->nlmsg_seq == last || (r->nlmsg_seq == begin && er->error)) done = 1;
      }
      r = mnl_nlmsg_next(r, &left);
    }
  }
  return;
malformed:
  mnl_nlmsg_batch_stop(b);
  free(buf);
  fail(j, EINVAL, "malformed element records");
}

static void complete(napi_env env, napi_status status, void *data) {
  elems_job *j = data;
  elems_handle *h = j->h;
  h->busy = 0;
  if (h->closed) close_socket(h);
  if (status == napi_ok) {
    napi_value cb, recv, argv[3];
    if (napi_get_reference_value(env, j->cb_ref, &cb) == napi_ok && cb) {
      napi_get_undefined(env, &recv);
      napi_get_boolean(env, j->err == 0, &argv[0]);
      napi_create_int32(env, j->err, &argv[1]);
      napi_create_string_utf8(env, j->msg, NAPI_AUTO_LENGTH, &argv[2]);
      napi_call_function(env, recv, cb, 3, argv, NULL);
    }
  }
  napi_delete_reference(env, j->cb_ref);
  napi_delete_reference(env, j->handle_ref);
  napi_delete_async_work(env, j->work);
  free(j->table);
  free(j->ops);
  free(j);
}

static napi_value js_run(napi_env env, napi_callback_info info) {
  size_t argc = 4, len = 0;
  napi_value argv[4], name;
  napi_valuetype t;
  bool is_buffer = false;
  void *data = NULL;
  size_t data_len = 0;
  elems_handle *h;
  elems_job *j;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4 || !(h = get_handle(env, argv[0]))) THROW(env, "elemsRun(handle, table, ops, callback)");
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string) THROW(env, "elemsRun: table must be a string");
  if (napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer) THROW(env, "elemsRun: ops must be a Buffer");
  if (napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function) THROW(env, "elemsRun: callback must be a function");
  if (h->closed || !h->nl) THROW(env, "elemsRun: the handle is closed");
  if (h->busy) THROW(env, "elemsRun: a run is already in flight on this handle");
  napi_get_buffer_info(env, argv[2], &data, &data_len);
  if (!(j = calloc(1, sizeof *j))) THROW(env, "elemsRun: out of memory");
  napi_get_value_string_utf8(env, argv[1], NULL, 0, &len);
  j->table = malloc(len + 1);
  j->ops = malloc(data_len ? data_len : 1);
  if (!j->table || !j->ops) {
    free(j->table);
    free(j->ops);
    free(j);
    THROW(env, "elemsRun: out of memory");
  }
  napi_get_value_string_utf8(env, argv[1], j->table, len + 1, &len);
  memcpy(j->ops, data, data_len);
  j->ops_len = data_len;
  j->h = h;
  napi_create_reference(env, argv[0], 1, &j->handle_ref);
  napi_create_reference(env, argv[3], 1, &j->cb_ref);
  napi_create_string_utf8(env, "realmgw:elemsRun", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    if (j->work) napi_delete_async_work(env, j->work);
    napi_delete_reference(env, j->cb_ref);
    napi_delete_reference(env, j->handle_ref);
    free(j->table);
    free(j->ops);
    free(j);
    napi_throw_error(env, "ERR_NFT", "elemsRun: cannot queue the work");
    return NULL;
  }
  h->busy = 1;
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  elems_handle *h;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !(h = get_handle(env, argv[0]))) THROW(env, "elemsClose(handle)");
  h->closed = 1;
  if (!h->busy) close_socket(h);
  return NULL;
}

void rgw_elems_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"elemsOpen", js_open}, {"elemsRun", js_run}, {"elemsClose", js_close}};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
