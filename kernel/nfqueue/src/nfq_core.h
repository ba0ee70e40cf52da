/*
 * realmgw NFQUEUE core: one netlink socket bound to one nfnetlink_queue queue number.
 *
 * Pure C, no Node-API: binding.c drives it from the Node event loop. Every function here is called on
 * the loop thread that owns the queue; nothing blocks except rgw_nfq_open, which waits (at most
 * RGW_NFQ_ACK_TIMEOUT_MS) for the kernel's answer to the bind request.
 *
 * Message building and parsing use libnetfilter_queue's nlmsg helpers and libmnl's attribute helpers;
 * the socket itself is a plain AF_NETLINK socket so that reads can be batched with recvmmsg(2).
 */
#ifndef RGW_NFQ_CORE_H
#define RGW_NFQ_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define RGW_NFQ_MAX_COPY 65535u
#define RGW_NFQ_MAX_BATCH 1024u
#define RGW_NFQ_ACK_TIMEOUT_MS 5000
#define RGW_NFQ_VERDICT_DROP 0u  /* NF_DROP */
#define RGW_NFQ_VERDICT_ACCEPT 1u /* NF_ACCEPT */

typedef struct rgw_nfq_config {
  uint16_t queue_num;
  uint32_t copy_bytes;    /* 1..65535: bytes of each packet copied to userspace */
  uint32_t max_queue_len; /* kernel queue length (packets waiting for a verdict) */
  int fail_open;          /* NFQA_CFG_F_FAIL_OPEN */
  uint32_t batch;         /* 1..1024: datagrams read per wake-up */
  uint32_t rcvbuf;        /* socket receive buffer in bytes; 0 = sized from max_queue_len and copy_bytes */
} rgw_nfq_config;

/* One queued packet as handed to the sink; payload points into the buffer that was parsed (a receive slot
 * of the core, valid until the next rgw_nfq_read or rgw_nfq_close, or the caller's stash copy). The sink
 * must not call back into the core. */
typedef struct rgw_nfq_pkt {
  uint32_t id;
  uint32_t length; /* full length of the packet in the kernel */
  uint32_t mark;
  uint32_t hook;
  uint32_t indev;
  uint32_t outdev;
  uint32_t hw_protocol;
  const uint8_t *payload;
  uint32_t payload_len; /* <= copy_bytes */
} rgw_nfq_pkt;

/* An error the kernel reported asynchronously (e.g. a verdict for an unknown packet id). */
typedef struct rgw_nfq_async_err {
  int err;          /* positive errno */
  int has_id;       /* the rejected message was a verdict and its packet id is known */
  uint32_t id;
  uint16_t msg_type; /* nfnetlink_queue message type of the rejected request, or 0 */
} rgw_nfq_async_err;

typedef struct rgw_nfq_sink {
  void *ctx;
  void (*packet)(void *ctx, const rgw_nfq_pkt *pkt);
  void (*async_error)(void *ctx, const rgw_nfq_async_err *err);
} rgw_nfq_sink;

typedef struct rgw_nfq {
  int fd;
  uint32_t portid;
  uint32_t seq;
  rgw_nfq_config cfg;

  size_t slot_size;      /* bytes of one receive slot (one netlink datagram) */
  uint8_t *rx;           /* batch * slot_size */
  struct mmsghdr *mmsg;  /* batch */
  struct iovec *iov;     /* batch */

  uint8_t *tx;           /* coalesced verdict messages */
  size_t tx_len, tx_cap;
  uint32_t tx_count;

  uint8_t *stash;        /* packet datagrams that arrived while waiting for the bind ack */
  size_t stash_len, stash_cap;

  uint64_t received, verdicts, errors, enobufs, truncated;
  uint64_t stashed; /* packets that arrived while rgw_nfq_open waited for the bind ack */
} rgw_nfq;

/* Error detail from rgw_nfq_open: errno value and a human-readable message. */
typedef struct rgw_nfq_open_err {
  int err;
  char msg[256];
} rgw_nfq_open_err;

/* Opens the socket, binds the queue and configures it in one request, waits for the ack.
 * Returns 0, or -1 with *oerr filled (the rgw_nfq is then left closed and freed). */
int rgw_nfq_open(rgw_nfq *q, const rgw_nfq_config *cfg, rgw_nfq_open_err *oerr);

/* true when packets that arrived during rgw_nfq_open are waiting to be delivered */
int rgw_nfq_has_stash(const rgw_nfq *q);

/* Hands over the stash (datagrams of packets that arrived during rgw_nfq_open); the caller parses it with
 * rgw_nfq_parse and frees it. Returns NULL when empty. */
uint8_t *rgw_nfq_take_stash(rgw_nfq *q, size_t *len);

/* Parses the netlink messages of a datagram (or of concatenated datagrams) into the sink. */
void rgw_nfq_parse(rgw_nfq *q, const uint8_t *buf, size_t len, const rgw_nfq_sink *sink);

/* One non-blocking recvmmsg of up to cfg.batch datagrams; each packet goes to sink->packet (payloads stay
 * valid until the next rgw_nfq_read or rgw_nfq_close).
 * Returns the number of datagrams read (0 when none was waiting), or -errno for an unexpected error
 * (ENOBUFS is counted in q->enobufs and not returned). */
int rgw_nfq_read(rgw_nfq *q, const rgw_nfq_sink *sink);

/* Adds a verdict to the coalescing buffer (sent by rgw_nfq_flush, or at once when the buffer is full).
 * Returns 0 or -errno of a failed flush. */
int rgw_nfq_verdict_defer(rgw_nfq *q, uint32_t id, uint32_t verdict, int has_mark, uint32_t mark);

/* Sends one verdict now. Returns 0 or -errno. */
int rgw_nfq_verdict_now(rgw_nfq *q, uint32_t id, uint32_t verdict, int has_mark, uint32_t mark);

/* Sends the coalesced verdicts. Returns 0 or -errno (the buffer is emptied either way). */
int rgw_nfq_flush(rgw_nfq *q);

/* Flushes verdicts, unbinds the queue, closes the socket and frees buffers. Idempotent. */
void rgw_nfq_close(rgw_nfq *q);

/* Name of an errno value ("EPERM"), never NULL. */
const char *rgw_errno_name(int err);

#endif
