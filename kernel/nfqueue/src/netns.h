/* Entering a network namespace around the creation of a netlink socket (src/netns.c). */
#ifndef RGW_NETNS_H
#define RGW_NETNS_H
#include <stddef.h>

/*
 * A netlink socket belongs to the namespace of the thread that opened it, for life. rgw_netns_enter moves the
 * calling thread into the namespace at `path` (a /run/netns/NAME file) and returns a descriptor of the one it
 * left, or -1 with `why` filled; rgw_netns_leave(fd) goes back. With path NULL both do nothing (fd -2).
 */
int rgw_netns_enter(const char *path, char *why, size_t whylen);
void rgw_netns_leave(int self);

#endif
