/*
 * metrics.c - Prometheus registry + minimal HTTP/1.0 responder (see metrics.h).
 * The responder is deliberately simple: one request per connection, answered and closed,
 * which is all a Prometheus scrape or a curl needs.
 */
#include "metrics.h"
#include "wlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_METRICS 48

enum mkind { MK_COUNTER, MK_GAUGE, MK_HIST };

struct metric {
    const char *name;
    const char *help;
    enum mkind kind;
    _Atomic uint64_t counter;
    _Atomic int64_t gauge;
    struct whist hist;
};

/* Upper bounds in seconds for the latency histogram. */
static const double bucket_le[WHIST_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,   0.25,   0.5,   1.0,  2.5,   10.0 };

static struct metric registry[MAX_METRICS];
static _Atomic size_t registry_len;
static const char *labels = "";
static int listen_fd = -1;
static pthread_t http_thread;
static atomic_int http_running;

void wmetrics_init(const char *const_labels)
{
    labels = const_labels ? const_labels : "";
}

static struct metric *register_metric(const char *name, const char *help, enum mkind kind)
{
    size_t i = atomic_fetch_add(&registry_len, 1);
    if (i >= MAX_METRICS) {
        /* Programming error: the registry is sized for the daemons in this tree. */
        wlog_error("metrics registry full", "name=%s", name);
        abort();
    }
    registry[i].name = name;
    registry[i].help = help;
    registry[i].kind = kind;
    return &registry[i];
}

_Atomic uint64_t *wmetrics_counter(const char *name, const char *help)
{
    return &register_metric(name, help, MK_COUNTER)->counter;
}

_Atomic int64_t *wmetrics_gauge(const char *name, const char *help)
{
    return &register_metric(name, help, MK_GAUGE)->gauge;
}

struct whist *wmetrics_histogram(const char *name, const char *help)
{
    return &register_metric(name, help, MK_HIST)->hist;
}

void whist_observe(struct whist *h, double seconds)
{
    for (int i = 0; i < WHIST_BUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            atomic_fetch_add(&h->buckets[i], 1);
            break;
        }
    }
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (uint64_t)(seconds * 1e6));
}

/* snprintf that tracks the running length and never overruns. */
static void appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static void appendf(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = (*len + (size_t)n < cap) ? *len + (size_t)n : cap - 1;
}

static void render_hist(char *buf, size_t cap, size_t *len, const struct metric *m)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t cumulative = 0;
    for (int i = 0; i < WHIST_BUCKETS; i++) {
        cumulative += atomic_load(&m->hist.buckets[i]);
        appendf(buf, cap, len, "%s_bucket{%s%sle=\"%g\"} %llu\n", m->name, labels, sep,
                bucket_le[i], (unsigned long long)cumulative);
    }
    uint64_t count = atomic_load(&m->hist.count);
    appendf(buf, cap, len, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", m->name, labels, sep,
            (unsigned long long)count);
    appendf(buf, cap, len, "%s_sum{%s} %.6f\n", m->name, labels,
            (double)atomic_load(&m->hist.sum_us) / 1e6);
    appendf(buf, cap, len, "%s_count{%s} %llu\n", m->name, labels, (unsigned long long)count);
}

size_t wmetrics_render(char *buf, size_t cap)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    size_t len = 0;
    size_t n = atomic_load(&registry_len);
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < MAX_METRICS; i++) {
        const struct metric *m = &registry[i];
        appendf(buf, cap, &len, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                type_names[m->kind]);
        if (m->kind == MK_COUNTER)
            appendf(buf, cap, &len, "%s{%s} %llu\n", m->name, labels,
                    (unsigned long long)atomic_load(&m->counter));
        else if (m->kind == MK_GAUGE)
            appendf(buf, cap, &len, "%s{%s} %lld\n", m->name, labels,
                    (long long)atomic_load(&m->gauge));
        else
            render_hist(buf, cap, &len, m);
    }
    return len;
}

/* Write all of buf, retrying short writes; errors just end the response. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        buf += w;
        len -= (size_t)w;
    }
}

static void answer_one(int fd)
{
    char req[1024];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    /* A scraper sends its request at once; don't let a silent client hold the thread. */
    if (poll(&p, 1, 2000) <= 0)
        return;
    ssize_t r = recv(fd, req, sizeof req - 1, 0);
    if (r <= 0)
        return;
    req[r] = '\0';
    static char body[32768];
    size_t blen;
    if (strncmp(req, "GET /healthz", 12) == 0)
        blen = (size_t)snprintf(body, sizeof body, "ok\n");
    else
        blen = wmetrics_render(body, sizeof body);
    char head[160];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        blen);
    write_all(fd, head, (size_t)hlen);
    write_all(fd, body, blen);
}

static void *http_main(void *arg)
{
    (void)arg;
    while (atomic_load(&http_running)) {
        struct pollfd p = { .fd = listen_fd, .events = POLLIN };
        if (poll(&p, 1, 200) <= 0)
            continue; /* timeout or EINTR: re-check the running flag */
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        answer_one(fd);
        close(fd);
    }
    return NULL;
}

int wmetrics_serve(const char *bind_addr, int port)
{
    if (port <= 0)
        return 0;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        wlog_error("metrics bind address invalid", "addr=%s", bind_addr);
        return -1;
    }
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (listen_fd < 0 ||
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listen_fd, 16) != 0) {
        wlog_error("metrics listen failed", "port=%d err=\"%s\"", port, strerror(errno));
        if (listen_fd >= 0)
            close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    atomic_store(&http_running, 1);
    if (pthread_create(&http_thread, NULL, http_main, NULL) != 0) {
        wlog_error("metrics thread failed", NULL);
        close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    wlog_info("metrics listening", "addr=%s port=%d", bind_addr, port);
    return 0;
}

void wmetrics_stop(void)
{
    if (listen_fd < 0)
        return;
    atomic_store(&http_running, 0);
    pthread_join(http_thread, NULL);
    close(listen_fd);
    listen_fd = -1;
}
