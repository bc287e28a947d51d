/*
 * omniroute.h — module-wide settings.
 */
#ifndef OMNIROUTE_H
#define OMNIROUTE_H

extern char *omniroute_database;
extern int	omniroute_tick_interval;
extern bool omniroute_notify;
extern bool omniroute_notify_by_worker;
extern int	omniroute_member_vacuum_threshold;
extern int	omniroute_max_databases;

extern char *omniroute_installed_version(void);
extern char *omniroute_lock_extension(void);
extern void omniroute_check_version(void);

#endif							/* OMNIROUTE_H */
