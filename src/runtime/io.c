/*
 * io.c -- file descriptors for dedicated actors.
 *
 * A dedicated worker sleeps in epoll_wait on an eventfd and on the
 * descriptors its actor watches, so one wait ends on whichever comes first:
 * a send (the sender writes the eventfd instead of signalling a condition
 * variable) or a ready descriptor (delivered as RT_MSG_IO). An eventfd
 * keeps its count until read, so a wake written between the worker's last
 * look at its run queue and its epoll_wait is never lost.
 *
 * Watches are level-triggered but reported once per readiness: a watch is
 * "pending" from the delivery of its RT_MSG_IO until the actor handles it,
 * so a busy actor does not collect a copy per activation.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "atomics.h"
#include "internal.h"

#define IO_EVENTS_PER_WAIT 64

struct rt_watch {
    uint64_t tag;
    bool active;
    bool pending;    /* an RT_MSG_IO for it not yet handled */
};

void rt_io_init(rt_worker_t *w)
{
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->evfd < 0)
        abort();
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0)
        abort();
    pthread_mutex_init(&w->io_lock, NULL);
}

void rt_io_close(rt_worker_t *w)
{
    close(w->epfd);
    close(w->evfd);
    free(w->watches);
    pthread_mutex_destroy(&w->io_lock);
}

void rt_io_wake(rt_worker_t *w)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is full, i.e. already signalled. */
    if (write(w->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        abort();
}

void rt_io_poll(rt_worker_t *w, int timeout_ms)
{
    struct epoll_event ev[IO_EVENTS_PER_WAIT];
    int n = epoll_wait(w->epfd, ev, IO_EVENTS_PER_WAIT, timeout_ms);
    /* Awake from here on: the deliveries below need no eventfd write. */
    rt_store_int(&w->sleeping, 0);
    pthread_mutex_lock(&w->io_lock);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == 0) {
            uint64_t v;
            if (read(w->evfd, &v, sizeof(v)) < 0) { /* drained by an earlier read */ }
            continue;
        }
        int fd = (int)(ev[i].data.u64 - 1);
        struct rt_watch *wt = fd < w->nwatches ? &w->watches[fd] : NULL;
        if (wt == NULL || !wt->active || wt->pending)
            continue;
        wt->pending = true;
        rt_io_msg_t *m = rt_msg_new(sizeof(*m), RT_MSG_IO);
        m->fd = fd;
        m->events = ev[i].events;
        m->tag = wt->tag;
        rt_send_force(w->owner, m);
    }
    pthread_mutex_unlock(&w->io_lock);
}

void rt_io_handled(rt_worker_t *w, const rt_msg_t *m)
{
    const rt_io_msg_t *io = (const rt_io_msg_t *)m;
    pthread_mutex_lock(&w->io_lock);
    if (io->fd >= 0 && io->fd < w->nwatches)
        w->watches[io->fd].pending = false;
    pthread_mutex_unlock(&w->io_lock);
}

int rt_watch_fd(rt_actor_t *a, int fd, uint32_t events, uint64_t tag)
{
    rt_worker_t *w = a->home;
    if (w == NULL || fd < 0 || (events & ~(uint32_t)(EPOLLIN | EPOLLOUT)) != 0) {
        errno = EINVAL;
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&w->io_lock);
    if (fd >= w->nwatches) {
        int cap = w->nwatches > 0 ? w->nwatches : 64;
        while (cap <= fd)
            cap *= 2;
        struct rt_watch *grown = realloc(w->watches, sizeof(grown[0]) * (size_t)cap);
        if (grown == NULL) {
            errno = ENOMEM;
            rc = -1;
            goto out;
        }
        memset(grown + w->nwatches, 0, sizeof(grown[0]) * (size_t)(cap - w->nwatches));
        w->watches = grown;
        w->nwatches = cap;
    }
    struct rt_watch *wt = &w->watches[fd];
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)fd + 1};
    if (epoll_ctl(w->epfd, wt->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
        rc = -1;
        goto out;
    }
    if (!wt->active)
        rt_faa_int(&w->nwatching, 1);   /* read without the lock */
    wt->active = true;
    wt->pending = false;
    wt->tag = tag;
out:
    pthread_mutex_unlock(&w->io_lock);
    return rc;
}

int rt_unwatch_fd(rt_actor_t *a, int fd)
{
    rt_worker_t *w = a->home;
    if (w == NULL || fd < 0) {
        errno = EINVAL;
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&w->io_lock);
    if (fd >= w->nwatches || !w->watches[fd].active) {
        errno = ENOENT;
        rc = -1;
    } else {
        /* A descriptor already closed has left the epoll set by itself. */
        if (epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != EBADF && errno != ENOENT)
            rc = -1;
        w->watches[fd].active = false;
        w->watches[fd].pending = false;
        rt_faa_int(&w->nwatching, -1);
    }
    pthread_mutex_unlock(&w->io_lock);
    return rc;
}

bool rt_io_watching(rt_worker_t *w)
{
    return rt_load_int(&w->nwatching) > 0;
}
