/*
 * realmgw process helpers for running as a service: two system calls Node does not offer.
 *
 * Exports (used only by src/ops/systemd.ts and src/ops/instance-lock.ts):
 *   sdNotify(socketPath, message)   one datagram to systemd's notification socket (sd_notify(3)); a path that
 *                                   starts with '@' names an abstract socket. Throws (code = errno name) on failure.
 *   flockTry(fd) -> boolean         flock(fd, LOCK_EX | LOCK_NB): true when taken, false when another open file
 *                                   description holds it (EWOULDBLOCK). Throws on any other error.
 *
 * Why here: Node has no Unix datagram sockets, and the `systemd-notify` binary sends from its own pid, which
 * systemd drops unless the unit says NotifyAccess=all. Node has no flock either; an flock lock belongs to the
 * open file description, so the kernel releases it when the process dies, however it dies: no stale locks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>

#include "nfq_core.h"
#include "process.h"

#define MAX_MESSAGE 4096

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  napi_value code, text, e;
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, rgw_errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &e);
  napi_throw(env, e);
  return NULL;
}

/* Copies a JS string argument into buf (NUL-terminated); returns its length, or -1 if it is no string or too long. */
static ssize_t string_arg(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= cap) return -1;
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return (ssize_t)len;
}

static napi_value js_sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char msg[MAX_MESSAGE];
  struct sockaddr_un addr;
  ssize_t plen, mlen, sent;
  socklen_t alen;
  int fd, err;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || (plen = string_arg(env, argv[0], path, sizeof path)) < 2 ||
      (mlen = string_arg(env, argv[1], msg, sizeof msg)) < 0) {
    napi_throw_type_error(env, NULL, "sdNotify(socketPath, message): a socket path (/... or @...) and a message under 4 KiB");
    return NULL;
  }
  if (path[0] != '/' && path[0] != '@') {
    napi_throw_type_error(env, NULL, "sdNotify: the socket path must start with '/' or '@'");
    return NULL;
  }
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  /* A path needs room for its NUL; an abstract name's '@' becomes the leading NUL. */
  if ((size_t)plen + (path[0] == '@' ? 0 : 1) > sizeof addr.sun_path) return throw_errno(env, ENAMETOOLONG, "sdNotify");
  memcpy(addr.sun_path, path, (size_t)plen);
  /* Abstract namespace: a leading NUL, and the address length counts exactly the name's bytes. */
  if (path[0] == '@') addr.sun_path[0] = '\0';
  alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)plen + (path[0] == '@' ? 0 : 1));
  if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) return throw_errno(env, errno, "sdNotify: socket");
  sent = sendto(fd, msg, (size_t)mlen, MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
  err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, err, "sdNotify: sendto");
  return NULL;
}

static napi_value js_flock_try(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd = -1;
  napi_valuetype t;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_number ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "flockTry(fd)");
    return NULL;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    napi_get_boolean(env, true, &result);
    return result;
  }
  if (errno != EWOULDBLOCK) return throw_errno(env, errno, "flock");
  napi_get_boolean(env, false, &result);
  return result;
}

void rgw_process_register(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"sdNotify", js_sd_notify}, {"flockTry", js_flock_try}};
  size_t i;
  for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
}
