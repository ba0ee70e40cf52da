/*
 * realmgw NFQUEUE core (see nfq_core.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nfq_core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define NFQ_MSG(type) ((uint16_t)((NFNL_SUBSYS_QUEUE << 8) | (type)))
/* Room for every attribute the kernel may put around the payload (packet header, mark, timestamp,
 * interfaces, hardware address, VLAN, skb info, cap length, uid/gid): well under 1 KiB. */
#define SLOT_OVERHEAD 1024u
#define TX_CAP (32u * 1024u)
#define VERDICT_MSG_MAX 64u /* nlmsghdr 16 + nfgenmsg 4 + verdict hdr 12 + mark 8, rounded up */
#define CAP_NET_ADMIN_BIT 12

/* ---------- queue numbers bound by this process ---------- */

static pthread_mutex_t g_bound_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t g_bound[65536 / 8];

static int bound_test_and_set(uint16_t num) {
  int was;
  pthread_mutex_lock(&g_bound_lock);
  was = (g_bound[num >> 3] >> (num & 7)) & 1;
  g_bound[num >> 3] |= (uint8_t)(1u << (num & 7));
  pthread_mutex_unlock(&g_bound_lock);
  return was;
}

static void bound_clear(uint16_t num) {
  pthread_mutex_lock(&g_bound_lock);
  g_bound[num >> 3] &= (uint8_t)~(1u << (num & 7));
  pthread_mutex_unlock(&g_bound_lock);
}

/* ---------- small helpers ---------- */

const char *rgw_errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

static int has_cap_net_admin(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  unsigned long long caps = 0;
  int found = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "CapEff: %llx", &caps) == 1) {
      found = 1;
      break;
    }
  }
  fclose(f);
  if (!found) return -1;
  return (int)((caps >> CAP_NET_ADMIN_BIT) & 1);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(rgw_nfq_open_err *oerr, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(rgw_nfq_open_err *oerr, int err, const char *fmt, ...) {
  va_list ap;
  oerr->err = err;
  va_start(ap, fmt);
  vsnprintf(oerr->msg, sizeof oerr->msg, fmt, ap);
  va_end(ap);
}

static ssize_t send_to_kernel(int fd, const void *buf, size_t len) {
  struct sockaddr_nl dst;
  ssize_t n;
  memset(&dst, 0, sizeof dst);
  dst.nl_family = AF_NETLINK;
  do {
    n = sendto(fd, buf, len, 0, (const struct sockaddr *)&dst, sizeof dst);
  } while (n < 0 && errno == EINTR);
  return n;
}

static void free_buffers(rgw_nfq *q) {
  free(q->rx);
  free(q->mmsg);
  free(q->iov);
  free(q->tx);
  free(q->stash);
  q->rx = NULL;
  q->mmsg = NULL;
  q->iov = NULL;
  q->tx = NULL;
  q->stash = NULL;
  q->tx_len = q->tx_cap = 0;
  q->tx_count = 0;
  q->stash_len = q->stash_cap = 0;
}

static int stash_append(rgw_nfq *q, const uint8_t *buf, size_t len) {
  if (q->stash_len + len > q->stash_cap) {
    size_t cap = q->stash_cap ? q->stash_cap : 4096;
    uint8_t *p;
    while (cap < q->stash_len + len) cap *= 2;
    p = realloc(q->stash, cap);
    if (!p) return -ENOMEM;
    q->stash = p;
    q->stash_cap = cap;
  }
  memcpy(q->stash + q->stash_len, buf, len);
  q->stash_len += len;
  return 0;
}

/* ---------- parsing ---------- */

static uint32_t attr_be32(const struct nlattr *a, uint32_t dflt) {
  if (!a || mnl_attr_get_payload_len(a) < sizeof(uint32_t)) return dflt;
  return ntohl(mnl_attr_get_u32(a));
}

static int parse_packet(const rgw_nfq *q, const struct nlmsghdr *nlh, rgw_nfq_pkt *pkt) {
  struct nlattr *attr[NFQA_MAX + 1];
  const struct nfqnl_msg_packet_hdr *ph;
  memset(attr, 0, sizeof attr);
  if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg)) return -1;
  if (nfq_nlmsg_parse(nlh, attr) < 0) return -1;
  if (!attr[NFQA_PACKET_HDR] || mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) return -1;
  ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  memset(pkt, 0, sizeof *pkt);
  pkt->id = ntohl(ph->packet_id);
  pkt->hw_protocol = ntohs(ph->hw_protocol);
  pkt->hook = ph->hook;
  pkt->mark = attr_be32(attr[NFQA_MARK], 0);
  pkt->indev = attr_be32(attr[NFQA_IFINDEX_INDEV], 0);
  pkt->outdev = attr_be32(attr[NFQA_IFINDEX_OUTDEV], 0);
  if (attr[NFQA_PAYLOAD]) {
    uint32_t len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    if (len > q->cfg.copy_bytes) len = q->cfg.copy_bytes; /* never more than asked for */
    pkt->payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
    pkt->payload_len = len;
  }
  /* NFQA_CAP_LEN is present only when the payload was cut to the copy range */
  pkt->length = attr_be32(attr[NFQA_CAP_LEN], attr[NFQA_PAYLOAD] ? mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]) : 0);
  return 0;
}

/* Fills *ae from an NLMSG_ERROR message carrying a negative error. */
static void parse_async_error(const struct nlmsghdr *nlh, rgw_nfq_async_err *ae) {
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  size_t avail = nlh->nlmsg_len - NLMSG_HDRLEN;
  memset(ae, 0, sizeof *ae);
  ae->err = -e->error;
  /* The kernel echoes the rejected request after the error code (no NETLINK_CAP_ACK on this socket). */
  if (avail >= sizeof(struct nlmsgerr)) {
    const struct nlmsghdr *orig = &e->msg;
    size_t orig_avail = avail - offsetof(struct nlmsgerr, msg);
    if ((orig->nlmsg_type >> 8) == NFNL_SUBSYS_QUEUE) ae->msg_type = (uint16_t)(orig->nlmsg_type & 0xff);
    if (orig->nlmsg_len <= orig_avail && orig->nlmsg_type == NFQ_MSG(NFQNL_MSG_VERDICT) &&
        orig->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nfgenmsg)) {
      const struct nlattr *a;
      mnl_attr_for_each(a, orig, sizeof(struct nfgenmsg)) {
        if (mnl_attr_get_type(a) == NFQA_VERDICT_HDR &&
            mnl_attr_get_payload_len(a) >= sizeof(struct nfqnl_msg_verdict_hdr)) {
          const struct nfqnl_msg_verdict_hdr *vh = mnl_attr_get_payload(a);
          ae->has_id = 1;
          ae->id = ntohl(vh->id);
        }
      }
    }
  }
}

/* Walks the netlink messages of one datagram. Returns the number of packet messages seen. */
static unsigned handle_datagram(rgw_nfq *q, const uint8_t *buf, size_t len, const rgw_nfq_sink *sink) {
  const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
  int rem = (int)len;
  unsigned packets = 0;
  while (mnl_nlmsg_ok(nlh, rem)) {
    if (nlh->nlmsg_type == NFQ_MSG(NFQNL_MSG_PACKET)) {
      rgw_nfq_pkt pkt;
      packets++;
      if (parse_packet(q, nlh, &pkt) == 0) {
        q->received++;
        if (sink && sink->packet) sink->packet(sink->ctx, &pkt);
      } else {
        q->errors++;
      }
    } else if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        if (e->error != 0) {
          rgw_nfq_async_err ae;
          q->errors++;
          parse_async_error(nlh, &ae);
          if (sink && sink->async_error) sink->async_error(sink->ctx, &ae);
        }
      }
    }
    nlh = mnl_nlmsg_next(nlh, &rem);
  }
  return packets;
}

/* ---------- open ---------- */

static int build_bind_request(const rgw_nfq_config *cfg, uint32_t seq, uint8_t *buf) {
  struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_CONFIG, cfg->queue_num);
  uint32_t flags = cfg->fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  /* One message: the kernel binds, then applies copy mode, queue length and flags, then acks; a second
   * message would leave a window in which the queue exists with copy mode NONE (packets dropped). */
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)cfg->copy_bytes);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, cfg->max_queue_len);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
  return (int)nlh->nlmsg_len;
}

static void size_rcvbuf(int fd, const rgw_nfq_config *cfg) {
  /* Room for a full kernel queue: each queued message costs its length plus skb overhead (~1 KiB). */
  uint64_t want = (uint64_t)cfg->max_queue_len * (cfg->copy_bytes + 1024u);
  int v;
  if (want < 256u * 1024u) want = 256u * 1024u;
  if (want > 64u * 1024u * 1024u) want = 64u * 1024u * 1024u;
  if (cfg->rcvbuf) want = cfg->rcvbuf < 4096u ? 4096u : cfg->rcvbuf;
  if (want > 0x3fffffffu) want = 0x3fffffffu;
  v = (int)want;
  /* SO_RCVBUFFORCE ignores net.core.rmem_max (needs CAP_NET_ADMIN, which binding needs anyway). */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

/* Waits for the ack of request `seq`; packet datagrams that arrive first are stashed. Returns 0 or -errno
 * (the kernel's answer, or a local failure; -ETIMEDOUT when no answer came). */
static int wait_ack(rgw_nfq *q, uint32_t seq) {
  int64_t deadline = now_ms() + RGW_NFQ_ACK_TIMEOUT_MS;
  for (;;) {
    struct iovec iov = {q->rx, q->slot_size};
    struct msghdr mh;
    ssize_t n;
    const struct nlmsghdr *nlh;
    int rem, acked = 0, answer = 0, has_packets = 0;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    n = recvmsg(q->fd, &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        q->enobufs++;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        struct pollfd pfd = {q->fd, POLLIN, 0};
        int64_t left = deadline - now_ms();
        if (left <= 0) return -ETIMEDOUT;
        (void)poll(&pfd, 1, (int)left);
        continue;
      }
      return -errno;
    }
    if (mh.msg_flags & MSG_TRUNC) {
      q->truncated++;
      q->errors++;
      continue;
    }
    nlh = (const struct nlmsghdr *)q->rx;
    rem = (int)n;
    while (mnl_nlmsg_ok(nlh, rem)) {
      if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq &&
          nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        acked = 1;
        answer = e->error;
      } else if (nlh->nlmsg_type == NFQ_MSG(NFQNL_MSG_PACKET)) {
        has_packets = 1;
        q->stashed++;
      }
      nlh = mnl_nlmsg_next(nlh, &rem);
    }
    if (has_packets && stash_append(q, q->rx, (size_t)n) < 0) return -ENOMEM;
    if (acked) return answer; /* 0 or -errno */
  }
}

int rgw_nfq_open(rgw_nfq *q, const rgw_nfq_config *cfg, rgw_nfq_open_err *oerr) {
  struct sockaddr_nl local;
  socklen_t alen = sizeof local;
  uint8_t req[256] __attribute__((aligned(8)));
  uint32_t i;
  int len, rc;

  memset(q, 0, sizeof *q);
  q->fd = -1;
  memset(oerr, 0, sizeof *oerr);
  if (cfg->copy_bytes < 1 || cfg->copy_bytes > RGW_NFQ_MAX_COPY || cfg->batch < 1 ||
      cfg->batch > RGW_NFQ_MAX_BATCH || cfg->max_queue_len < 1) {
    set_err(oerr, EINVAL, "invalid queue options");
    return -1;
  }
  q->cfg = *cfg;

  if (bound_test_and_set(cfg->queue_num)) {
    set_err(oerr, EBUSY, "queue %u is already open in this process (close it first)", cfg->queue_num);
    return -1;
  }

  q->slot_size = ((size_t)cfg->copy_bytes + SLOT_OVERHEAD + 7u) & ~(size_t)7u;
  q->rx = malloc(q->slot_size * cfg->batch);
  q->mmsg = calloc(cfg->batch, sizeof *q->mmsg);
  q->iov = calloc(cfg->batch, sizeof *q->iov);
  q->tx = malloc(TX_CAP);
  q->tx_cap = TX_CAP;
  if (!q->rx || !q->mmsg || !q->iov || !q->tx) {
    set_err(oerr, ENOMEM, "out of memory allocating queue buffers");
    goto fail;
  }
  for (i = 0; i < cfg->batch; i++) {
    q->iov[i].iov_base = q->rx + (size_t)i * q->slot_size;
    q->iov[i].iov_len = q->slot_size;
    q->mmsg[i].msg_hdr.msg_iov = &q->iov[i];
    q->mmsg[i].msg_hdr.msg_iovlen = 1;
  }

  q->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (q->fd < 0) {
    int e = errno;
    set_err(oerr, e, "cannot open a netfilter netlink socket: %s (%s)", strerror(e), rgw_errno_name(e));
    goto fail;
  }
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK;
  if (bind(q->fd, (struct sockaddr *)&local, sizeof local) < 0 ||
      getsockname(q->fd, (struct sockaddr *)&local, &alen) < 0) {
    int e = errno;
    set_err(oerr, e, "cannot bind the netlink socket: %s (%s)", strerror(e), rgw_errno_name(e));
    goto fail;
  }
  q->portid = local.nl_pid;
  size_rcvbuf(q->fd, cfg);

  q->seq = (uint32_t)time(NULL);
  len = build_bind_request(cfg, ++q->seq, req);
  if (send_to_kernel(q->fd, req, (size_t)len) < 0) {
    int e = errno;
    set_err(oerr, e, "cannot send the bind request for queue %u: %s (%s)", cfg->queue_num, strerror(e),
            rgw_errno_name(e));
    goto fail;
  }
  rc = wait_ack(q, q->seq);
  if (rc < 0) {
    int e = -rc;
    if (e == EPERM) {
      int cap = has_cap_net_admin();
      if (cap == 0)
        set_err(oerr, e, "binding queue %u needs CAP_NET_ADMIN (run as root): %s (EPERM)", cfg->queue_num,
                strerror(e));
      else
        set_err(oerr, e, "queue %u is already bound by another process (EPERM)", cfg->queue_num);
    } else if (e == EBUSY) {
      set_err(oerr, e, "queue %u is already bound by this socket (EBUSY)", cfg->queue_num);
    } else if (e == ETIMEDOUT) {
      set_err(oerr, e, "no answer from nfnetlink_queue to the bind request for queue %u within %d ms",
              cfg->queue_num, RGW_NFQ_ACK_TIMEOUT_MS);
    } else {
      set_err(oerr, e, "binding queue %u failed: %s (%s)", cfg->queue_num, strerror(e), rgw_errno_name(e));
    }
    goto fail;
  }
  return 0;

fail:
  if (q->fd >= 0) close(q->fd); /* closing the socket also releases a half-made binding */
  q->fd = -1;
  free_buffers(q);
  bound_clear(cfg->queue_num);
  return -1;
}

/* ---------- reading ---------- */

int rgw_nfq_has_stash(const rgw_nfq *q) { return q->stash_len > 0; }

uint8_t *rgw_nfq_take_stash(rgw_nfq *q, size_t *len) {
  uint8_t *s = q->stash;
  *len = q->stash_len;
  q->stash = NULL;
  q->stash_len = q->stash_cap = 0;
  return s;
}

void rgw_nfq_parse(rgw_nfq *q, const uint8_t *buf, size_t len, const rgw_nfq_sink *sink) {
  handle_datagram(q, buf, len, sink);
}

int rgw_nfq_read(rgw_nfq *q, const rgw_nfq_sink *sink) {
  int n, i, tries = 0;
  if (q->fd < 0) return -EBADF;
  for (;;) {
    for (i = 0; i < (int)q->cfg.batch; i++) {
      q->mmsg[i].msg_hdr.msg_flags = 0;
      q->mmsg[i].msg_len = 0;
    }
    n = recvmmsg(q->fd, q->mmsg, q->cfg.batch, MSG_DONTWAIT, NULL);
    if (n >= 0) break;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    if (errno == EINTR) continue;
    if (errno == ENOBUFS) {
      /* the kernel could not queue messages for us (our receive buffer was full): those packets were
       * dropped, or accepted when fail-open is set. The error is reported once; read on. */
      q->enobufs++;
      if (++tries < 4) continue;
      return 0;
    }
    return -errno;
  }
  for (i = 0; i < n; i++) {
    if (q->mmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
      q->truncated++;
      q->errors++;
      continue;
    }
    handle_datagram(q, q->rx + (size_t)i * q->slot_size, q->mmsg[i].msg_len, sink);
  }
  return n;
}

/* ---------- verdicts ---------- */

static void put_verdict(rgw_nfq *q, uint8_t *buf, uint32_t id, uint32_t verdict, int has_mark, uint32_t mark) {
  struct nlmsghdr *nlh = nfq_nlmsg_put((char *)buf, NFQNL_MSG_VERDICT, q->cfg.queue_num);
  nlh->nlmsg_seq = ++q->seq;
  nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
  if (has_mark) nfq_nlmsg_verdict_put_mark(nlh, mark);
}

int rgw_nfq_flush(rgw_nfq *q) {
  ssize_t n;
  uint32_t count = q->tx_count;
  size_t len = q->tx_len;
  if (len == 0) return 0;
  q->tx_len = 0;
  q->tx_count = 0;
  if (q->fd < 0) return -EBADF;
  n = send_to_kernel(q->fd, q->tx, len);
  if (n < 0) {
    q->errors++;
    return -errno;
  }
  q->verdicts += count;
  return 0;
}

int rgw_nfq_verdict_defer(rgw_nfq *q, uint32_t id, uint32_t verdict, int has_mark, uint32_t mark) {
  int rc = 0;
  struct nlmsghdr *nlh;
  if (q->fd < 0) return -EBADF;
  if (q->tx_len + VERDICT_MSG_MAX > q->tx_cap) rc = rgw_nfq_flush(q);
  put_verdict(q, q->tx + q->tx_len, id, verdict, has_mark, mark);
  nlh = (struct nlmsghdr *)(q->tx + q->tx_len);
  q->tx_len += NLMSG_ALIGN(nlh->nlmsg_len);
  q->tx_count++;
  return rc;
}

int rgw_nfq_verdict_now(rgw_nfq *q, uint32_t id, uint32_t verdict, int has_mark, uint32_t mark) {
  uint8_t buf[VERDICT_MSG_MAX] __attribute__((aligned(8)));
  struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
  if (q->fd < 0) return -EBADF;
  put_verdict(q, buf, id, verdict, has_mark, mark);
  if (send_to_kernel(q->fd, buf, nlh->nlmsg_len) < 0) {
    q->errors++;
    return -errno;
  }
  q->verdicts++;
  return 0;
}

/* ---------- close ---------- */

void rgw_nfq_close(rgw_nfq *q) {
  if (q->fd >= 0) {
    uint8_t req[128] __attribute__((aligned(8)));
    struct nlmsghdr *nlh;
    (void)rgw_nfq_flush(q);
    /* Explicit unbind (no ack wanted): the kernel destroys the queue now, dropping packets still waiting
     * for a verdict; new packets then meet the rule's default (dropped, or accepted with
     * --queue-bypass). Closing the socket would do the same on its own; unbinding first makes it
     * independent of when the last reference to the socket goes away. */
    nlh = nfq_nlmsg_put((char *)req, NFQNL_MSG_CONFIG, q->cfg.queue_num);
    nlh->nlmsg_seq = ++q->seq;
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    (void)send_to_kernel(q->fd, req, nlh->nlmsg_len);
    close(q->fd);
    q->fd = -1;
    bound_clear(q->cfg.queue_num);
  }
  free_buffers(q);
}
