/* wthread.h - start a helper thread of a sink daemon (see wthread.c). */
#ifndef WTHREAD_H
#define WTHREAD_H

#include <pthread.h>

/* pthread_create() with SIGTERM and SIGINT blocked in the new thread; 0 or -1. `name` (at
 * most 15 characters) becomes the thread's comm, so per-thread CPU shows in top -H and
 * /proc/PID/task/TID/stat. */
int wthread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg);

/* A helper thread that sleeps on a condition variable until work or `quit` arrives (the
 * kconsumer writer, the chat publisher): initialise `mu` and `cv`, then wthread_start();
 * on failure nothing is left initialised. 0 or -1. */
int wthread_start_waiting(pthread_t *thread, pthread_mutex_t *mu, pthread_cond_t *cv,
                          const char *name, void *(*fn)(void *), void *arg);

/* Its end: set *quit under `mu`, wake every waiter, join, destroy `cv` and `mu`. Returns the
 * pthread_join() result (0 = joined). */
int wthread_stop_waiting(pthread_t thread, pthread_mutex_t *mu, pthread_cond_t *cv, int *quit);

#endif
