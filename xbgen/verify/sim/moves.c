// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the moves: what may happen next in a configuration
 * (sim_enabled()) and making it happen (sim_apply()).  The system's own
 * moves (watch events, threads that run on, the toolstack's steps) are
 * what the kernel and the toolstack will do; the environment's (the user,
 * a hostile guest, planted faults) are what may happen.
 */
#include "sim_internal.h"

static int enabled_nontimeout(int move);

/* "x" reads as Unknown, as "0" would; "9" is no state at all */
static const char *const hostile_values[SIM_HOSTILE_VALUES] = {
	"x", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

static const char *const move_names[] = {
	[MV_INSMOD_BACK] = "insmod backend",
	[MV_INSMOD_FRONT] = "insmod frontend",
	[MV_RMMOD_BACK] = "rmmod backend",
	[MV_RMMOD_FRONT] = "rmmod frontend",
	[MV_UNBIND_BACK] = "unbind backend",
	[MV_UNBIND_FRONT] = "unbind frontend",
	[MV_BIND_BACK] = "bind backend",
	[MV_BIND_FRONT] = "bind frontend",
	[MV_ACTIVATE] = "activate.sh",
	[MV_DEACTIVATE] = "deactivate.sh",
	[MV_DESTROY] = "xl destroy guest",
	[MV_EVENT_BACK] = "domU sends an event",
	[MV_EVENT_FRONT] = "dom0 sends an event",
	[MV_CALL] = "a domU program calls the frontend",
	[MV_SAVE] = "xl save + xl restore of the guest (or xl migrate)",
	[MV_CHECKPOINT] = "xl save -c of the guest (checkpoint: suspend, cancelled)",
	[MV_TOOLSTACK] = "toolstack step",
	[MV_TIMEOUT] = "toolstack times out",
	[MV_WAIT_TIMEOUT] = "a wait times out",
	[MV_GRACE] = "toolstack's grace period ends",
	[MV_WATCH_DOM0] = "dom0 watch event",
	[MV_WATCH_DOMU] = "domU watch event",
	[MV_RUN_DOM0] = "dom0 runs",
	[MV_RUN_DOMU] = "domU runs",
	[MV_WORK_DOM0] = "dom0 work item runs",
	[MV_WORK_DOMU] = "domU work item runs",
	[MV_IRQ_DOM0] = "dom0 interrupt",
	[MV_IRQ_DOMU] = "domU interrupt",
	[MV_WORK2_DOM0] = "dom0 second worker runs",
	[MV_WORK2_DOMU] = "domU second worker runs",
	[MV_USER_DOMU] = "domU program runs",
	[MV_XSFAIL_DOM0] = "dom0 xenstore write fails",
	[MV_XSFAIL_DOMU] = "domU xenstore write fails",
	[MV_NOMEM_DOM0] = "dom0 runs short of memory",
	[MV_NOMEM_DOMU] = "domU runs short of memory",
	[MV_ALLOCFAIL_DOM0] = "dom0 allocation fails",
	[MV_ALLOCFAIL_DOMU] = "domU allocation fails",
	[MV_CONFLICT_DOM0] = "dom0 transaction conflicts (EAGAIN)",
	[MV_CONFLICT_DOMU] = "domU transaction conflicts (EAGAIN)",
	[MV_HOSTILE_RING] = "guest corrupts the ring",
};

const char *sim_move_name(int move)
{
	static char buf[64];

	if (move >= MV_HOSTILE0 && move < SIM_NMOVES) {
		snprintf(buf, sizeof(buf), "guest writes its state = %s",
			 hostile_values[move - MV_HOSTILE0]);
		return buf;
	}
	if (move < 0 || move >= MV_HOSTILE0)
		return "?";
	return move_names[move];
}

static struct dom *move_dom(int move)
{
	switch (move) {
	case MV_INSMOD_BACK: case MV_RMMOD_BACK: case MV_UNBIND_BACK: case MV_BIND_BACK:
	case MV_WATCH_DOM0: case MV_RUN_DOM0: case MV_WORK_DOM0: case MV_IRQ_DOM0:
	case MV_WORK2_DOM0:
	case MV_XSFAIL_DOM0: case MV_NOMEM_DOM0: case MV_ALLOCFAIL_DOM0: case MV_CONFLICT_DOM0:
	case MV_EVENT_FRONT:
		return be();
	default:
		return fe();
	}
}

/*
 * After a hostile write the guest is the attacker's: its frontend driver no
 * longer runs, and only the backend's answers to what the guest writes
 * matter.
 */
static int runs(struct dom *d)
{
	return d->alive && !(d == fe() && (w.hostile_used || w.paused));
}

static int idle(struct dom *d)
{
	return runs(d) && d->th[TH_MAIN].act == ACT_NONE;
}

static int env_left(void)
{
	return w.env_used < lim.env;
}

static int system_move(int move)
{
	return move >= MV_TOOLSTACK && move <= MV_USER_DOMU;
}

static int decision_move(int move)
{
	return move >= MV_ALLOCFAIL_DOM0 && move <= MV_CONFLICT_DOMU;
}

/*
 * The environment (user, toolstack, hostile guest, faults) acts when the
 * system is quiet, or right after another of its own moves: bursts such
 * as unbind-then-bind race the drivers, while a move in the middle of a
 * handshake is modelled by the bursts that precede it.
 */
static int drivers_quiet(void)
{
	int m;

	for (m = MV_WATCH_DOM0; m <= MV_USER_DOMU; m++)
		if (enabled_nontimeout(m))
			return 0;
	return 1;
}

/* How many of the system's own moves (deliveries, runs, toolstack steps) may happen. */
static int system_moves(void)
{
	int m, n = 0;

	for (m = MV_TOOLSTACK; m <= MV_USER_DOMU; m++)
		n += sim_enabled(m) != 0;
	return n;
}

/* The worker of @move's domain sleeps in the backend's user handler. */
static int napping(int move)
{
	struct thread *t;

	if (move == MV_WORK_DOM0 || move == MV_WORK_DOMU)
		t = &move_dom(move)->th[TH_WORK];
	else if (move == MV_WORK2_DOM0 || move == MV_WORK2_DOMU)
		t = &move_dom(move)->th[TH_WORK2];
	else
		return 0;
	return t->act != ACT_NONE && t->block == BLK_HANDLER;
}

/*
 * Neither the drivers nor the toolstack have anything left to do, but for
 * a handler that sleeps: it may sleep as long as it likes, and the user
 * and the toolstack act meanwhile.  (No timer fires while it sleeps.)
 */
static int quiet(void)
{
	int m;

	for (m = MV_WATCH_DOM0; m <= MV_USER_DOMU; m++)
		if (enabled_nontimeout(m) && !napping(m))
			return 0;
	return !enabled_nontimeout(MV_TOOLSTACK);
}

/* env_turn() while sim_enabled_moves() asks for every move of one configuration, else -1 */
static int env_turn_now = -1;

static int env_turn(void)
{
	if (env_turn_now >= 0)
		return env_turn_now;
	return w.last_env || quiet();
}

/*
 * The moves enabled now, in order, into @out: what sim_enabled() says of
 * each, with env_turn() (which asks most of the system's moves) asked once.
 */
int sim_enabled_moves(int *out)
{
	int m, n = 0;

	env_turn_now = -1;
	env_turn_now = env_turn();
	for (m = 0; m < SIM_NMOVES; m++)
		if (sim_enabled(m))
			out[n++] = m;
	env_turn_now = -1;
	return n;
}

/* A thread that waits for the explorer's decision, if any. */
static struct thread *deciding(struct dom **dp)
{
	int i, k;

	if (!w.deciding)
		return NULL;
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *t = &w.dom[i].th[k];

			if (t->act != ACT_NONE && !t->dead && t->decision) {
				*dp = &w.dom[i];
				return t;
			}
		}
	return NULL;
}

/* A thread whose sleep may time out and that nothing else wakes, if any. */
static struct thread *timed_waiter(struct dom **dp)
{
	int i, k;

	for (i = 0; i < SIM_NDOM; i++) {
		if (!runs(&w.dom[i]))
			continue;
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *t = &w.dom[i].th[k];

			/* a frozen task's wait does not end (time is not modelled) */
			if (w.frozen && t == &fe()->th[TH_USER])
				continue;
			if (t->act != ACT_NONE && !t->dead && t->block && t->timeout &&
			    !thread_runnable(&w.dom[i], t)) {
				if (dp)
					*dp = &w.dom[i];
				return t;
			}
		}
	}
	return NULL;
}

/* A page of the guest that dom0 maps. */
static struct grant *mapped_guest_page(void)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].owner == SIM_DOMU && w.grants[i].maps)
			return &w.grants[i];
	return NULL;
}

int sim_enabled(int move)
{
	struct dom *dd;
	struct thread *dt;

	if (w.prop)
		return 0;
	dt = deciding(&dd);
	if (dt) {
		int b = dd == be();
		int run = dt == &dd->th[TH_MAIN] ? (b ? MV_RUN_DOM0 : MV_RUN_DOMU) :
			  dt == &dd->th[TH_USER] ? MV_USER_DOMU :
			  dt == &dd->th[TH_WORK2] ? (b ? MV_WORK2_DOM0 : MV_WORK2_DOMU) :
			  (b ? MV_WORK_DOM0 : MV_WORK_DOMU);
		int fault = dt->decision == DEC_ALLOC ? (b ? MV_ALLOCFAIL_DOM0 : MV_ALLOCFAIL_DOMU) :
			    (b ? MV_CONFLICT_DOM0 : MV_CONFLICT_DOMU);

		return move == run || move == fault;
	}
	if (move == MV_TIMEOUT)
		/* a wait times out only when nothing else can happen */
		return toolstack_waiting() && !toolstack_grace() && drivers_quiet();
	if (move == MV_GRACE)
		return toolstack_waiting() && toolstack_grace() && drivers_quiet();
	if (move == MV_WAIT_TIMEOUT)
		return timed_waiter(NULL) && drivers_quiet() && !enabled_nontimeout(MV_TOOLSTACK);
	return enabled_nontimeout(move);
}

static int enabled_nontimeout(int move)
{
	struct dom *d = move_dom(move);
	struct thread *t;
	int ti;

	if (!system_move(move) && !decision_move(move) && !env_turn())
		return 0;
	switch (move) {
	case MV_INSMOD_BACK:
	case MV_INSMOD_FRONT:
		return idle(d) && !d->loaded && (!d->ever_loaded || env_left());
	case MV_RMMOD_BACK:
	case MV_RMMOD_FRONT:
		return idle(d) && d->loaded && !(d->dev && d->dev->bound) && env_left();
	case MV_UNBIND_BACK:
	case MV_UNBIND_FRONT:
		return idle(d) && d->dev && d->dev->bound && env_left();
	case MV_BIND_BACK:
	case MV_BIND_FRONT:
		return idle(d) && d->loaded && d->drv && d->dev && !d->dev->bound &&
		       env_left();
	case MV_ACTIVATE:
		return !w.script && fe()->alive && !activate_refused() &&
		       (!(w.flags & SF_ACTIVATED) || env_left()) &&
		       !dir_exists(fe_dir) && !dir_exists(be_dir);
	case MV_DEACTIVATE:
		return !w.script && (w.flags & SF_ACTIVATED) && !(w.flags & SF_DEACT) &&
		       env_left();
	case MV_DESTROY:
		return fe()->alive && !w.script && !w.saving && env_left();
	case MV_SAVE:
	case MV_CHECKPOINT:
		/* do_suspend() runs in the guest's xenwatch thread: when it is free */
		return idle(fe()) && !w.saving && !w.script && fe()->loaded && fe()->dev &&
		       fe()->dev->bound && (w.flags & SF_ACTIVATED) && !(w.flags & SF_DEACT) &&
		       w.saves_used < lim.saves && env_left();
	case MV_EVENT_BACK:
		/* a request, or a spurious event: the frontend's side signals */
		return runs(fe()) && env_left() && signal_port_of(fe()) >= 0;
	case MV_EVENT_FRONT:
		return runs(be()) && env_left() && signal_port_of(be()) >= 0;
	case MV_CALL:
		return xbgen_sim_call && w.user_fdev && runs(fe()) && !w.frozen &&
		       w.calls_used < lim.calls &&
		       env_left() && fe()->th[TH_USER].act == ACT_NONE;
	case MV_USER_DOMU:
		t = &fe()->th[TH_USER];
		return runs(fe()) && !w.frozen && t->act != ACT_NONE && !t->dead && thread_runnable(fe(), t);
	case MV_TOOLSTACK:
		return toolstack_ready();
	case MV_WATCH_DOM0:
	case MV_WATCH_DOMU:
		return idle(d) && d->qlen > 0;
	case MV_RUN_DOM0:
	case MV_RUN_DOMU:
		t = &d->th[TH_MAIN];
		return runs(d) && t->act != ACT_NONE && !t->dead && thread_runnable(d, t);
	case MV_WORK_DOM0:
	case MV_WORK_DOMU:
	case MV_WORK2_DOM0:
	case MV_WORK2_DOMU:
		ti = move == MV_WORK_DOM0 || move == MV_WORK_DOMU ? TH_WORK : TH_WORK2;
		t = &d->th[ti];
		if (!runs(d))
			return 0;
		if (t->act == ACT_NONE)
			return work_next(d, ti) >= 0;
		return !t->dead && thread_runnable(d, t);
	case MV_IRQ_DOM0:
	case MV_IRQ_DOMU:
		return runs(d) && d->th[TH_IRQ].act == ACT_NONE && pending_irq(d) >= 0;
	/* faults and hostile writes start from a quiet system (bursts may follow) */
	case MV_XSFAIL_DOM0:
	case MV_XSFAIL_DOMU:
		return runs(d) && !d->xsfail && w.faults_used < lim.faults &&
		       (d->loaded || d->dev) && !w.last_env && !w.script;
	case MV_NOMEM_DOM0:
	case MV_NOMEM_DOMU:
		return runs(d) && !d->nomem && w.faults_used < lim.faults && d->loaded &&
		       !w.last_env && !w.script;
	case MV_ALLOCFAIL_DOM0:
	case MV_ALLOCFAIL_DOMU:
	case MV_CONFLICT_DOM0:
	case MV_CONFLICT_DOMU:
		return 0;	/* only when a thread waits for the decision */
	case MV_HOSTILE_RING:
		return fe()->alive && w.hostile_used < lim.hostile && mapped_guest_page() &&
		       (!w.last_env || w.last_hostile) && !w.script;
	default:
		if (move >= MV_HOSTILE0 && move < SIM_NMOVES)
			return fe()->alive && w.hostile_used < lim.hostile && dir_exists(fe_dir) &&
			       (!w.last_env || w.last_hostile) && !w.script;
		return 0;
	}
}

/* What the domain's xenwatch thread runs for the user's insmod, rmmod, unbind, bind. */
static const unsigned char user_acts[] = {
	[MV_INSMOD_BACK] = ACT_INSMOD, [MV_INSMOD_FRONT] = ACT_INSMOD,
	[MV_RMMOD_BACK] = ACT_RMMOD, [MV_RMMOD_FRONT] = ACT_RMMOD,
	[MV_UNBIND_BACK] = ACT_UNBIND, [MV_UNBIND_FRONT] = ACT_UNBIND,
	[MV_BIND_BACK] = ACT_BIND, [MV_BIND_FRONT] = ACT_BIND,
};

int sim_apply(int move)
{
	struct dom *d = move_dom(move);
	struct thread *t;
	int was_conn = (move == MV_UNBIND_BACK || move == MV_UNBIND_FRONT) && both_connected();
	/* prompt: on a legal schedule, with both drivers there to act, no timer need fire */
	int late = (move == MV_TIMEOUT || move == MV_WAIT_TIMEOUT || move == MV_GRACE) &&
		   !(w.flags & SF_TAINTED) && serving();

	if (late) {
		w.flags |= SF_LATE;
		trace("a timer fires on a legal schedule with both drivers bound (prompt)");
	}

	switch (move) {
	case MV_INSMOD_BACK ... MV_BIND_FRONT:
		/* loading a module the first time is free */
		if (user_acts[move] != ACT_INSMOD || d->ever_loaded)
			w.env_used++;
		if (was_conn)
			w.flags |= SF_REBIND;
		start(d, TH_MAIN, user_acts[move]);
		break;
	case MV_ACTIVATE:
		if (w.flags & SF_ACTIVATED)
			w.env_used++;
		w.flags &= ~(SF_ACTIVATED | SF_DEACT | SF_DEACT_DONE | SF_FORCED |
			     SF_FE_CLOSED | SF_DEACT_CLEAN | SF_WAS_CONN);
		toolstack_run(1);
		break;
	case MV_DEACTIVATE:
		w.env_used++;
		w.flags |= SF_DEACT;
		if (fe()->dev && fe()->dev->bound && be()->dev && be()->dev->bound &&
		    !(w.flags & SF_DESTROYED))
			w.flags |= SF_DEACT_CLEAN;
		toolstack_run(2);
		break;
	case MV_DESTROY:
		w.env_used++;
		destroy_guest();
		break;
	case MV_SAVE:
	case MV_CHECKPOINT:
		w.env_used++;
		w.saves_used++;
		w.saving = move == MV_SAVE ? 1 : 2;
		start(fe(), TH_MAIN, ACT_SAVE);
		break;
	case MV_EVENT_BACK:
	case MV_EVENT_FRONT: {
		struct dom *from = move == MV_EVENT_BACK ? fe() : be();

		w.env_used++;
		trace("%s signals event channel %d", from->name, signal_port_of(from));
		signal_port(from, signal_port_of(from));
		break;
	}
	case MV_CALL:
		w.env_used++;
		w.calls_used++;
		start(fe(), TH_USER, ACT_CALL);
		break;
	case MV_USER_DOMU:
		resume(fe(), &fe()->th[TH_USER]);
		break;
	case MV_TOOLSTACK:
		toolstack_step(0);
		break;
	case MV_TIMEOUT:
		toolstack_step(1);
		break;
	case MV_GRACE:
		trace("toolstack: one end is Closed and the other's grace period is over");
		toolstack_step(0);
		break;
	case MV_WAIT_TIMEOUT:
		t = timed_waiter(&d);
		trace("%s: %s times out", d->name, block_name(t->block));
		t->timed_out = 1;
		t->block = BLK_NONE;
		resume(d, t);
		break;
	case MV_WATCH_DOM0:
	case MV_WATCH_DOMU:
		start(d, TH_MAIN, ACT_WATCH);
		break;
	case MV_RUN_DOM0:
	case MV_RUN_DOMU:
		resume(d, &d->th[TH_MAIN]);
		break;
	case MV_WORK_DOM0:
	case MV_WORK_DOMU:
	case MV_WORK2_DOM0:
	case MV_WORK2_DOMU: {
		int ti = move == MV_WORK_DOM0 || move == MV_WORK_DOMU ? TH_WORK : TH_WORK2;
		int i;

		t = &d->th[ti];
		if (t->act == ACT_NONE) {
			i = work_next(d, ti);
			t->work = d->works[i];
			work_dequeue(d, i);
			t->work->data &= ~WORK_PENDING;
			start(d, ti, ACT_WORK);
		} else {
			resume(d, t);
		}
		break;
	}
	case MV_IRQ_DOM0:
	case MV_IRQ_DOMU: {
		int i = pending_irq(d);
		struct irqrec *q = &w.irqs[dom_index(d)][i];

		w.ports[dom_index(d)][q->port].pending = 0;
		q->masked = 1;	/* lateeoi: until the handler's EOI */
		d->th[TH_IRQ].irq = i;
		start(d, TH_IRQ, ACT_IRQ);
		break;
	}
	case MV_XSFAIL_DOM0:
	case MV_XSFAIL_DOMU:
	case MV_NOMEM_DOM0:
	case MV_NOMEM_DOMU:
		w.faults_used++;
		w.flags |= SF_TAINTED | SF_FAULT;
		if (move == MV_XSFAIL_DOM0 || move == MV_XSFAIL_DOMU)
			d->xsfail = 1;
		else
			d->nomem = 1;
		break;
	case MV_ALLOCFAIL_DOM0:
	case MV_ALLOCFAIL_DOMU:
	case MV_CONFLICT_DOM0:
	case MV_CONFLICT_DOMU: {
		struct dom *dd;

		t = deciding(&dd);
		if (move == MV_CONFLICT_DOM0 || move == MV_CONFLICT_DOMU)
			w.faults_used++;	/* a conflict is legal: no taint */
		t->chosen = 1;
		resume(dd, t);
		break;
	}
	case MV_HOSTILE_RING: {
		struct grant *g = mapped_guest_page();
		uint32_t *sring = (uint32_t *)g->page;
		int i;

		note_heaps(be(), NULL);
		w.hostile_used++;
		w.flags |= SF_TAINTED;
		/* req_prod far past the responses, and an event */
		sring[0] = sring[2] + 0x1000;
		trace("the guest writes req_prod = %u into its ring and signals", sring[0]);
		for (i = 1; i < MAX_PORTS; i++)
			if (w.ports[SIM_DOMU][i].state == P_INTERDOMAIN)
				signal_port(fe(), i);
		break;
	}
	default: {
		char path[SIM_PATH + 8];

		w.hostile_used++;
		w.flags |= SF_TAINTED;
		snprintf(path, sizeof(path), "%s/state", fe_dir);
		trace("the guest writes %s = %s", path, hostile_values[move - MV_HOSTILE0]);
		xs_write(path, hostile_values[move - MV_HOSTILE0]);
		break;
	}
	}
	/* any activity that already died in a violation stays dead */
	if (!w.prop && (move == MV_RUN_DOM0 || move == MV_RUN_DOMU) && d->th[TH_MAIN].dead)
		w.prop = PROP_SAFE;
	if (!w.prop)
		check_blocked();
	if (!w.prop)
		check_leaks();
	if (!w.prop)
		check_released();
	if (!w.prop)
		check_restored();
	if (!(w.flags & SF_WAS_CONN) && both_connected())
		w.flags |= SF_WAS_CONN;
	if ((w.flags & (SF_DEACT | SF_FE_CLOSED)) == SF_DEACT &&
	    state_of(fe_dir) == XenbusStateClosed)
		w.flags |= SF_FE_CLOSED;
	/* a destroyed guest cannot close its frontend */
	if ((w.flags & SF_DEACT) && move == MV_DESTROY)
		w.flags &= ~SF_DEACT_CLEAN;
	/* the toolstack's steps are the environment's too: a user may act between them */
	w.last_env = !(system_move(move) || decision_move(move)) || move == MV_TOOLSTACK ||
		     move == MV_GRACE;
	w.last_hostile = move >= MV_HOSTILE_RING;
	return w.prop;
}
