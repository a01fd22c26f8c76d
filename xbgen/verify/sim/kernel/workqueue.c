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

/*
 * Workers: a domain's items run on its first worker, one at a time in the
 * order they were queued; while that worker sleeps (a handler, a mutex, a
 * wait), a second one may start the next item, as the concurrency-managed
 * workqueues do on one CPU.  An item never runs on both at once: queued
 * again while it runs, it waits for the worker running it to be done.
 */
static struct thread *work_runner(struct dom *d, const void *work)
{
	static const int workers[] = { TH_WORK, TH_WORK2 };
	unsigned int i;

	for (i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
		struct thread *t = &d->th[workers[i]];

		if (t->act == ACT_WORK && t->work == work)
			return t;
	}
	return NULL;
}

static int work_busy(struct dom *d, const void *work)
{
	return work_runner(d, work) != NULL;
}

static int workers_busy(struct dom *d)
{
	return d->th[TH_WORK].act != ACT_NONE || d->th[TH_WORK2].act != ACT_NONE;
}

/*
 * The queued item worker @ti (idle) would start, or -1: the first one no
 * worker runs; the second worker only while the first one sleeps.
 */
static int work_next(struct dom *d, int ti)
{
	struct thread *first = &d->th[TH_WORK];
	int i;

	if (ti == TH_WORK2 && (first->act == ACT_NONE || !first->block))
		return -1;
	for (i = 0; i < d->nworks; i++)
		if (!work_busy(d, d->works[i]))
			return i;
	return -1;
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
	work->__xbgen_wq = NULL;
}

struct workqueue_struct;

static bool enqueue_work(struct work_struct *work, struct workqueue_struct *wq)
{
	struct dom *d = cur;

	if (work->data & (WORK_PENDING | WORK_CANCELING))
		return false;
	work->__xbgen_wq = wq;
	if (d->nworks == MAX_WORKS)
		sim_limit("more than %d work items queued", MAX_WORKS);
	work->data |= WORK_PENDING;
	d->works[d->nworks++] = work;
	trace("%s queues a work item", d->name);
	return true;
}

bool schedule_work(struct work_struct *work)
{
	api_call();
	return enqueue_work(work, NULL);	/* system_wq */
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
		if (cur_t == work_runner(d, work)) {
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
		if (cur_t == work_runner(d, work)) {
			violate(PROP_DEADLOCK, "%s calls flush_work() on itself: it waits for ever", me());
			return false;
		}
		block_on(BLK_FLUSH, work, 0, "flush_work()");
		waited = 1;
	}
	return waited;
}

/*
 * A workqueue of a module's own (alloc_workqueue()).  Its items run on the
 * domain's worker like schedule_work()'s, in the order they were queued;
 * flush_workqueue() and destroy_workqueue() (which drains) sleep until none
 * of its items is queued or running.  Real flushes wait only for the items
 * queued before them: this one may wait longer, never shorter.
 */
struct workqueue_struct {
	char name[24];
	int draining;
};

/* An item of @wq is queued or running in @d. */
static int wq_busy(struct dom *d, const void *wq)
{
	int i;

	for (i = 0; i < d->nworks; i++)
		if (d->works[i]->__xbgen_wq == wq)
			return 1;
	return wq_running(d, wq) != NULL;
}

/* A worker running an item of @wq, if one is. */
static struct thread *wq_running(struct dom *d, const void *wq)
{
	struct thread *t = &d->th[TH_WORK], *t2 = &d->th[TH_WORK2];

	if (t->act == ACT_WORK && t->work && t->work->__xbgen_wq == wq)
		return t;
	return t2->act == ACT_WORK && t2->work && t2->work->__xbgen_wq == wq ? t2 : NULL;
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active,
					 ...)
{
	struct workqueue_struct *wq;

	(void)flags;
	(void)max_active;
	wq = sim_alloc(sizeof(*wq), 1, GFP_KERNEL, K_MEM, "alloc_workqueue()");
	if (wq) {
		snprintf(wq->name, sizeof(wq->name), "%s", fmt);
		trace("%s: alloc_workqueue(%s)", cur ? cur->name : "?", wq->name);
	}
	return wq;
}

bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	api_call();
	if (!wq) {
		violate(PROP_SAFE, "%s queues a work item on a NULL workqueue", me());
		return false;
	}
	if (wq->draining && cur_t && !(cur_t->act == ACT_WORK && cur_t->work &&
				       cur_t->work->__xbgen_wq == wq))
		violate(PROP_SAFE, "%s queues a work item on a workqueue being destroyed", me());
	return enqueue_work(work, wq);
}

void flush_workqueue(struct workqueue_struct *wq)
{
	struct dom *d = cur;

	api_call();
	may_sleep("flush_workqueue()");
	if (!wq_busy(d, wq))
		return;
	if (wq_running(d, wq) == cur_t) {
		violate(PROP_DEADLOCK, "%s flushes its own workqueue from one of its items: it "
			"waits for ever", me());
		return;
	}
	trace("%s waits for the work items of workqueue %s", d->name, wq->name);
	block_on(BLK_WQFLUSH, wq, 0, "flush_workqueue()");
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	api_call();
	if (!wq)
		return;
	wq->draining = 1;
	flush_workqueue(wq);
	if (w.prop)
		return;
	trace("%s: destroy_workqueue(%s)", cur ? cur->name : "?", wq->name);
	sim_free(wq, "destroy_workqueue");
}
