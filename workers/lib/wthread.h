/* wthread.h - start a helper thread of a sink daemon (see wthread.c). */
#ifndef WTHREAD_H
#define WTHREAD_H

#include <pthread.h>

/* pthread_create() with SIGTERM and SIGINT blocked in the new thread; 0 or -1. `name` (at
 * most 15 characters) becomes the thread's comm, so per-thread CPU shows in top -H and
 * /proc/PID/task/TID/stat. */
int wthread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg);

#endif
