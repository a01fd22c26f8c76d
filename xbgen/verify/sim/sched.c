// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the domains' kernel threads, run as coroutines.
 *
 * Each domain runs its threads as coroutines: the xenwatch thread (which
 * also stands for the user's insmod, rmmod and sysfs bind/unbind), a
 * worker for work items, interrupt handlers, which may not sleep, and in
 * the guest a program that calls the frontend's API.  Every xenstore
 * write, every read of the other end's nodes, and every grant map or
 * event-channel bind (which depend on the other domain) is a point where
 * the rest of the world runs (one shared access per atomic step); so is a
 * sleep on a mutex, a work item, a wait queue or a completion.
 */
#include "sim_internal.h"

static ucontext_t *ctx_of(const struct thread *t)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++)
		if (t >= w.dom[i].th && t < w.dom[i].th + SIM_NTH)
			return &ctxs[i][t - w.dom[i].th];
	abort();
}

static void yield(void)
{
	swapcontext(ctx_of(cur_t), &sched_ctx);
}

static void yield_dead(void)
{
	struct thread *t = cur_t;

	t->dead = 1;
	for (;;)
		swapcontext(ctx_of(t), &sched_ctx);
}

/* The thread is about to do something that may sleep. */
static void may_sleep(const char *what)
{
	struct thread *t = cur_t;

	if (!t)
		return;
	if (t->act == ACT_IRQ)
		violate(PROP_SAFE, "%s sleeps (%s) in interrupt context", me(), what);
	if (t->spins)
		violate(PROP_SAFE, "%s sleeps (%s) while it holds a spinlock", me(), what);
}

/*
 * A shared access is about to happen: let the rest of the world run first.
 * The result the caller will see is folded into the thread's hash by
 * step_result(), so two suspended callbacks that saw the same results are
 * the same configuration.
 */
static void xs_point(int shared)
{
	struct thread *t = cur_t;

	if (!t)
		return;
	may_sleep("a xenstore access");
	if (++t->steps > lim.steps)
		violate(PROP_RETURNS,
			"a %s callback made more than %d xenstore accesses without returning",
			cur->side, lim.steps);
	/*
	 * Only writes and reads of the other end's nodes are points where the
	 * rest of the world runs: a read of the domain's own nodes is folded
	 * into the step before it (what others write there, the toolstack's
	 * online for instance, lands before or after that step).  The first
	 * access belongs to the move that started the activity.
	 */
	if (++t->points > 1 && shared)
		yield();
}

/*
 * A grant-table or event-channel operation whose outcome depends on the
 * other domain (mapping its grant, binding to its port).  Operations that
 * only change what the other domain will see (ending a grant, closing a
 * port) need no point of their own: the other domain's next look at them
 * is one, so both orders are explored.
 */
static void hyp_point(void)
{
	struct thread *t = cur_t;

	if (!t || t->act == ACT_IRQ)
		return;
	if (++t->points > 1)
		yield();
}

static void step_result(long v)
{
	if (cur_t)
		cur_t->hash = mix(cur_t->hash, (uint64_t)v);
}

static void api_call(void)
{
	if (cur_t && ++cur_t->calls > MAX_CALLS)
		violate(PROP_RETURNS,
			"a %s callback made more than %d kernel calls without returning",
			cur->side, MAX_CALLS);
}

/*
 * A fallible operation (an allocation, a grant, an event channel) while a
 * planted "short of memory" fault is in force: the explorer decides whether
 * this one fails.  Nothing else runs meanwhile.
 */
static int fault_here(const char *what)
{
	struct dom *d = cur;
	struct thread *t = cur_t;

	if (!d || !t || !d->nomem || t->act == ACT_IRQ)
		return 0;
	t->decision = DEC_ALLOC;
	w.deciding++;
	yield();
	w.deciding--;
	t->decision = DEC_NONE;
	if (!t->chosen)
		return 0;
	t->chosen = 0;
	d->nomem = 0;
	step_result(-ENOMEM);
	trace("%s: %s fails (planted)", d->name, what);
	return 1;
}

/* Sleep until the thread is runnable again (see thread_runnable()). */
static void block_on(int kind, const void *on, unsigned int val, const char *what)
{
	struct thread *t = cur_t;

	may_sleep(what);
	t->block = kind;
	t->block_on = on;
	t->block_val = val;
	t->points++;
	yield();
	t->block = BLK_NONE;
	t->block_on = NULL;
}

static int thread_id(void)
{
	return 1 + dom_index(cur) * SIM_NTH + (int)(cur_t - cur->th);
}

static struct thread *thread_by_id(int id, struct dom **d)
{
	if (id <= 0 || id > SIM_NDOM * SIM_NTH)
		return NULL;
	*d = &w.dom[(id - 1) / SIM_NTH];
	return &(*d)->th[(id - 1) % SIM_NTH];
}

/* NAMEfront_user_connect() returned 0: calls may start. */
void xbgen_sim_user_up(void *fdev)
{
	trace("%s: calls may start", cur ? cur->name : "?");
	w.user_fdev = fdev;
}

/*
 * NAMEfront_user_disconnect() is called: as its contract says, the program
 * stops calling and the hook waits until its call in flight has returned.
 */
void xbgen_sim_user_down(void *fdev)
{
	struct thread *u = &fe()->th[TH_USER];

	(void)fdev;
	w.user_fdev = NULL;
	if (u->act != ACT_NONE && u != cur_t) {
		trace("%s: waits for the program's call to return", cur->name);
		block_on(BLK_USER, u, 0, "the user's disconnect hook");
	}
}

/*
 * The backend's user handler is called (the linker wraps NAMEback_handle()):
 * it may sleep, for as long as it likes.  The worker stops here; the rest of
 * the world, the user and the toolstack included, may act meanwhile, and the
 * explorer picks when it wakes (a system move: it does wake).  A handler
 * called where nothing may sleep is a finding of its own (may_sleep()).
 */
/*
 * The guest program fills the request's explicit padding with garbage, as a
 * caller that sets the fields one by one may leave it: the frontend must
 * send zeros, or it leaks the guest's stack to the backend's domain.
 */
void xbgen_sim_padding_leak(const char *field)
{
	violate(PROP_SAFE, "the backend receives request padding %s that is not zero: the "
		"frontend sends its caller's stack bytes to the other domain", field);
}

/*
 * The guest program's call returned 0 with the answer to request @id; the
 * backend's handler is called for request @id.  A request whose answer the
 * caller already has must not reach the backend again (a frontend that
 * re-issues its requests after a restore must re-issue only those still
 * unanswered: the second answer would land on a free or reused slot).
 */
void xbgen_sim_answered(unsigned long long id)
{
	if (w.nanswered == (int)(sizeof(w.answered) / sizeof(w.answered[0]))) {
		memmove(w.answered, w.answered + 1, sizeof(w.answered) - sizeof(w.answered[0]));
		w.nanswered--;
	}
	w.answered[w.nanswered++] = id;
}

/* The call reports more bytes back than its buffer holds. */
void xbgen_sim_bad_length(unsigned long got)
{
	violate(PROP_CALLS, "a call with a buffer of %lu bytes reports %lu bytes back",
		XEN_PAGE_SIZE + 1, got);
}

void xbgen_sim_request(unsigned long long id)
{
	int i;

	if (w.flags & SF_TAINTED)
		return;
	for (i = 0; i < w.nanswered; i++)
		if (w.answered[i] == id)
			violate(PROP_CALLS, "the backend receives request %#llx again after the guest "
				"program had its answer: the frontend sent an answered request a "
				"second time", id);
}

void xbgen_sim_handler_enter(void)
{
	struct thread *t = cur_t;

	if (!t)
		return;
	t->in_handler = 1;
	trace("%s: %sback_handle() sleeps", cur->name, devtype);
	block_on(BLK_HANDLER, NULL, 0, "the backend's user handler");
	trace("%s: %sback_handle() wakes", cur->name, devtype);
}

void xbgen_sim_handler_leave(void)
{
	if (cur_t)
		cur_t->in_handler = 0;
}

static void trampoline(void)
{
	struct dom *d = cur;
	struct thread *t = cur_t;

	switch (t->act) {
	case ACT_WATCH: {
		int ev = d->q[0];

		memmove(d->q, d->q + 1, (size_t)--d->qlen);
		if (ev == EV_BUS)
			act_bus(d);
		else if (d->dev && d->dev->watching)
			act_otherend(d);
		break;
	}
	case ACT_BIND:
		act_probe(d);
		break;
	case ACT_UNBIND:
		act_remove(d);
		break;
	case ACT_INSMOD:
		act_insmod(d);
		break;
	case ACT_RMMOD:
		act_rmmod(d);
		break;
	case ACT_SAVE:
		act_save(d);
		break;
	case ACT_WORK:
		trace("%s: a work item runs", d->name);
		t->work->func(t->work);
		break;
	case ACT_CALL:
		trace("%s: the program calls %sfront_call()", d->name, devtype);
		w.call_result = xbgen_sim_call(w.user_fdev);
		trace("%s: the call returns %d", d->name, w.call_result);
		break;
	case ACT_IRQ: {
		struct irqrec *q = &w.irqs[dom_index(d)][t->irq];
		irq_handler_t handler = q->handler;
		void *dev_id = q->dev_id;

		trace("%s: interrupt on irq %d", d->name, IRQ_BASE + t->irq);
		handler(IRQ_BASE + t->irq, dev_id);
		break;
	}
	}
	t->done = 1;
	for (;;)
		swapcontext(ctx_of(t), &sched_ctx);
}

static int shared_memory(void)
{
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		if (w.maps[i].used)
			return 1;
	return 0;
}

/* Both drivers are loaded and bound: someone is there to answer. */
static int serving(void)
{
	return fe()->loaded && be()->loaded && fe()->dev && fe()->dev->bound && be()->dev &&
	       be()->dev->bound;
}

/* The thread returned: check what it leaves behind. */
static void finish(struct dom *d, struct thread *t)
{
	const char *name = who(d, t);

	if (t->mutexes)
		violate(PROP_SAFE, "%s returns holding a mutex", name);
	else if (t->spins)
		violate(PROP_SAFE, "%s returns holding a spinlock", name);
	/*
	 * On a legal schedule a call gets its answer, or -ENOTCONN (not sent)
	 * or -ECONNRESET (sent, no answer) when the device goes meanwhile.  A
	 * wait times out only when nothing else can happen: a timeout is a
	 * lost request or event, unless the user left no backend to answer
	 * (unbound, unloaded).
	 */
	if (t->act == ACT_CALL && !(w.flags & SF_TAINTED) && w.call_result &&
	    w.call_result != -ENOTCONN && w.call_result != -ECONNRESET &&
	    (w.call_result != -ETIMEDOUT || (serving() && both_connected())))
		violate(PROP_CALLS, "a call of %sfront_call() returned %d%s on a legal schedule",
			devtype, w.call_result,
			w.call_result == -ETIMEDOUT ? " (-ETIMEDOUT: no answer, both ends Connected)" :
			w.call_result == -EIO ? " (-EIO: the backend broke the protocol)" : "");
	t->act = ACT_NONE;
	t->done = 0;
	t->work = NULL;
	if (t == &d->th[TH_MAIN]) {
		if (d->txn) {
			violate(PROP_RESOURCES, "%s returns with a xenstore transaction still open",
				name);
			txn_close(d);
		}
		if (d->xsfail == 2)
			d->xsfail = 0;
		if (d->nomem == 2)
			d->nomem = 0;
	}
}

/*
 * Something other than the suspended threads of @d (another of its threads,
 * @except, or the simulation itself) is about to change memory they may
 * read: note the heap as they left it, once.
 */
static void note_heaps(struct dom *d, struct thread *except)
{
	int shared = shared_memory(), have = 0, i, k;
	uint64_t h = 0;

	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *o = &w.dom[i].th[k];

			if (o == except || o->act == ACT_NONE || o->watch ||
			    (&w.dom[i] != d && !shared))
				continue;
			if (!have) {
				h = heap_hash();
				have = 1;
			}
			o->heap_at = h;
			o->watch = 1;
		}
}

static void resume(struct dom *d, struct thread *t)
{
	struct dom *pd = cur;
	struct thread *pt = cur_t;

	/*
	 * What a thread holds in its locals follows from what it has read.
	 * Another thread may have changed the heap since this one stopped: then
	 * what it reads next, and so what it does, depends on the heap as it is
	 * now.  (Unchanged, the heap follows from the thread's own history.)
	 */
	if (t->watch) {
		uint64_t h = heap_hash();

		if (h != t->heap_at)
			t->hash = mix(t->hash, h);
		t->watch = 0;
	}
	note_heaps(d, t);
	cur = d;
	cur_t = t;
	swapcontext(&sched_ctx, ctx_of(t));
	cur = pd;
	cur_t = pt;
	if (t->done)
		finish(d, t);
}

static void start(struct dom *d, int ti, int kind)
{
	struct thread *t = &d->th[ti];
	uint64_t h;

	t->act = kind;
	t->done = t->dead = 0;
	t->steps = t->points = t->calls = 0;
	t->in_module = t->core = 0;
	t->told = -1;
	t->block = BLK_NONE;
	t->block_on = NULL;
	t->block_val = 0;
	t->timeout = t->timed_out = 0;
	t->spins = t->mutexes = 0;
	t->watch = 0;
	t->excused = 0;
	t->in_handler = 0;
	t->decision = t->chosen = 0;
	h = mix(world_hash(0), (uint64_t)kind);
	if (kind == ACT_WORK)
		h = hash_word(h, (uint64_t)(uintptr_t)t->work);
	if (kind == ACT_IRQ)
		h = mix(h, (uint64_t)t->irq);
	t->hash = h;
	if (ti == TH_MAIN) {
		if (d->xsfail == 1)
			d->xsfail = 2;
		if (d->nomem == 1)
			d->nomem = 2;
	}
	getcontext(ctx_of(t));
	UNPOISON(stacks[dom_index(d)][ti], STACK_SIZE);
	ctx_of(t)->uc_stack.ss_sp = stacks[dom_index(d)][ti];
	ctx_of(t)->uc_stack.ss_size = STACK_SIZE;
	ctx_of(t)->uc_link = NULL;
	makecontext(ctx_of(t), trampoline, 0);
	resume(d, t);
}

static int thread_runnable(struct dom *d, struct thread *t)
{
	switch (t->block) {
	case BLK_MUTEX:
		return ((const struct mutex *)t->block_on)->locked == 0;
	case BLK_WORK:
		return !work_busy(d, t->block_on);
	case BLK_FLUSH:
		return !work_busy(d, t->block_on) && work_index(d, t->block_on) < 0;
	case BLK_WAITQ:
		return ((const wait_queue_head_t *)t->block_on)->waiters != (int)t->block_val;
	case BLK_COMPLETION:
		return ((const struct completion *)t->block_on)->done > 0;
	case BLK_USER:
		return ((const struct thread *)t->block_on)->act == ACT_NONE;
	case BLK_WQFLUSH:
		return !wq_busy(d, t->block_on);
	case BLK_PAUSED:
		return !w.paused;
	default:	/* BLK_HANDLER: a sleeping handler may wake at any time */
		return 1;
	}
}

static const char *block_name(int block)
{
	switch (block) {
	case BLK_MUTEX: return "mutex_lock()";
	case BLK_WORK: return "cancel_work_sync()";
	case BLK_FLUSH: return "flush_work()";
	case BLK_WAITQ: return "a wait_event()";
	case BLK_COMPLETION: return "wait_for_completion()";
	case BLK_USER: return "the disconnect hook";
	case BLK_HANDLER: return "the backend's user handler";
	case BLK_WQFLUSH: return "flush_workqueue()";
	case BLK_PAUSED: return "the suspend hypercall (paused)";
	default: return "?";
	}
}

/* The thread a sleeping thread waits for, if one: the mutex's owner, the worker. */
static struct thread *waits_for(struct dom *d, struct thread *t, struct dom **od)
{
	*od = d;
	switch (t->act != ACT_NONE ? t->block : BLK_NONE) {
	case BLK_MUTEX:
		return thread_by_id(((const struct mutex *)t->block_on)->locked, od);
	case BLK_WORK:
	case BLK_FLUSH:
		return work_runner(d, t->block_on);
	case BLK_USER:
		return (struct thread *)t->block_on;
	case BLK_WQFLUSH:
		return wq_running(d, t->block_on);
	default:
		return NULL;
	}
}
