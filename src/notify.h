/*
 * notify.h — agent notifications, sent by the database's tick worker after
 * the routing transaction commits when one serves it (see notify.c).
 */
#ifndef OMNIROUTE_NOTIFY_H
#define OMNIROUTE_NOTIFY_H

#include "postgres.h"

/* from _PG_init, when preloaded: a ring per slot of the launcher */
extern void notify_init(void);

/*
 * NOTIFY channel with payload when this transaction commits: through the
 * worker if it serves this database and there is room, else as NOTIFY.
 */
extern void notify_send(const char *channel, const char *payload);

/*
 * the worker: serve this database through ring (its launcher slot); send up
 * to max waiting notifications
 */
extern void notify_worker_attach(int ring);
extern void notify_worker_busy(bool busy);
extern int	notify_worker_send(int max);

#endif							/* OMNIROUTE_NOTIFY_H */
