/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_WAIT_H
#define _XBGEN_LINUX_WAIT_H

#include <linux/spinlock.h>

typedef struct {
	int waiters;
} wait_queue_head_t;

void init_waitqueue_head(wait_queue_head_t *wq);
void wake_up(wait_queue_head_t *wq);

/*
 * The real ones are macros that re-evaluate @condition after each wakeup
 * with @lock held; these take its value once, which is all a parse needs.
 */
void __xbgen_wait_event_lock_irq(wait_queue_head_t *wq, int condition, spinlock_t *lock);
int __xbgen_wait_event_interruptible_lock_irq(wait_queue_head_t *wq, int condition,
					      spinlock_t *lock);
long __xbgen_wait_event_killable_timeout(wait_queue_head_t *wq, int condition, long timeout);
#ifdef XBGEN_SIM
/*
 * xbgen verify runs the code: re-evaluate @condition after each wakeup, as
 * the real macros do.  __xbgen_sim_wait() drops @lock, sleeps until the
 * queue is woken and takes @lock again; it returns -ERESTARTSYS when an
 * interruptible sleep is interrupted.
 */
int __xbgen_sim_wait(wait_queue_head_t *wq, spinlock_t *lock, int interruptible);
#define wait_event_lock_irq(wq, condition, lock)			\
	do {								\
		while (!(condition))					\
			__xbgen_sim_wait(&(wq), &(lock), 0);		\
	} while (0)
#define wait_event_interruptible_lock_irq(wq, condition, lock)		\
	({								\
		int __xbgen_ret = 0;					\
		while (!__xbgen_ret && !(condition))			\
			__xbgen_ret = __xbgen_sim_wait(&(wq), &(lock), 1); \
		__xbgen_ret;						\
	})
/*
 * 0 when @timeout passed with @condition false; else at least 1 (the
 * jiffies left).  Time is not modelled: a sleep times out only when nothing
 * else can happen.
 */
long __xbgen_sim_wait_timeout(wait_queue_head_t *wq, long left);
#define wait_event_killable_timeout(wq, condition, timeout)		\
	({								\
		long __xbgen_left = (timeout);				\
		while (__xbgen_left > 0 && !(condition))		\
			__xbgen_left = __xbgen_sim_wait_timeout(&(wq), __xbgen_left); \
		if (!__xbgen_left && (condition))			\
			__xbgen_left = 1;				\
		__xbgen_left;						\
	})
#else
#define wait_event_killable_timeout(wq, condition, timeout) \
	__xbgen_wait_event_killable_timeout(&(wq), (condition), (timeout))
#define wait_event_lock_irq(wq, condition, lock) \
	__xbgen_wait_event_lock_irq(&(wq), (condition), &(lock))
#define wait_event_interruptible_lock_irq(wq, condition, lock) \
	__xbgen_wait_event_interruptible_lock_irq(&(wq), (condition), &(lock))
#endif

#endif
