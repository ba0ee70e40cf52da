#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netns.h"

int rgw_netns_enter(const char *path, char *why, size_t whylen) {
  int self, target;
  if (!path) return -2;
  if ((self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
    snprintf(why, whylen, "cannot open this thread's network namespace: %s", strerror(errno));
    return -1;
  }
  if ((target = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(target, CLONE_NEWNET) != 0) {
    snprintf(why, whylen, "cannot enter network namespace %.256s: %s", path, strerror(errno));
    if (target >= 0) close(target);
    close(self);
    return -1;
  }
  close(target);
  return self;
}

void rgw_netns_leave(int self) {
  if (self < 0) return;
  /* Staying in the other namespace would move everything this thread (Node's main thread) opens later. */
  if (setns(self, CLONE_NEWNET) != 0) abort();
  close(self);
}
