// Experiment behind docs/decisions.md "Descriptor budget" (libzmq 4.3.4): which monitor events
// fire for admitted, ZAP-refused (400/300), plaintext-on-CURVE, bare-TCP and killed peers, and
// whether ZAP is consulted for NULL handshakes when ZMQ_ZAP_DOMAIN is set.
// Build and run: gcc -o /tmp/zexp scripts/experiments/zmq-monitor-zap.c -lzmq && /tmp/zexp
#include <zmq.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <time.h>
#include <signal.h>

static void *ctx;
static int zap_mode = 200; // status to answer
static int zap_requests = 0;
static char last_mech[32];
static char last_domain[64];

static const char *ename(int e) {
  switch (e) {
  case ZMQ_EVENT_ACCEPTED: return "ACCEPTED";
  case ZMQ_EVENT_ACCEPT_FAILED: return "ACCEPT_FAILED";
  case ZMQ_EVENT_DISCONNECTED: return "DISCONNECTED";
  case ZMQ_EVENT_CLOSED: return "CLOSED";
  case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return "HS_OK";
  case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return "HS_FAIL_NODETAIL";
  case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: return "HS_FAIL_PROTO";
  case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return "HS_FAIL_AUTH";
  case ZMQ_EVENT_LISTENING: return "LISTENING";
  default: return "?";
  }
}

typedef struct { void *mon; const char *name; int open; int acc, disc, accfail; } monitor_t;

static void *make_monitor(void *s, const char *ep) {
  int rc = zmq_socket_monitor(s, ep, ZMQ_EVENT_ALL);
  if (rc) { printf("monitor failed %s\n", zmq_strerror(errno)); exit(1); }
  void *p = zmq_socket(ctx, ZMQ_PAIR);
  zmq_connect(p, ep);
  return p;
}

static void drain_monitor(monitor_t *m, int verbose) {
  while (1) {
    zmq_msg_t f1, f2; zmq_msg_init(&f1); zmq_msg_init(&f2);
    if (zmq_msg_recv(&f1, m->mon, ZMQ_DONTWAIT) < 0) { zmq_msg_close(&f1); zmq_msg_close(&f2); return; }
    zmq_msg_recv(&f2, m->mon, 0);
    uint16_t ev; uint32_t val; const uint8_t *d = zmq_msg_data(&f1);
    memcpy(&ev, d, 2); memcpy(&val, d + 2, 4);
    if (ev == ZMQ_EVENT_ACCEPTED) { m->open++; m->acc++; }
    if (ev == ZMQ_EVENT_DISCONNECTED) { m->open--; m->disc++; }
    if (ev == ZMQ_EVENT_ACCEPT_FAILED) { m->accfail++; }
    if (verbose) printf("  [%s] %s value=%u (%.*s) size1=%zu\n", m->name, ename(ev), val, (int)zmq_msg_size(&f2), (char*)zmq_msg_data(&f2), zmq_msg_size(&f1));
    zmq_msg_close(&f1); zmq_msg_close(&f2);
  }
}

static void handle_zap(void *zap) {
  while (1) {
    zmq_msg_t parts[10]; int n = 0; int more = 1;
    for (; more && n < 10; n++) {
      zmq_msg_init(&parts[n]);
      if (zmq_msg_recv(&parts[n], zap, ZMQ_DONTWAIT) < 0) { zmq_msg_close(&parts[n]); return; }
      more = zmq_msg_more(&parts[n]);
    }
    zap_requests++;
    snprintf(last_domain, sizeof last_domain, "%.*s", (int)zmq_msg_size(&parts[2]), (char*)zmq_msg_data(&parts[2]));
    snprintf(last_mech, sizeof last_mech, "%.*s", (int)zmq_msg_size(&parts[5]), (char*)zmq_msg_data(&parts[5]));
    printf("  ZAP request: domain='%s' mechanism='%s' frames=%d -> %d\n", last_domain, last_mech, n, zap_mode);
    char status[4]; snprintf(status, 4, "%d", zap_mode);
    zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), ZMQ_SNDMORE);
    zmq_send(zap, status, 3, ZMQ_SNDMORE);
    zmq_send(zap, "budget", 6, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, ZMQ_SNDMORE);
    zmq_send(zap, "", 0, 0);
    for (int i = 0; i < n; i++) zmq_msg_close(&parts[i]);
  }
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

// Polls monitors + zap for `secs`, optionally receiving from server socket
static int pump(monitor_t *mons, int nm, void *zap, void *srv, double secs, int verbose) {
  double end = now() + secs; int got = 0;
  while (now() < end) {
    zmq_pollitem_t items[8]; int n = 0;
    for (int i = 0; i < nm; i++) items[n++] = (zmq_pollitem_t){ mons[i].mon, 0, ZMQ_POLLIN, 0 };
    if (zap) items[n++] = (zmq_pollitem_t){ zap, 0, ZMQ_POLLIN, 0 };
    if (srv) items[n++] = (zmq_pollitem_t){ srv, 0, ZMQ_POLLIN, 0 };
    zmq_poll(items, n, 20);
    for (int i = 0; i < nm; i++) drain_monitor(&mons[i], verbose);
    if (zap) handle_zap(zap);
    if (srv) { char b[256]; while (zmq_recv(srv, b, sizeof b, ZMQ_DONTWAIT) >= 0) got++; }
  }
  return got;
}

int main(int argc, char **argv) {
  ctx = zmq_ctx_new();
  char spub[41], ssec[41], cpub[41], csec[41];
  zmq_curve_keypair(spub, ssec); zmq_curve_keypair(cpub, csec);
  void *zap = zmq_socket(ctx, ZMQ_REP);
  zmq_bind(zap, "inproc://zeromq.zap.01");

  void *router = zmq_socket(ctx, ZMQ_ROUTER);
  int one = 1;
  zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof one);
  zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, ssec, 40);
  zmq_bind(router, "tcp://127.0.0.1:*");
  char rep[128]; size_t sz = sizeof rep; zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, rep, &sz);

  void *pub = zmq_socket(ctx, ZMQ_PUB);
  if (argc > 1 && strcmp(argv[1], "nodomain") == 0) printf("PUB without ZAP domain\n");
  else zmq_setsockopt(pub, ZMQ_ZAP_DOMAIN, "pushy-pub", 9);
  zmq_bind(pub, "tcp://127.0.0.1:*");
  char pep[128]; sz = sizeof pep; zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, pep, &sz);

  void *router2 = zmq_socket(ctx, ZMQ_ROUTER); // NULL mechanism router with domain
  zmq_setsockopt(router2, ZMQ_ZAP_DOMAIN, "pushy-router", 12);
  zmq_bind(router2, "tcp://127.0.0.1:*");
  char r2ep[128]; sz = sizeof r2ep; zmq_getsockopt(router2, ZMQ_LAST_ENDPOINT, r2ep, &sz);

  monitor_t mons[3] = { { make_monitor(router, "inproc://mon.router"), "ROUTER" },
                        { make_monitor(pub, "inproc://mon.pub"), "PUB" },
                        { make_monitor(router2, "inproc://mon.router2"), "ROUTER-NULL" } };
  pump(mons, 3, zap, NULL, 0.1, 1);

  printf("S1: CURVE DEALER, ZAP admits, sends, then closes\n");
  zap_mode = 200;
  void *d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, spub, 40); zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40); zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40);
  zmq_connect(d, rep); zmq_send(d, "hi", 2, 0);
  int got = pump(mons, 3, zap, router, 0.5, 1);
  printf("  router got %d frames; open=%d\n", got, mons[0].open);
  int zero = 0; zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero); zmq_close(d);
  pump(mons, 3, zap, router, 0.5, 1);
  printf("  after close open=%d\n", mons[0].open);

  printf("S2: CURVE DEALER, ZAP denies 400 (watch 1 s of reconnects)\n");
  zap_mode = 400;
  d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, spub, 40); zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40); zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40);
  zmq_connect(d, rep); zmq_send(d, "hi", 2, ZMQ_DONTWAIT);
  zap_requests = 0;
  got = pump(mons, 3, zap, router, 1.0, 0);
  printf("  zap requests in 1s=%d accepted=%d disconnected=%d open=%d got=%d\n", zap_requests, mons[0].acc, mons[0].disc, mons[0].open, got);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero); zmq_close(d);
  pump(mons, 3, zap, router, 0.5, 0);
  printf("  after close open=%d (acc=%d disc=%d)\n", mons[0].open, mons[0].acc, mons[0].disc);

  printf("S2b: ZAP 300 (temporary)\n");
  zap_mode = 300; zap_requests = 0;
  d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, spub, 40); zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, cpub, 40); zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, csec, 40);
  zmq_connect(d, rep);
  pump(mons, 3, zap, router, 1.0, 0);
  printf("  zap requests in 1s=%d acc=%d disc=%d open=%d\n", zap_requests, mons[0].acc, mons[0].disc, mons[0].open);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero); zmq_close(d);
  pump(mons, 3, zap, router, 0.5, 0);
  printf("  after close open=%d\n", mons[0].open);

  printf("S3: plain (NULL) DEALER to CURVE ROUTER\n");
  d = zmq_socket(ctx, ZMQ_DEALER);
  zmq_connect(d, rep); zmq_send(d, "hi", 2, ZMQ_DONTWAIT);
  pump(mons, 3, zap, router, 0.3, 1);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero); zmq_close(d);
  pump(mons, 3, zap, router, 0.5, 0);
  printf("  after close open=%d (acc=%d disc=%d)\n", mons[0].open, mons[0].acc, mons[0].disc);

  printf("S4: raw TCP connect then close without greeting; and raw TCP half greeting\n");
  int port = atoi(strrchr(rep, ':') + 1);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) }; inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM, 0); connect(fd, (void*)&a, sizeof a);
  pump(mons, 3, zap, router, 0.2, 1); close(fd);
  pump(mons, 3, zap, router, 0.3, 1);
  fd = socket(AF_INET, SOCK_STREAM, 0); connect(fd, (void*)&a, sizeof a); write(fd, "\xff\0\0\0\0\0\0\0\x01\x7f", 10);
  pump(mons, 3, zap, router, 0.2, 1); close(fd);
  pump(mons, 3, zap, router, 0.3, 1);
  printf("  open=%d\n", mons[0].open);

  printf("S5: NULL SUB to PUB (ZAP domain set unless nodomain), ZAP admits\n");
  zap_mode = 200; zap_requests = 0;
  void *s = zmq_socket(ctx, ZMQ_SUB); zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
  zmq_connect(s, pep);
  pump(mons, 3, zap, NULL, 0.3, 1);
  for (int i = 0; i < 5; i++) zmq_send(pub, "hb", 2, 0);
  pump(mons, 3, zap, NULL, 0.2, 0);
  char b[16]; int subgot = 0; while (zmq_recv(s, b, sizeof b, ZMQ_DONTWAIT) >= 0) subgot++;
  printf("  zap requests=%d sub got %d; PUB open=%d\n", zap_requests, subgot, mons[1].open);
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero); zmq_close(s);
  pump(mons, 3, zap, NULL, 0.3, 1);

  printf("S6: NULL SUB, ZAP denies (1 s)\n");
  zap_mode = 400; zap_requests = 0;
  s = zmq_socket(ctx, ZMQ_SUB); zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
  zmq_connect(s, pep);
  pump(mons, 3, zap, NULL, 1.0, 0);
  for (int i = 0; i < 5; i++) zmq_send(pub, "hb", 2, 0);
  pump(mons, 3, zap, NULL, 0.2, 0);
  subgot = 0; while (zmq_recv(s, b, sizeof b, ZMQ_DONTWAIT) >= 0) subgot++;
  printf("  zap requests=%d sub got %d; PUB acc=%d disc=%d open=%d\n", zap_requests, subgot, mons[1].acc, mons[1].disc, mons[1].open);
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero); zmq_close(s);
  pump(mons, 3, zap, NULL, 0.3, 0);
  printf("  after close PUB open=%d\n", mons[1].open);

  printf("S7: NULL DEALER to NULL ROUTER with ZAP domain, ZAP denies\n");
  zap_mode = 400; zap_requests = 0;
  d = zmq_socket(ctx, ZMQ_DEALER); zmq_connect(d, r2ep); zmq_send(d, "hi", 2, ZMQ_DONTWAIT);
  got = pump(mons, 3, zap, router2, 0.5, 0);
  printf("  zap requests=%d got=%d acc=%d disc=%d\n", zap_requests, got, mons[2].acc, mons[2].disc);
  zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero); zmq_close(d);

  printf("S8: peer process killed abruptly (fork a child holding a CURVE DEALER, SIGKILL)\n");
  zap_mode = 200;
  int before = mons[0].open;
  pid_t pid = fork();
  if (pid == 0) {
    void *c2 = zmq_ctx_new(); void *dd = zmq_socket(c2, ZMQ_DEALER);
    zmq_setsockopt(dd, ZMQ_CURVE_SERVERKEY, spub, 40); zmq_setsockopt(dd, ZMQ_CURVE_PUBLICKEY, cpub, 40); zmq_setsockopt(dd, ZMQ_CURVE_SECRETKEY, csec, 40);
    zmq_connect(dd, rep); zmq_send(dd, "hi", 2, 0); sleep(30); _exit(0);
  }
  pump(mons, 3, zap, router, 0.7, 1);
  printf("  child connected: open=%d (before %d)\n", mons[0].open, before);
  kill(pid, 9);
  pump(mons, 3, zap, router, 0.5, 1);
  printf("  after SIGKILL: open=%d\n", mons[0].open);
  return 0;
}
