// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the world's domains (dom0 runs the backend, domU the
 * frontend), the names the reports give them, and the reset to the initial
 * configuration.
 */
#include "sim_internal.h"

#include <time.h>

static struct dom *fe(void)
{
	return &w.dom[SIM_DOMU];
}

static struct dom *be(void)
{
	return &w.dom[SIM_DOM0];
}

static int dom_index(const struct dom *d)
{
	return (int)(d - w.dom);
}

static struct dom *dom_by_id(int domid)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].id == domid)
			return &w.dom[i];
	return NULL;
}

static const char *act_name(int act)
{
	switch (act) {
	case ACT_WATCH: return "xenwatch callback";
	case ACT_BIND: return "probe (sysfs bind)";
	case ACT_UNBIND: return "remove (sysfs unbind)";
	case ACT_INSMOD: return "module init";
	case ACT_RMMOD: return "module exit";
	case ACT_WORK: return "work item";
	case ACT_IRQ: return "interrupt handler";
	case ACT_CALL: return "program's call";
	case ACT_SAVE: return "suspend (do_suspend)";
	default: return "thread";
	}
}

/* "the backend's work item" */
static const char *who(const struct dom *d, const struct thread *t)
{
	static char buf[4][64];
	static int k;

	k = (k + 1) & 3;
	snprintf(buf[k], sizeof(buf[k]), "the %s's %s", d ? d->side : "?",
		 t ? act_name(t->act) : "code");
	return buf[k];
}

static const char *me(void)
{
	return who(cur, cur_t);
}

void sim_reset(const struct sim_limits *l)
{
	int i, k;

	lim = *l;
	cur = NULL;
	cur_t = NULL;
	xs_epoch++;
	memset(&w, 0, sizeof(w));
	POISON(arena, arena_hwm);
	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];

		for (k = 0; k < SIM_NTH; k++)
			if (!stacks[i][k])
				stacks[i][k] = malloc(STACK_SIZE);
		d->alive = 1;
		d->name = i == SIM_DOM0 ? "dom0" : "domU";
		d->side = i == SIM_DOM0 ? "backend" : "frontend";
		d->id = i == SIM_DOM0 ? bedom_id : domu_id;
		for (k = 1; k < MAX_PORTS; k++)
			w.ports[i][k].irq = -1;
	}
}

void sim_init(void)
{
	POISON(arena, ARENA_SIZE);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(on_death);
	signal(SIGALRM, on_alarm);
	signal(SIGABRT, on_abort);
}

/*
 * A watchdog for a callback that loops without calling the kernel: it fires
 * after @seconds (less at most one) without a call.  The explorer calls it
 * before each configuration it expands, hundreds of thousands of times:
 * the timer is set again only when a second has passed (or the time
 * changes), not with a system call each time.
 */
void sim_watchdog(int seconds)
{
	static int armed;
	static time_t at;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (seconds == armed && seconds && now.tv_sec == at)
		return;
	armed = seconds;
	at = now.tv_sec;
	alarm((unsigned int)seconds);
}
