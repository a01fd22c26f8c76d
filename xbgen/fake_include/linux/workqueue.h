/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_WORKQUEUE_H
#define _XBGEN_LINUX_WORKQUEUE_H

#include <linux/types.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	unsigned long data;
	work_func_t func;
};

void __xbgen_init_work(struct work_struct *work, work_func_t func);
#define INIT_WORK(work, func) __xbgen_init_work((work), (func))
bool schedule_work(struct work_struct *work);
bool cancel_work_sync(struct work_struct *work);
bool flush_work(struct work_struct *work);

/* A driver's own workqueue; only its name and flags are looked at. */
struct workqueue_struct;
struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active,
					 ...);
void destroy_workqueue(struct workqueue_struct *wq);
bool queue_work(struct workqueue_struct *wq, struct work_struct *work);
void flush_workqueue(struct workqueue_struct *wq);

#endif
