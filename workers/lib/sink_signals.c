/* sink_signals.c - SIGTERM/SIGINT ask the consumer loop for a graceful stop. */
#include "sink_loop.h"

#include "wlog.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void sink_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        wlog_error("cannot install signal handlers", "err=\"%s\"", strerror(errno));
}

int sink_stopping(void) { return stop_flag != 0; }
