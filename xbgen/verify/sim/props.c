// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the properties.  A violation stops the thread that made it;
 * after every move the checks for deadlocks and leaks run; the summary of a
 * configuration is what the explorer judges the goals (connect, close,
 * rebind) on; the crash handlers print the schedule that ran into a
 * sanitizer report or a hang.
 */
#include "sim_internal.h"

static char msg[512];			/* the last violation */
static int tracing;			/* replays print what happens */
static const int *sched_moves;
static int sched_n;

static void trace(const char *fmt, ...)
{
	va_list ap;

	if (!tracing)
		return;
	va_start(ap, fmt);
	fputs("    | ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

static void violate(int prop, const char *fmt, ...)
{
	va_list ap;

	if (!w.prop) {
		w.prop = prop;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		trace("VIOLATION (%d): %s", prop, msg);
	}
	if (cur_t)
		yield_dead();
}

const char *sim_violation(void)
{
	return msg;
}

static void print_schedule(const char *what)
{
	int i;

	printf("\nXBGEN-%s", what);
	for (i = 0; i < sched_n; i++)
		printf(" %d", sched_moves[i]);
	printf("\n");
	fflush(stdout);
}

static void on_death(void)
{
	print_schedule("CRASH");
}

/*
 * UBSan has its own copy of the sanitizers' common code, with its own death
 * callback: `xbgen verify` has it abort instead, and the abort lands here.
 */
static void on_abort(int sig)
{
	(void)sig;
	print_schedule("CRASH");
	_exit(3);
}

static void on_alarm(int sig)
{
	(void)sig;
	print_schedule("HANG");
	_exit(4);
}

void sim_set_schedule(const int *moves, int n)
{
	sched_moves = moves;
	sched_n = n;
}

void sim_trace(int on)
{
	tracing = on;
}

static int both_connected(void)
{
	return state_of(fe_dir) == XenbusStateConnected &&
	       state_of(be_dir) == XenbusStateConnected;
}

/*
 * xenwatch-free: dom0's xenwatch thread serves every guest's devices; in a
 * watch callback (and the probe and remove it runs) it must not sleep on
 * something only a backend user handler's return lets go on: a mutex the
 * handler's thread holds, a work item or workqueue it runs in, or anything
 * that waits for one of those.  (insmod, rmmod and sysfs bind/unbind, which
 * the same thread stands for, may wait.)  Waits on a completion or a wait
 * queue name no thread, and are not followed.
 */
static void check_xenwatch(void)
{
	struct dom *d = be(), *xd = d, *nd;
	struct thread *t = &d->th[TH_MAIN], *x = t, *y;
	int n;

	if (!runs(d) || t->act != ACT_WATCH || t->dead || !t->block || thread_runnable(d, t))
		return;
	for (n = 0; n < SIM_NDOM * SIM_NTH; n++) {
		y = waits_for(xd, x, &nd);
		if (!y || y == t)
			return;
		if (y->in_handler) {
			violate(PROP_XENWATCH, "dom0's xenwatch thread (%s) sleeps in %s until %s "
				"returns from %sback_handle(), which may sleep as long as it likes: "
				"meanwhile no xenbus device of any guest moves in dom0", who(d, t),
				block_name(t->block), who(nd, y), devtype);
			return;
		}
		x = y;
		xd = nd;
	}
}

/* Sleeping threads: a cycle of waits, or a sleep nothing can end. */
static void check_blocked(void)
{
	struct dom *sd = NULL;
	struct thread *st = NULL;
	int i, k, n;

	check_xenwatch();
	if (w.prop)
		return;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];

		if (!runs(d))
			continue;
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *t = &d->th[k], *x = t;
			struct dom *xd = d;

			if (t->act == ACT_NONE || t->dead || !t->block || thread_runnable(d, t))
				continue;
			for (n = 0; n < SIM_NDOM * SIM_NTH; n++) {
				struct dom *nd;

				x = waits_for(xd, x, &nd);
				xd = nd;
				if (!x)
					break;
				if (x == t) {
					struct dom *od;
					struct thread *o = waits_for(d, t, &od);

					violate(PROP_DEADLOCK,
						"deadlock: %s sleeps in %s for %s, which sleeps in %s "
						"for it", who(d, t), block_name(t->block), who(od, o),
						block_name(o->block));
					return;
				}
			}
			if (!t->timeout && !st) {
				sd = d;
				st = t;
			}
		}
	}
	if (st && !system_moves())
		violate(PROP_DEADLOCK, "%s sleeps for ever in %s: nothing can wake it",
			who(sd, st), block_name(st->block));
}

/* What a domain still holds when it should hold nothing: no device, or unloaded. */
static void check_resources(struct dom *d, int module, const char *when)
{
	int di = dom_index(d), i, n;
	uint32_t ref = 0;

	for (i = 0; i < MAX_IRQS; i++) {
		char chan[48] = "its event channel went with the old domain";

		if (!w.irqs[di][i].used || w.irqs[di][i].module != module)
			continue;
		if (w.irqs[di][i].port)
			snprintf(chan, sizeof(chan), "event channel %d", w.irqs[di][i].port);
		violate(PROP_RESOURCES, "leak: irq %d of the %s (%s) is still bound %s",
			IRQ_BASE + i, d->side, chan, when);
	}
	for (i = 1; i < MAX_PORTS; i++)
		if (w.ports[di][i].state != P_FREE && w.ports[di][i].module == module)
			violate(PROP_RESOURCES, "leak: event channel %d of the %s is still open %s",
				i, d->side, when);
	n = count_grants(di, module, &ref);
	if (n)
		violate(PROP_RESOURCES, "leak: %d grant(s) of the %s (grant %u) still granted %s",
			n, d->side, ref, when);
	n = count_maps(di, module);
	if (n)
		violate(PROP_RESOURCES, "leak: the %s still maps %d ring(s) or page(s) of the other domain %s",
			d->side, n, when);
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].dom == di && w.dents[i].module == module)
			violate(PROP_RESOURCES, "leak: debugfs entry '%s' of the %s is still there %s",
				w.dents[i].name, d->side, when);
	for (i = 0; i < w.nallocs; i++)
		if (w.allocs[i].kind == K_DEV && w.allocs[i].dom == di && w.allocs[i].module == module)
			violate(PROP_RESOURCES, "leak: the %s's removed xenbus device is still referenced "
				"(get_device() without put_device()) %s", d->side, when);
	n = live_allocs(di, module);
	if (n)
		violate(PROP_SAFE, "leak: %d allocation(s) of the %s %s", n, d->side,
			module ? "module live after it unloaded" : "still live with no device bound");
}

/*
 * A domain's driver with no device bound, or unloaded, holds nothing once
 * nothing of it runs any more: a connection may tear itself down in a work
 * item after the device went (as blkback does), but a module's work must
 * be gone when it unloads.
 */
static void check_leaks(void)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int busy;

		if (!d->alive || d->th[TH_MAIN].act != ACT_NONE)
			continue;
		busy = d->nworks || workers_busy(d);
		if (!d->loaded && busy) {
			violate(PROP_RESOURCES, "leak: a work item of the %s is still queued or running "
				"after its module unloaded", d->side);
			continue;
		}
		if (busy || d->th[TH_IRQ].act != ACT_NONE)
			continue;
		if (!(d->dev && d->dev->bound))
			check_resources(d, 0, "with no device bound");
		if (!d->loaded)
			check_resources(d, 1, "after its module unloaded");
	}
}

/*
 * released: a side whose state node says Closed (or is gone), once the
 * drivers have nothing left to do, holds nothing of its connection: no
 * mapping, grant, event channel or irq.  (A side with no device bound is
 * check_leaks()'s.)
 */
static void check_released(void)
{
	int i, j, n;

	if (!drivers_quiet())
		return;
	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int st, di = i;
		uint32_t ref = 0;
		char how[48];

		if (!runs(d) || !d->dev || !d->dev->bound || d->th[TH_MAIN].act != ACT_NONE)
			continue;
		st = state_of(d == fe() ? fe_dir : be_dir);
		if (st != XenbusStateClosed && st != -1)
			continue;
		snprintf(how, sizeof(how), "%s", st == -1 ? "its directory is gone" : "it is Closed");
		for (j = 0; j < MAX_IRQS; j++) {
			char chan[48] = "its event channel went with the old domain";

			if (!w.irqs[di][j].used || w.irqs[di][j].module)
				continue;
			if (w.irqs[di][j].port)
				snprintf(chan, sizeof(chan), "event channel %d", w.irqs[di][j].port);
			violate(PROP_RELEASED, "the %s still has irq %d (%s) bound once %s and quiet",
				d->side, IRQ_BASE + j, chan, how);
		}
		for (j = 1; j < MAX_PORTS; j++)
			if (w.ports[di][j].state != P_FREE && !w.ports[di][j].module)
				violate(PROP_RELEASED, "the %s still has event channel %d open once %s "
					"and quiet", d->side, j, how);
		n = count_grants(di, 0, &ref);
		if (n)
			violate(PROP_RELEASED, "the %s still grants %d page(s) (grant %u) once %s and "
				"quiet", d->side, n, ref, how);
		n = count_maps(di, 0);
		if (n)
			violate(PROP_RELEASED, "the %s still maps %d ring(s) or page(s) of the other domain once "
				"%s and quiet", d->side, n, how);
	}
}

/*
 * After a save: once the guest's device is Connected again and its drivers
 * are quiet, nothing of the connection before the save is left: no irq
 * whose event channel went with the old domain (one irq per device), no
 * grant of the old domain's table never ended (its ring page with it).
 * (With no device bound, check_leaks() counts them as any other.)
 */
static void check_restored(void)
{
	struct dom *d = fe();
	int i, di = SIM_DOMU;

	if (!(w.flags & SF_SAVED) || !runs(d) || w.saving || !d->dev || !d->dev->bound ||
	    d->dev->xb.state != XenbusStateConnected || !drivers_quiet())
		return;
	for (i = 0; i < MAX_IRQS; i++)
		if (w.irqs[di][i].used && !w.irqs[di][i].port)
			violate(PROP_RESOURCES, "leak: irq %d of the frontend, bound before the save, is "
				"still bound once the device is Connected again (its event channel "
				"went with the old domain: one irq per device)", IRQ_BASE + i);
	for (i = 0; i < MAX_GRANTS; i++) {
		struct grant *g = &w.grants[i];

		if (g->used == 1 && g->owner == di && !g->zombie && g->gen != w.gen)
			violate(PROP_RESOURCES, "leak: grant %u of the frontend, granted before the "
				"save, is never ended once the device is Connected again (its ring "
				"page with it)", g->ref);
	}
}

static int dev_state(struct dom *d)
{
	return d->dev ? (int)d->dev->xb.state : -1;
}

void sim_summarise(struct sim_summary *s)
{
	s->hash = world_hash(1);
	s->fe_state = state_of(fe_dir);
	s->be_state = state_of(be_dir);
	s->fe_dev = dev_state(fe());
	s->be_dev = dev_state(be());
	s->fe_bound = fe()->dev && fe()->dev->bound;
	s->be_bound = be()->dev && be()->dev->bound;
	s->system_moves = system_moves();
	s->flags = w.flags;
	if (fe()->loaded)
		s->flags |= SF_LOADED_F;
	if (be()->loaded)
		s->flags |= SF_LOADED_B;
	if (dir_exists(fe_dir))
		s->flags |= SF_FE_DIR;
	if (dir_exists(be_dir))
		s->flags |= SF_BE_DIR;
}

static const char *show_state(int s)
{
	static char buf[4][24];
	static int k;

	k = (k + 1) & 3;
	if (s == -1)
		return "gone";
	if (s == -2)
		return "no state";
	snprintf(buf[k], sizeof(buf[k]), "%s", xenbus_strstate(s));
	return buf[k];
}

static void describe_side(char *buf, int len, struct dom *d, int st, int front)
{
	char extra[64] = "";
	const char *how;

	if (front)
		how = !d->alive ? " (guest destroyed)" : !d->loaded ? " (not loaded)" :
		      !(d->dev && d->dev->bound) ? " (unbound)" : "";
	else
		how = !d->loaded ? " (not loaded)" : !d->dev ? " (no device)" :
		      !d->dev->bound ? " (unbound)" : "";
	if (d->qlen)
		snprintf(extra, sizeof(extra), ", %d event(s) queued", d->qlen);
	snprintf(buf, (size_t)len, "%s %s%s%s%s%s", front ? "frontend" : "backend",
		 show_state(st), how, d->th[TH_MAIN].act != ACT_NONE ? ", running" : "", extra,
		 d->nworks || workers_busy(d) ? ", work pending" : "");
}

void sim_describe(char *buf, int len)
{
	char f[160], b[160], r[96] = "";
	int i, j, grants = 0, maps = 0, ports = 0;

	describe_side(f, sizeof(f), fe(), state_of(fe_dir), 1);
	describe_side(b, sizeof(b), be(), state_of(be_dir), 0);
	for (i = 0; i < MAX_GRANTS; i++)
		grants += w.grants[i].used != 0;
	for (i = 0; i < MAX_MAPS; i++)
		maps += w.maps[i].used;
	for (i = 0; i < SIM_NDOM; i++)
		for (j = 1; j < MAX_PORTS; j++)
			ports += w.ports[i][j].state != P_FREE;
	if (grants || maps || ports)
		snprintf(r, sizeof(r), " | %d grant(s), %d mapping(s), %d event channel(s)",
			 grants, maps, ports);
	snprintf(buf, (size_t)len, "%s | %s%s", f, b, r);
}
