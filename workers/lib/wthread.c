/*
 * wthread.c - start a helper thread of a sink daemon (the kconsumer writer, the chat sink's
 * publisher). SIGTERM and SIGINT belong to the main thread, which acts on them (stop after the
 * batch in flight); a helper thread must never take them. The mask is set in the creating
 * thread around pthread_create(), so the new thread inherits it from its first instruction.
 * Each thread gets a name so a per-thread CPU breakdown (top -H, /proc/PID/task) tells the
 * writer, the publisher and librdkafka's threads apart. Both helpers wait on a mutex and a
 * condition variable, whose set-up and tear-down live here once.
 */
#include "wthread.h"

#include <signal.h>

int wthread_start(pthread_t *thread, const char *name, void *(*fn)(void *), void *arg)
{
    sigset_t stop_signals, old;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, &old) != 0)
        return -1;
    int rc = pthread_create(thread, NULL, fn, arg);
    /* restoring a mask we just read cannot fail (EINVAL is only for a bad `how`) */
    (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    (void)pthread_setname_np(*thread, name); /* diagnostics only: a failure changes nothing */
    return 0;
}

int wthread_start_waiting(pthread_t *thread, pthread_mutex_t *mu, pthread_cond_t *cv,
                          const char *name, void *(*fn)(void *), void *arg)
{
    if (pthread_mutex_init(mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(cv, NULL) != 0) {
        pthread_mutex_destroy(mu);
        return -1;
    }
    if (wthread_start(thread, name, fn, arg) != 0) {
        pthread_cond_destroy(cv);
        pthread_mutex_destroy(mu);
        return -1;
    }
    return 0;
}

int wthread_stop_waiting(pthread_t thread, pthread_mutex_t *mu, pthread_cond_t *cv, int *quit)
{
    pthread_mutex_lock(mu);
    *quit = 1;
    pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
    int rc = pthread_join(thread, NULL);
    pthread_cond_destroy(cv);
    pthread_mutex_destroy(mu);
    return rc;
}
