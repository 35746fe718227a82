/*
 * metrics_http.c - the sinks' metrics endpoint (see metrics.h): a thread answering one
 * HTTP/1.0 request per connection and closing it, which is all a Prometheus scrape or a curl
 * needs.
 */
#include "metrics.h"
#include "wlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_fd = -1;
static pthread_t http_thread;
static atomic_int http_running;

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
    strbuf body = { 0 };
    int rc =
        strncmp(req, "GET /healthz", 12) == 0 ? sb_appends(&body, "ok\n") : wmetrics_render(&body);
    char head[160];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                        rc == 0 ? "200 OK" : "500 Internal Server Error", rc == 0 ? body.len : 0);
    write_all(fd, head, (size_t)hlen);
    if (rc == 0)
        write_all(fd, body.data, body.len);
    sb_free(&body);
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
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
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
