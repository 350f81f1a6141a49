// The in-step scrape client of bench/support.ts, in C so that the client's own time stays out of the figure:
// the Deno client added about 1 ms to every p50 on a 2-core machine, where the target is 2 ms.
//
//   instep_client PORT SCRAPERS INTERVAL_MS SECONDS ACCEPT_ENCODING
//
// Opens SCRAPERS keep-alive connections to 127.0.0.1:PORT (only that address); every INTERVAL_MS all of them send
// `GET /metrics` at once, and each latency (request written to the body's last byte read) is printed in ms, one
// per line. Stops after SECONDS; exits 1 with a message on stderr on any error, or when a read waits 10 s.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SCRAPERS 64
#define HEAD_MAX 4096

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// A failed call: says what and errno's text.
static void fail(const char *what) {
  fprintf(stderr, "instep_client: %s: %s\n", what, strerror(errno));
  exit(1);
}

// An answer this client cannot take: says what.
static void refuse(const char *what) {
  fprintf(stderr, "instep_client: %s\n", what);
  exit(1);
}

struct scraper {
  int fd;
  double sent_ms;
  char head[HEAD_MAX + 1];
  size_t head_length;
  long body_missing; // -1 while the head is still coming
  int done;
};

// Takes `n` bytes read from `s`'s connection; returns 1 once the whole answer is in.
static int take(struct scraper *s, const char *bytes, size_t n) {
  if (s->body_missing < 0) {
    size_t room = HEAD_MAX - s->head_length;
    size_t copied = n < room ? n : room;
    memcpy(s->head + s->head_length, bytes, copied);
    s->head_length += copied;
    s->head[s->head_length] = 0;
    char *end = strstr(s->head, "\r\n\r\n");
    if (!end) {
      if (s->head_length == HEAD_MAX) refuse("response head over 4 KiB");
      return 0;
    }
    if (strncmp(s->head, "HTTP/1.1 200 ", 13) != 0) refuse("status other than 200");
    *end = 0; // the header search below stays in the head
    char *length = strcasestr(s->head, "\r\ncontent-length:");
    if (!length) refuse("no Content-Length");
    size_t head_bytes = (size_t)(end + 4 - s->head);
    size_t body_so_far = s->head_length - head_bytes + (n - copied);
    s->body_missing = atol(length + 17) - (long)body_so_far;
  } else {
    s->body_missing -= (long)n;
  }
  if (s->body_missing < 0) refuse("more bytes than Content-Length");
  return s->body_missing == 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: instep_client PORT SCRAPERS INTERVAL_MS SECONDS ACCEPT_ENCODING\n");
    return 2;
  }
  int port = atoi(argv[1]), scrapers = atoi(argv[2]), interval_ms = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (port <= 0 || port > 65535 || scrapers <= 0 || scrapers > MAX_SCRAPERS || interval_ms < 0 || seconds <= 0) {
    fprintf(stderr, "instep_client: bad arguments\n");
    return 2;
  }
  static struct scraper s[MAX_SCRAPERS];
  static char buffer[1 << 20];
  char request[512];
  int request_length = snprintf(request, sizeof request,
                                "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: %s\r\n\r\n", port, argv[5]);
  if (request_length < 0 || (size_t)request_length >= sizeof request) {
    fprintf(stderr, "instep_client: ACCEPT_ENCODING too long\n");
    return 2;
  }
  for (int i = 0; i < scrapers; i++) {
    s[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s[i].fd < 0) fail("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s[i].fd, (struct sockaddr *)&address, sizeof address) != 0) fail("connect to 127.0.0.1");
    int one = 1;
    setsockopt(s[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  double until = now_ms() + seconds * 1000;
  while (now_ms() < until) {
    double round = now_ms();
    for (int i = 0; i < scrapers; i++) {
      s[i].sent_ms = now_ms();
      s[i].head_length = 0;
      s[i].body_missing = -1;
      s[i].done = 0;
      if (write(s[i].fd, request, request_length) != request_length) fail("write");
    }
    for (int left = scrapers; left > 0;) {
      struct pollfd polls[MAX_SCRAPERS];
      for (int i = 0; i < scrapers; i++) {
        polls[i].fd = s[i].done ? -1 : s[i].fd;
        polls[i].events = POLLIN;
        polls[i].revents = 0;
      }
      int ready = poll(polls, scrapers, 10000);
      if (ready < 0) fail("poll");
      if (ready == 0) refuse("no answer within 10 s");
      for (int i = 0; i < scrapers; i++) {
        if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(s[i].fd, buffer, sizeof buffer);
        if (n < 0) fail("read");
        if (n == 0) refuse("the server closed the connection");
        if (take(&s[i], buffer, (size_t)n)) {
          printf("%.4f\n", now_ms() - s[i].sent_ms);
          s[i].done = 1;
          left--;
        }
      }
    }
    double rest_ms = interval_ms - (now_ms() - round);
    if (rest_ms > 0) usleep((useconds_t)(rest_ms * 1000));
  }
  for (int i = 0; i < scrapers; i++) close(s[i].fd);
  return 0;
}
