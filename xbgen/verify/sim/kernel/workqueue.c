// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: kernel/workqueue.c: schedule_work() queues a work item on
 * the domain's worker thread.
 */
#include "../sim_internal.h"

static int work_index(struct dom *d, const struct work_struct *work)
{
	int i;

	for (i = 0; i < d->nworks; i++)
		if (d->works[i] == work)
			return i;
	return -1;
}

static int work_busy(struct dom *d, const void *work)
{
	struct thread *t = &d->th[TH_WORK];

	return t->act == ACT_WORK && t->work == work;
}

static void work_dequeue(struct dom *d, int i)
{
	memmove(&d->works[i], &d->works[i + 1], (size_t)(d->nworks - 1 - i) * sizeof(d->works[0]));
	d->nworks--;
}

void __xbgen_init_work(struct work_struct *work, work_func_t func)
{
	api_call();
	if (cur && (work_index(cur, work) >= 0 || work_busy(cur, work)))
		violate(PROP_SAFE, "%s initialises a work item that is queued or running", me());
	work->data = 0;
	work->func = func;
}

bool schedule_work(struct work_struct *work)
{
	struct dom *d = cur;

	api_call();
	if (work->data & (WORK_PENDING | WORK_CANCELING))
		return false;
	if (d->nworks == MAX_WORKS)
		sim_limit("more than %d work items queued", MAX_WORKS);
	work->data |= WORK_PENDING;
	d->works[d->nworks++] = work;
	trace("%s queues a work item", d->name);
	return true;
}

bool cancel_work_sync(struct work_struct *work)
{
	struct dom *d = cur;
	int i, was = 0;

	api_call();
	may_sleep("cancel_work_sync()");
	i = work_index(d, work);
	if (i >= 0) {
		work_dequeue(d, i);
		work->data &= ~WORK_PENDING;
		trace("%s cancels a queued work item", d->name);
		was = 1;
	}
	if (work_busy(d, work)) {
		if (cur_t == &d->th[TH_WORK]) {
			violate(PROP_DEADLOCK, "%s calls cancel_work_sync() on itself: it waits for ever",
				me());
			return was;
		}
		trace("%s waits for a running work item to finish", d->name);
		work->data |= WORK_CANCELING;
		block_on(BLK_WORK, work, 0, "cancel_work_sync()");
		work->data &= ~WORK_CANCELING;
	}
	return was;
}

bool flush_work(struct work_struct *work)
{
	struct dom *d = cur;
	int waited = 0;

	api_call();
	may_sleep("flush_work()");
	if (work_index(d, work) >= 0 || work_busy(d, work)) {
		if (cur_t == &d->th[TH_WORK] && work_busy(d, work)) {
			violate(PROP_DEADLOCK, "%s calls flush_work() on itself: it waits for ever", me());
			return false;
		}
		block_on(BLK_FLUSH, work, 0, "flush_work()");
		waited = 1;
	}
	return waited;
}

/*
 * A driver's own workqueue: its items run on the domain's worker like the
 * others (one at a time, in order), which is all the drivers rely on.
 */
static char workqueue_token[SIM_NDOM];

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active,
					 ...)
{
	(void)fmt;
	(void)flags;
	(void)max_active;
	api_call();
	may_sleep("alloc_workqueue()");
	return (struct workqueue_struct *)&workqueue_token[dom_index(cur)];
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	(void)wq;
	return schedule_work(work);
}

/* Wait until every item queued so far has run (and what they queued). */
void flush_workqueue(struct workqueue_struct *wq)
{
	struct dom *d = cur;

	(void)wq;
	api_call();
	may_sleep("flush_workqueue()");
	if (cur_t == &d->th[TH_WORK]) {
		violate(PROP_DEADLOCK, "%s flushes its own workqueue: it waits for ever", me());
		return;
	}
	if (d->nworks || d->th[TH_WORK].act == ACT_WORK)
		block_on(BLK_FLUSH, NULL, 0, "flush_workqueue()");
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	flush_workqueue(wq);
}
