// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: mutexes, spinlocks, wait queues and completions
 * (kernel/locking/, kernel/sched/wait.c, kernel/sched/completion.c).
 */
#include "../sim_internal.h"

void mutex_init(struct mutex *lock)
{
	api_call();
	lock->locked = 0;
}

void mutex_lock(struct mutex *lock)
{
	api_call();
	may_sleep("mutex_lock()");
	if (lock->locked == thread_id())
		violate(PROP_DEADLOCK, "%s takes a mutex it already holds: it waits for ever", me());
	while (lock->locked)
		block_on(BLK_MUTEX, lock, 0, "mutex_lock()");
	lock->locked = thread_id();
	cur_t->mutexes++;
}

int mutex_lock_interruptible(struct mutex *lock)
{
	mutex_lock(lock);
	return 0;
}

void mutex_unlock(struct mutex *lock)
{
	api_call();
	if (lock->locked != thread_id()) {
		violate(PROP_SAFE, "%s unlocks a mutex it does not hold", me());
		return;
	}
	lock->locked = 0;
	cur_t->mutexes--;
}

/*
 * Spinlocks: a thread never sleeps holding one (may_sleep() reports it), so
 * no other thread can find one taken: a taken spinlock is the thread's own.
 */
void spin_lock_init(spinlock_t *lock)
{
	lock->locked = 0;
}

void spin_lock(spinlock_t *lock)
{
	api_call();
	if (lock->locked)
		violate(PROP_DEADLOCK, "%s takes a spinlock it already holds: it spins for ever",
			me());
	lock->locked = 1;
	cur_t->spins++;
}

void spin_unlock(spinlock_t *lock)
{
	api_call();
	if (!lock->locked) {
		violate(PROP_SAFE, "%s unlocks a spinlock that is not held", me());
		return;
	}
	lock->locked = 0;
	cur_t->spins--;
}

void spin_lock_irq(spinlock_t *lock)
{
	spin_lock(lock);
}

void spin_unlock_irq(spinlock_t *lock)
{
	spin_unlock(lock);
}

unsigned long __xbgen_spin_lock_irqsave(spinlock_t *lock)
{
	spin_lock(lock);
	return 0x200;
}

void spin_unlock_irqrestore(spinlock_t *lock, unsigned long flags)
{
	(void)flags;
	spin_unlock(lock);
}

void init_waitqueue_head(wait_queue_head_t *wq)
{
	wq->waiters = 0;
}

/* A wakeup bumps the queue's count: the sleepers' condition may hold now. */
void wake_up(wait_queue_head_t *wq)
{
	api_call();
	wq->waiters++;
}

int __xbgen_sim_wait(wait_queue_head_t *wq, spinlock_t *lock, int interruptible)
{
	(void)interruptible;
	api_call();
	spin_unlock_irq(lock);
	block_on(BLK_WAITQ, wq, (unsigned int)wq->waiters, "a wait queue");
	spin_lock_irq(lock);
	return 0;
}

/*
 * The parse-only versions, which get the condition's value once: under
 * XBGEN_SIM the headers use the loops above instead, so these only run for
 * code compiled without it, and cannot wait for a condition they cannot see.
 */
void __xbgen_wait_event_lock_irq(wait_queue_head_t *wq, int condition, spinlock_t *lock)
{
	(void)wq;
	(void)lock;
	if (!condition)
		violate(PROP_RETURNS, "%s waits on a condition the model cannot re-evaluate", me());
}

int __xbgen_wait_event_interruptible_lock_irq(wait_queue_head_t *wq, int condition,
					      spinlock_t *lock)
{
	__xbgen_wait_event_lock_irq(wq, condition, lock);
	return 0;
}

void init_completion(struct completion *x)
{
	x->done = 0;
}

void reinit_completion(struct completion *x)
{
	x->done = 0;
}

void complete(struct completion *x)
{
	api_call();
	x->done++;
}

/* Times out only when nothing else can happen (time is not modelled). */
unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)
{
	api_call();
	may_sleep("wait_for_completion_timeout()");
	if (!x->done) {
		cur_t->timeout = 1;
		block_on(BLK_COMPLETION, x, 0, "wait_for_completion_timeout()");
		cur_t->timeout = 0;
		if (cur_t->timed_out) {
			cur_t->timed_out = 0;
			return 0;
		}
	}
	x->done--;
	return timeout ? timeout : 1;
}

long wait_for_completion_killable_timeout(struct completion *x, unsigned long timeout)
{
	return (long)wait_for_completion_timeout(x, timeout);
}

/* wait_event_killable_timeout(): one sleep; 0 when it timed out. */
long __xbgen_sim_wait_timeout(wait_queue_head_t *wq, long left)
{
	api_call();
	may_sleep("wait_event_killable_timeout()");
	cur_t->timeout = 1;
	block_on(BLK_WAITQ, wq, (unsigned int)wq->waiters, "a wait queue");
	cur_t->timeout = 0;
	if (cur_t->timed_out) {
		cur_t->timed_out = 0;
		return 0;
	}
	return left;
}

long __xbgen_wait_event_killable_timeout(wait_queue_head_t *wq, int condition, long timeout)
{
	(void)wq;
	if (!condition)
		violate(PROP_RETURNS, "%s waits on a condition the model cannot re-evaluate", me());
	return timeout ? timeout : 1;
}

/* No signal is ever sent in the model. */
struct task_struct *__xbgen_current(void)
{
	return NULL;
}

int fatal_signal_pending(struct task_struct *p)
{
	(void)p;
	return 0;
}

void kref_init(struct kref *kref)
{
	kref->refcount = 1;
}

void kref_get(struct kref *kref)
{
	api_call();
	if (!kref->refcount)
		violate(PROP_SAFE, "%s takes a reference on a freed object (kref_get from 0)", me());
	kref->refcount++;
}

int kref_put(struct kref *kref, void (*release)(struct kref *kref))
{
	api_call();
	if (!kref->refcount) {
		violate(PROP_SAFE, "%s drops a reference it does not hold (kref_put at 0)", me());
		return 0;
	}
	if (--kref->refcount)
		return 0;
	release(kref);
	return 1;
}
