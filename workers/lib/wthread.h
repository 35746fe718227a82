/* wthread.h - start a helper thread of a sink daemon (see wthread.c). */
#ifndef WTHREAD_H
#define WTHREAD_H

#include <pthread.h>

/* pthread_create() with SIGTERM and SIGINT blocked in the new thread; 0 or -1. */
int wthread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
