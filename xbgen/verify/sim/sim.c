// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: a simulation of the xenbus world the emitted drivers run in.
 *
 * The frontend and backend C files are compiled unchanged against the fake
 * kernel headers that `xbgen check` uses; this file implements what those
 * headers declare.  It follows the real core (drivers/xen/xenbus/
 * xenbus_probe.c, xenbus_probe_backend.c, xenbus_probe_frontend.c,
 * xenbus_client.c):
 *
 *  - a device appears on a bus when its directory's state is Initialising;
 *    probe reads the other end's details, calls the driver's probe, then
 *    watches <otherend>/state, and that watch fires once at once;
 *  - a watch event is queued to the domain's xenwatch thread, which handles
 *    one event at a time and reads the peer's *current* state, so states in
 *    between are missed;
 *  - remove drops the watch and its queued events, calls the driver's
 *    remove, and then writes Closed unless the driver allows rebind (or
 *    the toolstack had written Closing);
 *  - xenbus_switch_state() returns 0 even when its transaction failed, and
 *    then leaves dev->state alone (the failure goes to xenbus_dev_fatal);
 *  - device_unregister() from a callback removes and frees the device.
 *
 * Every xenstore access of a running callback is a point where the other
 * domain and the toolstack may run (one shared access per atomic step):
 * callbacks run as coroutines and yield there.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/errno.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <xen/platform_pci.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "sim.h"

#ifndef EACCES
#define EACCES 13
#endif

#ifdef __SANITIZE_ADDRESS__
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n) __asan_poison_memory_region(p, n)
#define UNPOISON(p, n) __asan_unpoison_memory_region(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* The modules' hooks (module_init/module_exit under XBGEN_SIM). */
extern int (*xbgen_sim_init_front)(void);
extern void (*xbgen_sim_exit_front)(void);
extern int (*xbgen_sim_init_back)(void);
extern void (*xbgen_sim_exit_back)(void);

struct module {
	int unused;
} __this_module;
enum xen_domain_type xen_domain_type = XEN_PV_DOMAIN;

/* ------------------------------------------------------------------ world */

#define MAX_NODES 64
#define MAX_ALLOCS 64
#define QMAX 6
#define STACK_SIZE (128 * 1024)
#define MAX_CALLS 4096

enum { EV_BUS = 1, EV_OTHEREND = 2 };
enum { ACT_NONE, ACT_WATCH, ACT_BIND, ACT_UNBIND, ACT_INSMOD, ACT_RMMOD };

struct xs_node {
	char path[SIM_PATH];
	char val[SIM_VAL];
};

struct simdev {
	struct xenbus_device xb;
	void *drvdata;
	int bound;
	int watching;
	char nodename[SIM_PATH];
	char otherend[SIM_PATH];
	int have_otherend;
};

struct dom {
	int id;
	const char *name;
	const char *side;		/* "frontend" / "backend" */
	int alive;
	int loaded;
	int ever_loaded;
	struct xenbus_driver *drv;
	struct simdev *dev;
	unsigned char q[QMAX];
	int qlen;
	/* the activity (coroutine) in progress, if any */
	int act;
	int act_done;
	int act_dead;
	int act_steps;
	int act_calls;
	int act_in_module;		/* inside module init/exit */
	int told;			/* the state otherend_changed was given */
	uint64_t act_hash;
	ucontext_t ctx;
	char *stack;
	/* planted faults: 1 armed for the next activity, 2 in force */
	int xsfail;
	int nomem;
};

struct alloc {
	void *ptr;
	size_t size;
	int dom;
	int module;			/* made by module init/exit */
};

enum { OP_WRITE, OP_RM, OP_ABSENT, OP_NO_STALE, OP_SKIP_DONE, OP_WAIT_CLOSED };

struct op {
	int kind;
	int step;			/* ops with the same step run at once */
	char path[SIM_PATH];
	char val[SIM_VAL];
	int arg;
};

struct script {
	struct op ops[32];
	int nops;
};

static struct {
	int nxs;
	size_t top;			/* arena bytes in use */
	struct dom dom[SIM_NDOM];
	struct alloc allocs[MAX_ALLOCS];
	int nallocs;
	/* toolstack */
	int script;			/* 0 idle, 1 activate, 2 deactivate */
	int pc;
	unsigned int flags;
	int env_used, hostile_used, faults_used;
	int core;			/* > 0 while the core itself calls the API */
	int last_env;			/* the last move was the environment's */
	int last_hostile;
	int prop;
	char msg[512];
	struct xs_node xs[MAX_NODES];	/* last: snapshots keep the used part */
} w;

static struct sim_limits lim;
static ucontext_t sched_ctx;
static struct dom *cur;
static int tracing;

/* configuration: paths and the toolstack's scripts */
static char fe_dir[SIM_PATH], be_dir[SIM_PATH];
static char fe_home[SIM_PATH], be_home[SIM_PATH];
static char fe_bus[SIM_PATH + 16], be_bus[SIM_PATH + 16];
static int domu_id = 1, bedom_id;
static struct script scripts[3];
static const char *devtype = "?";

static const int *sched_moves;
static int sched_n;

/* "x" reads as Unknown, as "0" would; "9" is no state at all */
static const char *const hostile_values[SIM_HOSTILE_VALUES] = {
	"x", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

static const char *const state_names[] = {
	"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
	"Closing", "Closed", "Reconfiguring", "Reconfigured",
};

const char *xenbus_strstate(enum xenbus_state state)
{
	if ((unsigned int)state < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[state];
	return "INVALID";
}

/* ----------------------------------------------------------------- report */

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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

static void yield_dead(void);

static void violate(int prop, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violate(int prop, const char *fmt, ...)
{
	va_list ap;

	if (!w.prop) {
		w.prop = prop;
		va_start(ap, fmt);
		vsnprintf(w.msg, sizeof(w.msg), fmt, ap);
		va_end(ap);
		trace("VIOLATION (%d): %s", prop, w.msg);
	}
	if (cur)
		yield_dead();
}

const char *sim_violation(void)
{
	return w.msg;
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

/* --------------------------------------------------------------- xenstore */

/* Bumped whenever xenstore may have changed: see state_of(). */
static unsigned long xs_epoch = 1;

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static int xs_find(const char *path)
{
	int i;

	for (i = 0; i < w.nxs; i++)
		if (!strcmp(w.xs[i].path, path))
			return i;
	return -1;
}

static int xs_exists(const char *path)
{
	int i;

	for (i = 0; i < w.nxs; i++)
		if (under(w.xs[i].path, path))
			return 1;
	return 0;
}

static const char *xs_read(const char *path)
{
	int i = xs_find(path);

	return i < 0 ? NULL : w.xs[i].val;
}

static void fire(const char *path);

static void xs_write(const char *path, const char *val)
{
	int i = xs_find(path);

	if (i < 0) {
		if (w.nxs == MAX_NODES) {
			fprintf(stderr, "xbgen-sim: xenstore full\n");
			exit(70);
		}
		/* keep the nodes sorted: the hash must not depend on order */
		for (i = w.nxs; i > 0 && strcmp(w.xs[i - 1].path, path) > 0; i--)
			w.xs[i] = w.xs[i - 1];
		w.nxs++;
		snprintf(w.xs[i].path, SIM_PATH, "%s", path);
	}
	snprintf(w.xs[i].val, SIM_VAL, "%s", val);
	xs_epoch++;
	fire(path);
}

static void xs_rm(const char *path)
{
	char gone[MAX_NODES][SIM_PATH];
	int i, j = 0, n = 0;

	for (i = 0; i < w.nxs; i++) {
		if (under(w.xs[i].path, path))
			snprintf(gone[n++], SIM_PATH, "%s", w.xs[i].path);
		else
			w.xs[j++] = w.xs[i];
	}
	w.nxs = j;
	xs_epoch++;
	for (i = 0; i < n; i++)
		fire(gone[i]);
	if (!n)
		fire(path);
}

/* The value of <dir>/<node> as xenbus_scanf("%d") would see it. */
static int xs_read_int(const char *dir, const char *node, int *out)
{
	char path[SIM_PATH * 2];
	const char *v;
	char *end;
	long x;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	v = xs_read(path);
	if (!v)
		return -ENOENT;
	x = strtol(v, &end, 10);
	if (end == v)
		return -EINVAL;
	*out = (int)x;
	return 0;
}

static int state_of_uncached(const char *dir)
{
	int s;

	if (!xs_exists(dir))
		return -1;
	if (xs_read_int(dir, "state", &s))
		return -2;
	return s;
}

/*
 * The explorer asks for both ends' states many times per configuration:
 * remember them until xenstore changes (or another configuration is
 * restored).
 */
static unsigned long fe_epoch, be_epoch;
static int fe_cached, be_cached;

static int state_of(const char *dir)
{
	if (dir == fe_dir) {
		if (fe_epoch != xs_epoch) {
			fe_cached = state_of_uncached(dir);
			fe_epoch = xs_epoch;
		}
		return fe_cached;
	}
	if (dir == be_dir) {
		if (be_epoch != xs_epoch) {
			be_cached = state_of_uncached(dir);
			be_epoch = xs_epoch;
		}
		return be_cached;
	}
	return state_of_uncached(dir);
}

/* ---------------------------------------------------------------- domains */

static struct dom *fe(void)
{
	return &w.dom[SIM_DOMU];
}

static struct dom *be(void)
{
	return &w.dom[SIM_DOM0];
}

static int queue_count(struct dom *d, int ev)
{
	int i, n = 0;

	for (i = 0; i < d->qlen; i++)
		n += d->q[i] == ev;
	return n;
}

static void enqueue(struct dom *d, int ev)
{
	/*
	 * Linux queues every event.  A bus event only makes the core compare
	 * the bus with xenstore as it is when the event runs, so one waiting
	 * bus event stands for any number.  A callback may not be idempotent,
	 * so two otherend events are kept; a third could only repeat what the
	 * second one sees.
	 */
	if (!d->alive || d->qlen == QMAX || queue_count(d, ev) >= (ev == EV_BUS ? 1 : 2))
		return;
	d->q[d->qlen++] = ev;
}

static void fire(const char *path)
{
	int i;
	char watch[SIM_PATH + 8];

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		const char *bus = i == SIM_DOM0 ? be_bus : fe_bus;

		if (!d->alive)
			continue;
		if (under(path, bus) || under(bus, path))
			enqueue(d, EV_BUS);
		if (d->dev && d->dev->watching) {
			snprintf(watch, sizeof(watch), "%s/state", d->dev->otherend);
			if (under(path, watch) || under(watch, path))
				enqueue(d, EV_OTHEREND);
		}
	}
}

static void drop_events(struct dom *d, int ev)
{
	int i, j = 0;

	for (i = 0; i < d->qlen; i++)
		if (d->q[i] != ev)
			d->q[j++] = d->q[i];
	d->qlen = j;
}

static struct dom *dom_of(struct xenbus_device *xb)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev && &w.dom[i].dev->xb == xb)
			return &w.dom[i];
	violate(PROP_SAFE, "a driver used a xenbus_device that no longer exists");
	return NULL;
}

/* ------------------------------------------------------------- coroutines */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h *= 0x100000001b3ULL;
	return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	while (*s)
		h = mix(h, (unsigned char)*s++);
	return mix(h, 0xff);
}

static void yield(void)
{
	struct dom *d = cur;

	swapcontext(&d->ctx, &sched_ctx);
}

static void yield_dead(void)
{
	struct dom *d = cur;

	d->act_dead = 1;
	for (;;)
		swapcontext(&d->ctx, &sched_ctx);
}

static const char *home_of(struct dom *d)
{
	return d == fe() ? fe_home : be_home;
}

/*
 * A shared access is about to happen: let the rest of the world run first.
 * The result the caller will see is folded into the activity's hash by
 * step_result(), so two suspended callbacks that saw the same results are
 * the same configuration.
 */
static void xs_point(int shared)
{
	struct dom *d = cur;

	if (!d)
		return;
	if (++d->act_steps > lim.steps)
		violate(PROP_RETURNS,
			"a %s callback made more than %d xenstore accesses without returning",
			d->side, lim.steps);
	/*
	 * Only writes and reads of the other end's nodes are points where the
	 * rest of the world runs: a read of the domain's own nodes is folded
	 * into the step before it (what others write there, the toolstack's
	 * online for instance, lands before or after that step).  The first
	 * access belongs to the move that started the activity.
	 */
	if (shared && d->act_steps > 1)
		yield();
}

static void step_result(long v)
{
	if (cur)
		cur->act_hash = mix(cur->act_hash, (uint64_t)v);
}

static void api_call(void)
{
	if (cur && ++cur->act_calls > MAX_CALLS)
		violate(PROP_RETURNS,
			"a %s callback made more than %d kernel calls without returning",
			cur->side, MAX_CALLS);
}

static int write_fails(struct dom *d)
{
	return d && d->xsfail == 2;
}

/* ------------------------------------------------------------ memory */

/*
 * Every object the simulation hands out (driver allocations, devices) lives
 * in one arena, so a configuration can be saved and restored by copying
 * bytes.  Blocks are never reused and are poisoned when freed, with
 * poisoned gaps between them: AddressSanitizer reports a use after free or
 * an overflow at once.
 */
#define ARENA_SIZE (1 << 20)
#define GAP 32

static size_t arena_hwm;

static unsigned char arena[ARENA_SIZE] __attribute__((aligned(64)));

static void *arena_alloc(size_t size)
{
	size_t at = w.top + GAP;
	size_t end = at + ((size + 15) & ~(size_t)15);

	if (end + GAP > ARENA_SIZE) {
		fprintf(stderr, "xbgen-sim: arena exhausted\n");
		exit(70);
	}
	w.top = end;
	if (end > arena_hwm)
		arena_hwm = end;
	UNPOISON(arena + at, size);
	return arena + at;
}

static void arena_free(void *p, size_t size)
{
	POISON(p, size);
}

static struct alloc *find_alloc(const void *p)
{
	int i;

	for (i = 0; i < w.nallocs; i++)
		if (w.allocs[i].ptr == p)
			return &w.allocs[i];
	return NULL;
}

static void *sim_alloc(size_t size, int zero)
{
	struct dom *d = cur;
	void *p;

	api_call();
	if (d && d->nomem) {
		d->nomem = 0;
		trace("%s: allocation of %zu bytes fails (planted)", d->name, size);
		return NULL;
	}
	if (w.nallocs == MAX_ALLOCS) {
		violate(PROP_SAFE, "more than %d live allocations", MAX_ALLOCS);
		return NULL;
	}
	p = arena_alloc(size ? size : 1);
	if (zero)
		memset(p, 0, size);
	else
		memset(p, 0xa5, size);
	w.allocs[w.nallocs].ptr = p;
	w.allocs[w.nallocs].size = size;
	w.allocs[w.nallocs].dom = d ? (int)(d - w.dom) : -1;
	w.allocs[w.nallocs].module = d ? d->act_in_module : 0;
	w.nallocs++;
	return p;
}

void *kmalloc(size_t size, gfp_t flags)
{
	(void)flags;
	return sim_alloc(size, 0);
}

void *kzalloc(size_t size, gfp_t flags)
{
	(void)flags;
	return sim_alloc(size, 1);
}

void kfree(const void *objp)
{
	struct alloc *a;

	api_call();
	if (!objp)
		return;
	a = find_alloc(objp);
	if (!a) {
		violate(PROP_SAFE, "kfree() of memory that is not allocated (double free?)");
		return;
	}
	arena_free(a->ptr, a->size ? a->size : 1);
	{
		int i = (int)(a - w.allocs);

		/* keep allocation order: the hash names blocks by position */
		memmove(&w.allocs[i], &w.allocs[i + 1],
			(size_t)(w.nallocs - 1 - i) * sizeof(*a));
		w.nallocs--;
	}
}

static int live_allocs(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < w.nallocs; i++)
		n += w.allocs[i].dom == dom && w.allocs[i].module == module;
	return n;
}

static void free_dom_allocs(int dom)
{
	int i, j = 0;

	for (i = 0; i < w.nallocs; i++) {
		if (w.allocs[i].dom == dom)
			arena_free(w.allocs[i].ptr, w.allocs[i].size ? w.allocs[i].size : 1);
		else
			w.allocs[j++] = w.allocs[i];
	}
	w.nallocs = j;
}

/* --------------------------------------------------------------- printk */

int printk(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	const char *text = buf;

	api_call();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (text[0] == '\001' && text[1])
		text += 2;
	buf[strcspn(buf, "\n")] = '\0';
	trace("%s printk: %s", cur ? cur->name : "?", text);
	if (cur && cur->dev && strstr(text, "connected as well") &&
	    (cur->dev->xb.state != XenbusStateConnected || cur->told != XenbusStateConnected))
		violate(PROP_LOG, "the %s printed \"%s\" while it is %s and was told the other end is %s",
			cur->side, text, xenbus_strstate(cur->dev->xb.state),
			cur->act == ACT_WATCH ? xenbus_strstate(cur->told) : "nothing");
	return (int)strlen(text);
}

static void dev_print(const struct device *dev, const char *level, const char *fmt, va_list ap)
{
	char buf[400];

	(void)dev;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	trace("%s dev_%s: %s", cur ? cur->name : "?", level, buf);
}

void _dev_err(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "err", fmt, ap);
	va_end(ap);
}

void _dev_warn(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "warn", fmt, ap);
	va_end(ap);
}

void _dev_info(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "info", fmt, ap);
	va_end(ap);
}

void __xbgen_fallthrough(void)
{
}

void __xbgen_noreturn_bug(void)
{
	violate(PROP_SAFE, "BUG() in the %s: the kernel of the domain running it crashes",
		cur ? cur->side : "?");
	/* violate() does not return inside a callback; outside, stop anyway */
	abort();
}

int __xbgen_warn(int condition, const char *fmt, ...)
{
	if (condition)
		violate(PROP_SAFE, "WARN in the %s (%s)", cur ? cur->side : "?", fmt);
	return condition;
}

bool xen_has_pv_devices(void)
{
	return true;
}

int xen_initial_domain(void)
{
	return cur && cur->id == 0;
}

/* ----------------------------------------------------------- device core */

void *dev_get_drvdata(const struct device *dev)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));

	api_call();
	return sd->drvdata;
}

void dev_set_drvdata(struct device *dev, void *data)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));

	api_call();
	sd->drvdata = data;
}

static void core_switch(struct simdev *sd, enum xenbus_state state, int depth);

static void dev_error(struct xenbus_device *xb, int err, const char *fmt, va_list ap,
		      const char *what)
{
	char buf[300];
	struct dom *d = cur;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	trace("%s %s: %d %s", d ? d->name : "?", what, err, buf);
	(void)xb;
	/* the error node write: the only effect is that it may fail */
	if (d)
		xs_point(0);
}

void xenbus_dev_error(struct xenbus_device *xb, int err, const char *fmt, ...)
{
	va_list ap;

	api_call();
	va_start(ap, fmt);
	dev_error(xb, err, fmt, ap, "xenbus_dev_error");
	va_end(ap);
}

void xenbus_dev_fatal(struct xenbus_device *xb, int err, const char *fmt, ...)
{
	va_list ap;
	char buf[300];
	struct dom *d = cur;

	api_call();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!w.core && !(w.flags & SF_TAINTED))
		violate(PROP_SAFE, "xenbus_dev_fatal(%d, \"%s\") in the %s on a legal schedule",
			err, buf, d ? d->side : "?");
	trace("%s xenbus_dev_fatal: %d %s", d ? d->name : "?", err, buf);
	if (d)
		xs_point(0);
	if (dom_of(xb))
		core_switch(dom_of(xb)->dev, XenbusStateClosing, 0);
}

/* __xenbus_switch_state(): one transaction; returns nothing useful. */
static void core_switch(struct simdev *sd, enum xenbus_state state, int depth)
{
	struct dom *d = cur;
	char val[16];
	int old;

	if (sd->xb.state == state)
		return;
	xs_point(1);
	if (write_fails(d)) {
		trace("%s: xenstore transaction fails (planted) switching to %s",
		      d->name, xenbus_strstate(state));
		step_result(-EIO);
		/* xenbus_switch_fatal(): report, then try Closing once */
		if (!depth) {
			w.core++;
			xs_point(0);	/* the error node */
			w.core--;
			core_switch(sd, XenbusStateClosing, 1);
		}
		return;
	}
	if (xs_read_int(sd->nodename, "state", &old)) {
		/* the node is gone: do not resurrect it, remember the state */
		step_result(-ENOENT);
		sd->xb.state = state;
		return;
	}
	snprintf(val, sizeof(val), "%d", state);
	{
		char path[SIM_PATH + 8];

		snprintf(path, sizeof(path), "%s/state", sd->nodename);
		trace("%s writes %s = %s (%s)", d ? d->name : "?", path, val,
		      xenbus_strstate(state));
		xs_write(path, val);
	}
	step_result(state);
	sd->xb.state = state;
}

int xenbus_switch_state(struct xenbus_device *xb, enum xenbus_state state)
{
	struct dom *d;

	api_call();
	d = dom_of(xb);
	if (d)
		core_switch(d->dev, state, 0);
	return 0;
}

int xenbus_frontend_closed(struct xenbus_device *xb)
{
	api_call();
	return xenbus_switch_state(xb, XenbusStateClosed);
}

int xenbus_dev_is_online(struct xenbus_device *xb)
{
	int v = 0;

	api_call();
	xs_point(0);
	if (xs_read_int(xb->nodename, "online", &v))
		v = 0;
	step_result(v);
	return !!v;
}

unsigned int xenbus_read_unsigned(const char *dir, const char *node, unsigned int default_val)
{
	int v;

	api_call();
	xs_point(!under(dir, cur ? home_of(cur) : ""));
	if (xs_read_int(dir, node, &v))
		v = (int)default_val;
	step_result(v);
	return (unsigned int)v;
}

static int may_write(struct dom *d, const char *path)
{
	char home[SIM_PATH];

	if (!d || d->id == 0)
		return 1;
	snprintf(home, sizeof(home), "/local/domain/%d", d->id);
	return under(path, home);
}

int xenbus_printf(struct xenbus_transaction t, const char *dir, const char *node,
		  const char *fmt, ...)
{
	char path[SIM_PATH * 2], val[SIM_VAL];
	struct dom *d = cur;
	va_list ap;

	(void)t;
	api_call();
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	xs_point(1);
	if (write_fails(d)) {
		trace("%s: xenstore write of %s fails (planted)", d->name, path);
		step_result(-EIO);
		return -EIO;
	}
	if (!may_write(d, path)) {
		step_result(-EACCES);
		return -EACCES;
	}
	trace("%s writes %s = %s", d ? d->name : "?", path, val);
	xs_write(path, val);
	step_result(0);
	return 0;
}

static void act_remove(struct dom *d);

static void release_device(struct dom *d)
{
	struct simdev *sd = d->dev;

	d->dev = NULL;
	drop_events(d, EV_OTHEREND);
	arena_free(sd, sizeof(*sd));
}

void device_unregister(struct device *dev)
{
	struct simdev *sd = (struct simdev *)((char *)dev - offsetof(struct xenbus_device, dev));
	struct dom *d;

	api_call();
	d = dom_of(&sd->xb);
	if (!d)
		return;
	trace("%s: device_unregister(%s)", d->name, sd->nodename);
	if (sd->bound)
		act_remove(d);
	release_device(d);
}

static int driver_register(struct xenbus_driver *drv, const char *mod_name, int back)
{
	struct dom *d = cur;

	api_call();
	if (!d || (back ? d != be() : d != fe())) {
		trace("%s registered on the wrong bus", mod_name);
		return -EINVAL;
	}
	d->drv = drv;
	return 0;
}

int __xenbus_register_frontend(struct xenbus_driver *drv, struct module *owner,
			       const char *mod_name)
{
	(void)owner;
	return driver_register(drv, mod_name, 0);
}

int __xenbus_register_backend(struct xenbus_driver *drv, struct module *owner,
			      const char *mod_name)
{
	(void)owner;
	return driver_register(drv, mod_name, 1);
}

void xenbus_unregister_driver(struct xenbus_driver *drv)
{
	struct dom *d = cur;

	api_call();
	if (d && d->drv == drv) {
		if (d->dev && d->dev->bound)
			act_remove(d);
		d->drv = NULL;
	}
}

/* xenbus_dev_probe(): talk_to_otherend, probe, watch_otherend. */
static int act_probe(struct dom *d)
{
	struct simdev *sd = d->dev;
	const char *idkey = d == fe() ? "backend-id" : "frontend-id";
	const char *pathkey = d == fe() ? "backend" : "frontend";
	char path[SIM_PATH * 2];
	const char *other;
	int id, err, exists;

	w.core++;
	xs_point(0);
	snprintf(path, sizeof(path), "%s/%s", sd->nodename, pathkey);
	other = xs_read(path);
	err = xs_read_int(sd->nodename, idkey, &id);
	step_result(other ? (long)strlen(other) : -1);
	if (!other || err) {
		xenbus_dev_fatal(&sd->xb, -ENOENT, "reading other end details from %s",
				 sd->nodename);
		w.core--;
		return -ENOENT;
	}
	snprintf(sd->otherend, SIM_PATH, "%s", other);
	sd->xb.otherend_id = id;
	sd->have_otherend = 1;
	xs_point(1);
	exists = sd->otherend[0] && xs_exists(sd->otherend);
	step_result(exists);
	if (!exists) {
		xenbus_dev_fatal(&sd->xb, -ENOENT, "unable to read other end from %s",
				 sd->nodename);
		sd->have_otherend = 0;
		w.core--;
		return -ENOENT;
	}
	w.core--;
	trace("%s: %s probe(%s)", d->name, d->side, sd->nodename);
	{
		static const struct xenbus_device_id id0;

		err = d->drv->probe(&sd->xb, d->drv->ids ? d->drv->ids : &id0);
	}
	if (err) {
		trace("%s: probe failed: %d", d->name, err);
		sd->drvdata = NULL;
		sd->have_otherend = 0;
		return err;
	}
	sd->bound = 1;
	sd->watching = 1;
	/* registering a watch fires it once */
	enqueue(d, EV_OTHEREND);
	return 0;
}

/* xenbus_dev_remove() */
static void act_remove(struct dom *d)
{
	struct simdev *sd = d->dev;
	struct xenbus_driver *drv = d->drv;
	int st;

	sd->watching = 0;
	drop_events(d, EV_OTHEREND);
	trace("%s: %s remove(%s)", d->name, d->side, sd->nodename);
	if (drv->remove)
		drv->remove(&sd->xb);
	sd->drvdata = NULL;
	sd->bound = 0;
	sd->have_otherend = 0;
	w.core++;
	if (!drv->allow_rebind) {
		core_switch(sd, XenbusStateClosed, 0);
	} else {
		xs_point(0);
		if (xs_read_int(sd->nodename, "state", &st))
			st = XenbusStateUnknown;
		step_result(st);
		if (st == XenbusStateClosing)
			core_switch(sd, XenbusStateClosed, 0);
	}
	w.core--;
}

/* xenbus_dev_changed() for the device's directory. */
static void act_bus(struct dom *d)
{
	const char *dir = d == fe() ? fe_dir : be_dir;
	int exists, st;

	w.core++;
	xs_point(0);
	exists = xs_exists(dir);
	step_result(exists);
	if (!exists) {
		if (d->dev) {
			trace("%s: %s gone, unregistering the device", d->name, dir);
			w.core--;
			if (d->dev->bound)
				act_remove(d);
			release_device(d);
			w.core++;
		}
		w.core--;
		return;
	}
	if (d->dev) {
		w.core--;
		return;
	}
	xs_point(0);
	if (xs_read_int(dir, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	w.core--;
	if (st != XenbusStateInitialising)
		return;
	d->dev = arena_alloc(sizeof(*d->dev));
	memset(d->dev, 0, sizeof(*d->dev));
	snprintf(d->dev->nodename, SIM_PATH, "%s", dir);
	d->dev->xb.nodename = d->dev->nodename;
	d->dev->xb.otherend = d->dev->otherend;
	d->dev->xb.devicetype = devtype;
	d->dev->xb.state = XenbusStateInitialising;
	trace("%s: new device %s", d->name, dir);
	if (d->loaded && d->drv)
		act_probe(d);
}

/* xenbus_otherend_changed() */
static void act_otherend(struct dom *d)
{
	struct simdev *sd = d->dev;
	int st;

	w.core++;
	xs_point(1);
	if (xs_read_int(sd->otherend, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	w.core--;
	d->told = st;
	trace("%s: otherend_changed(%s) in state %s", d->name, xenbus_strstate(st),
	      xenbus_strstate(sd->xb.state));
	d->drv->otherend_changed(&sd->xb, st);
}

static void act_insmod(struct dom *d)
{
	int err;

	d->act_in_module = 1;
	err = d == fe() ? xbgen_sim_init_front() : xbgen_sim_init_back();
	d->act_in_module = 0;
	if (err) {
		trace("%s: module init failed: %d", d->name, err);
		if (d->drv)
			violate(PROP_SAFE, "the %s module failed to load but left its driver registered",
				d->side);
		return;
	}
	if (!d->drv) {
		violate(PROP_SAFE, "the %s module loaded but registered no driver", d->side);
		return;
	}
	d->loaded = 1;
	d->ever_loaded = 1;
	if (d->dev && !d->dev->bound)
		act_probe(d);
}

static void act_rmmod(struct dom *d)
{
	d->act_in_module = 1;
	if (d == fe())
		xbgen_sim_exit_front();
	else
		xbgen_sim_exit_back();
	d->act_in_module = 0;
	if (d->drv)
		violate(PROP_SAFE, "the %s module unloaded with its driver still registered",
			d->side);
	d->loaded = 0;
}

static void trampoline(void)
{
	struct dom *d = cur;

	switch (d->act) {
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
	}
	d->act_done = 1;
	for (;;)
		swapcontext(&d->ctx, &sched_ctx);
}

static uint64_t world_hash(int with_activities);

static void resume(struct dom *d)
{
	struct dom *prev = cur;

	cur = d;
	swapcontext(&sched_ctx, &d->ctx);
	cur = prev;
	if (d->act_done || d->act_dead) {
		if (d->act_done) {
			d->act = ACT_NONE;
			if (d->xsfail == 2)
				d->xsfail = 0;
			d->nomem = 0;
		}
	}
}

static void start(struct dom *d, int kind)
{
	d->act = kind;
	d->act_done = 0;
	d->act_dead = 0;
	d->act_steps = 0;
	d->act_calls = 0;
	d->told = -1;
	d->act_hash = mix(world_hash(0), (uint64_t)kind);
	if (d->xsfail == 1)
		d->xsfail = 2;
	getcontext(&d->ctx);
	UNPOISON(d->stack, STACK_SIZE);
	d->ctx.uc_stack.ss_sp = d->stack;
	d->ctx.uc_stack.ss_size = STACK_SIZE;
	d->ctx.uc_link = NULL;
	makecontext(&d->ctx, trampoline, 0);
	resume(d);
}

/* -------------------------------------------------------------- toolstack */

static int fe_done(void)
{
	int s = state_of(fe_dir);

	return s == -1 || s == XenbusStateClosed;
}

static int be_done(void)
{
	int s = state_of(be_dir);

	return s == -1 || s == XenbusStateClosed;
}

static struct op *cur_op(void)
{
	struct script *s = &scripts[w.script];

	return w.pc < s->nops ? &s->ops[w.pc] : NULL;
}

static int drivers_quiet(void);

/*
 * deactivate.sh waits until both ends are Closed (or gone); once one of
 * them is, the other gets a short grace period: modelled as "until the
 * drivers have nothing left to do".
 */
static int wait_ready(const struct op *op)
{
	if (op->kind != OP_WAIT_CLOSED)
		return 1;
	if (fe_done() && be_done())
		return 1;
	return (fe_done() || be_done()) && drivers_quiet();
}

static void script_end(void)
{
	if (w.script == 1)
		w.flags |= SF_ACTIVATED;
	else if (w.script == 2)
		w.flags |= SF_DEACT_DONE;
	w.script = 0;
	w.pc = 0;
}

static void finish_script_if_done(void)
{
	if (!cur_op())
		script_end();
}

/* Run the script's next step (all ops that share a step number). */
static void toolstack_step(int forced)
{
	struct script *s = &scripts[w.script];
	struct op *op = cur_op();
	int step;

	if (!op) {
		script_end();
		return;
	}
	step = op->step;
	while (w.pc < s->nops && s->ops[w.pc].step == step) {
		op = &s->ops[w.pc++];
		switch (op->kind) {
		case OP_WRITE:
			trace("toolstack writes %s = %s", op->path, op->val);
			xs_write(op->path, op->val);
			break;
		case OP_RM:
			trace("toolstack removes %s", op->path);
			xs_rm(op->path);
			break;
		case OP_SKIP_DONE:
			if (fe_done() || !xs_exists(be_dir)) {
				trace("toolstack: nothing to close, going to step %d", op->arg);
				while (w.pc < s->nops && s->ops[w.pc].step < op->arg)
					w.pc++;
				finish_script_if_done();
				return;
			}
			break;
		case OP_ABSENT:
		case OP_NO_STALE:
			break;
		case OP_WAIT_CLOSED:
			if (forced) {
				trace("toolstack: wait timed out, removing anyway");
				w.flags |= SF_FORCED;
			} else {
				trace("toolstack: wait satisfied");
			}
			break;
		}
	}
	if (!cur_op())
		script_end();
}

/* ------------------------------------------------------------ the moves */

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
	[MV_TOOLSTACK] = "toolstack step",
	[MV_TIMEOUT] = "toolstack times out",
	[MV_WATCH_DOM0] = "dom0 watch event",
	[MV_WATCH_DOMU] = "domU watch event",
	[MV_RUN_DOM0] = "dom0 runs",
	[MV_RUN_DOMU] = "domU runs",
	[MV_XSFAIL_DOM0] = "dom0 xenstore write fails",
	[MV_XSFAIL_DOMU] = "domU xenstore write fails",
	[MV_NOMEM_DOM0] = "dom0 allocation fails",
	[MV_NOMEM_DOMU] = "domU allocation fails",
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
	case MV_WATCH_DOM0: case MV_RUN_DOM0: case MV_XSFAIL_DOM0: case MV_NOMEM_DOM0:
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
	return d->alive && !(d == fe() && w.hostile_used);
}

static int idle(struct dom *d)
{
	return runs(d) && d->act == ACT_NONE;
}

static int env_left(void)
{
	return w.env_used < lim.env;
}

static int system_move(int move);
static int enabled_nontimeout(int move);

/*
 * The environment (user, toolstack, hostile guest, faults) acts when the
 * system is quiet, or right after another of its own moves: bursts such
 * as unbind-then-bind race the drivers, while a move in the middle of a
 * handshake is modelled by the bursts that precede it.
 */
static int drivers_quiet(void)
{
	int m;

	for (m = MV_WATCH_DOM0; m <= MV_RUN_DOMU; m++)
		if (enabled_nontimeout(m))
			return 0;
	return 1;
}

/* Neither the drivers nor the toolstack have anything left to do. */
static int quiet(void)
{
	return drivers_quiet() && !enabled_nontimeout(MV_TOOLSTACK);
}

static int env_turn(void)
{
	return w.last_env || quiet();
}

static int system_move(int move)
{
	return move == MV_TOOLSTACK || move == MV_TIMEOUT || (move >= MV_WATCH_DOM0 &&
							      move <= MV_RUN_DOMU);
}

int sim_enabled(int move)
{
	if (w.prop)
		return 0;
	if (move != MV_TIMEOUT)
		return enabled_nontimeout(move);
	/* a wait times out only when nothing else can happen */
	return w.script && cur_op() && !wait_ready(cur_op()) && drivers_quiet();
}

static int activate_refused(void)
{
	struct script *s = &scripts[1];
	int i;

	for (i = 0; i < s->nops; i++) {
		if (s->ops[i].kind == OP_ABSENT && xs_exists(s->ops[i].path))
			return 1;
		if (s->ops[i].kind == OP_NO_STALE && be()->dev)
			return 1;
	}
	return 0;
}

static int enabled_nontimeout(int move)
{
	struct dom *d = move_dom(move);

	if (!system_move(move) && !env_turn())
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
		       !xs_exists(fe_dir) && !xs_exists(be_dir);
	case MV_DEACTIVATE:
		return !w.script && (w.flags & SF_ACTIVATED) && !(w.flags & SF_DEACT) &&
		       env_left();
	case MV_DESTROY:
		return fe()->alive && !w.script && env_left();
	case MV_TOOLSTACK:
		return w.script && (!cur_op() || wait_ready(cur_op()));
	case MV_WATCH_DOM0:
	case MV_WATCH_DOMU:
		return idle(d) && d->qlen > 0;
	case MV_RUN_DOM0:
	case MV_RUN_DOMU:
		return runs(d) && d->act != ACT_NONE && !d->act_dead;
	/* faults and hostile writes start from a quiet system (bursts may follow) */
	case MV_XSFAIL_DOM0:
	case MV_XSFAIL_DOMU:
		return runs(d) && !d->xsfail && w.faults_used < lim.faults &&
		       (d->loaded || d->dev) && !w.last_env && !w.script;
	case MV_NOMEM_DOM0:
	case MV_NOMEM_DOMU:
		return runs(d) && !d->nomem && w.faults_used < lim.faults && d->loaded &&
		       !w.last_env && !w.script;
	default:
		if (move >= MV_HOSTILE0 && move < SIM_NMOVES)
			return fe()->alive && w.hostile_used < lim.hostile && xs_exists(fe_dir) &&
			       (!w.last_env || w.last_hostile) && !w.script;
		return 0;
	}
}

static int both_connected(void)
{
	return state_of(fe_dir) == XenbusStateConnected &&
	       state_of(be_dir) == XenbusStateConnected;
}

static void destroy_guest(void)
{
	struct dom *d = fe();
	char home[SIM_PATH];

	/* the domain and everything in it vanish: no remove, no leak */
	d->alive = 0;
	d->act = ACT_NONE;
	d->qlen = 0;
	if (d->dev)
		arena_free(d->dev, sizeof(*d->dev));
	d->dev = NULL;
	d->loaded = 0;
	d->drv = NULL;
	free_dom_allocs(SIM_DOMU);
	snprintf(home, sizeof(home), "/local/domain/%d", domu_id);
	trace("xl destroy: removing %s", home);
	xs_rm(home);
	w.flags |= SF_DESTROYED;
}

static void check_leaks(void)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int n;

		if (!d->alive || d->act != ACT_NONE)
			continue;
		n = live_allocs(i, 0);
		if (n && !(d->dev && d->dev->bound))
			violate(PROP_SAFE,
				"leak: %d allocation(s) of the %s still live with no device bound",
				n, d->side);
		n = live_allocs(i, 1);
		if (n && !d->loaded)
			violate(PROP_SAFE,
				"leak: %d allocation(s) of the %s module live after it unloaded",
				n, d->side);
	}
}

int sim_apply(int move)
{
	struct dom *d = move_dom(move);
	int was_conn = (move == MV_UNBIND_BACK || move == MV_UNBIND_FRONT) && both_connected();

	switch (move) {
	case MV_INSMOD_BACK:
	case MV_INSMOD_FRONT:
		if (d->ever_loaded)
			w.env_used++;
		start(d, ACT_INSMOD);
		break;
	case MV_RMMOD_BACK:
	case MV_RMMOD_FRONT:
		w.env_used++;
		start(d, ACT_RMMOD);
		break;
	case MV_UNBIND_BACK:
	case MV_UNBIND_FRONT:
		w.env_used++;
		if (was_conn)
			w.flags |= SF_REBIND;
		start(d, ACT_UNBIND);
		break;
	case MV_BIND_BACK:
	case MV_BIND_FRONT:
		w.env_used++;
		start(d, ACT_BIND);
		break;
	case MV_ACTIVATE:
		if (w.flags & SF_ACTIVATED)
			w.env_used++;
		w.flags &= ~(SF_ACTIVATED | SF_DEACT | SF_DEACT_DONE | SF_FORCED |
			     SF_FE_CLOSED | SF_DEACT_CLEAN | SF_WAS_CONN);
		w.script = 1;
		w.pc = 0;
		/* the existence checks are part of the decision to start */
		while (cur_op() && (cur_op()->kind == OP_ABSENT || cur_op()->kind == OP_NO_STALE))
			w.pc++;
		toolstack_step(0);
		break;
	case MV_DEACTIVATE:
		w.env_used++;
		w.flags |= SF_DEACT;
		if (fe()->dev && fe()->dev->bound && be()->dev && be()->dev->bound &&
		    !(w.flags & SF_DESTROYED))
			w.flags |= SF_DEACT_CLEAN;
		w.script = 2;
		w.pc = 0;
		toolstack_step(0);
		break;
	case MV_DESTROY:
		w.env_used++;
		destroy_guest();
		break;
	case MV_TOOLSTACK:
		toolstack_step(0);
		break;
	case MV_TIMEOUT:
		toolstack_step(1);
		break;
	case MV_WATCH_DOM0:
	case MV_WATCH_DOMU:
		start(d, ACT_WATCH);
		break;
	case MV_RUN_DOM0:
	case MV_RUN_DOMU:
		resume(d);
		break;
	case MV_XSFAIL_DOM0:
	case MV_XSFAIL_DOMU:
		w.faults_used++;
		w.flags |= SF_TAINTED | SF_FAULT;
		d->xsfail = 1;
		break;
	case MV_NOMEM_DOM0:
	case MV_NOMEM_DOMU:
		w.faults_used++;
		w.flags |= SF_TAINTED | SF_FAULT;
		d->nomem = 1;
		break;
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
	if (!w.prop && (move == MV_RUN_DOM0 || move == MV_RUN_DOMU) && d->act_dead)
		w.prop = PROP_SAFE;
	if (!w.prop)
		check_leaks();
	if (!(w.flags & SF_WAS_CONN) && both_connected())
		w.flags |= SF_WAS_CONN;
	if ((w.flags & (SF_DEACT | SF_FE_CLOSED)) == SF_DEACT &&
	    state_of(fe_dir) == XenbusStateClosed)
		w.flags |= SF_FE_CLOSED;
	/* a destroyed guest cannot close its frontend */
	if ((w.flags & SF_DEACT) && move == MV_DESTROY)
		w.flags &= ~SF_DEACT_CLEAN;
	/* the toolstack's steps are the environment's too: a user may act between them */
	w.last_env = !system_move(move) || move == MV_TOOLSTACK;
	w.last_hostile = move >= MV_HOSTILE0;
	return w.prop;
}

/* ---------------------------------------------------------------- hashing */

static uint64_t hash_word(uint64_t h, uint64_t v)
{
	int i;

	for (i = 0; i < w.nallocs; i++) {
		uintptr_t p = (uintptr_t)w.allocs[i].ptr;

		if (v >= p && v < p + w.allocs[i].size + 1)
			return mix(mix(h, 0xa110c000 + (uint64_t)i), v - p);
	}
	for (i = 0; i < SIM_NDOM; i++) {
		uintptr_t p = (uintptr_t)w.dom[i].dev;

		if (p && v >= p && v < p + sizeof(struct simdev))
			return mix(mix(h, 0xde0000 + (uint64_t)i), v - p);
	}
	return mix(h, v);
}

static uint64_t hash_heap(uint64_t h)
{
	int i;
	size_t off;

	for (i = 0; i < w.nallocs; i++) {
		const unsigned char *p = w.allocs[i].ptr;
		size_t n = w.allocs[i].size;

		h = mix(h, n);
		h = mix(h, (uint64_t)(w.allocs[i].dom * 2 + w.allocs[i].module));
		for (off = 0; off + 8 <= n; off += 8) {
			uint64_t v;

			memcpy(&v, p + off, 8);
			h = hash_word(h, v);
		}
		for (; off < n; off++)
			h = mix(h, p[off]);
	}
	return h;
}

static uint64_t world_hash(int with_activities)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < w.nxs; i++) {
		h = mix_str(h, w.xs[i].path);
		h = mix_str(h, w.xs[i].val);
	}
	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int j;

		h = mix(h, (uint64_t)(d->alive | d->loaded << 1 | d->ever_loaded << 2 |
				      (d->drv != NULL) << 3 | d->xsfail << 4 | d->nomem << 7));
		if (d->dev) {
			struct simdev *sd = d->dev;

			h = mix(h, 0x1000 + (uint64_t)sd->xb.state);
			h = mix(h, (uint64_t)(sd->bound | sd->watching << 1 |
					      sd->have_otherend << 2));
			h = hash_word(h, (uint64_t)(uintptr_t)sd->drvdata);
		}
		for (j = 0; j < d->qlen; j++)
			h = mix(h, 0x2000 + d->q[j]);
		if (with_activities && d->act != ACT_NONE)
			h = mix(mix(h, d->act_hash), (uint64_t)d->act_steps);
	}
	h = mix(h, (uint64_t)w.script << 8 | (uint64_t)w.pc);
	h = mix(h, w.flags);
	h = mix(h, (uint64_t)(w.env_used | w.hostile_used << 8 | w.faults_used << 16));
	return hash_heap(h);
}

static int dev_state(struct dom *d)
{
	return d->dev ? (int)d->dev->xb.state : -1;
}

void sim_summarise(struct sim_summary *s)
{
	int m;

	s->hash = world_hash(1);
	s->fe_state = state_of(fe_dir);
	s->be_state = state_of(be_dir);
	s->fe_dev = dev_state(fe());
	s->be_dev = dev_state(be());
	s->fe_bound = fe()->dev && fe()->dev->bound;
	s->be_bound = be()->dev && be()->dev->bound;
	s->system_moves = 0;
	for (m = MV_TOOLSTACK; m <= MV_RUN_DOMU; m++)
		if (system_move(m) && sim_enabled(m))
			s->system_moves++;
	s->flags = w.flags;
	if (fe()->loaded)
		s->flags |= SF_LOADED_F;
	if (be()->loaded)
		s->flags |= SF_LOADED_B;
	if (xs_exists(fe_dir))
		s->flags |= SF_FE_DIR;
	if (xs_exists(be_dir))
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

void sim_describe(char *buf, int len)
{
	struct dom *f = fe(), *b = be();
	char fq[32] = "", bq[32] = "";

	if (f->qlen)
		snprintf(fq, sizeof(fq), ", %d event(s) queued", f->qlen);
	if (b->qlen)
		snprintf(bq, sizeof(bq), ", %d event(s) queued", b->qlen);
	snprintf(buf, len, "frontend %s%s%s%s | backend %s%s%s%s",
		 show_state(state_of(fe_dir)),
		 !f->alive ? " (guest destroyed)" : !f->loaded ? " (not loaded)" :
		 !(f->dev && f->dev->bound) ? " (unbound)" : "",
		 f->act != ACT_NONE ? ", running" : "", fq,
		 show_state(state_of(be_dir)),
		 !b->loaded ? " (not loaded)" : !b->dev ? " (no device)" :
		 !b->dev->bound ? " (unbound)" : "",
		 b->act != ACT_NONE ? ", running" : "", bq);
}

/* ------------------------------------------------------------------ setup */

void sim_reset(const struct sim_limits *l)
{
	static char *stacks[SIM_NDOM];
	int i;

	lim = *l;
	cur = NULL;
	xs_epoch++;
	memset(&w, 0, sizeof(w));
	POISON(arena, arena_hwm);
	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];

		if (!stacks[i])
			stacks[i] = malloc(STACK_SIZE);
		d->stack = stacks[i];
		d->alive = 1;
		d->name = i == SIM_DOM0 ? "dom0" : "domU";
		d->side = i == SIM_DOM0 ? "backend" : "frontend";
		d->id = i == SIM_DOM0 ? bedom_id : domu_id;
	}
}

void sim_init(void)
{
	POISON(arena, ARENA_SIZE);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(on_death);
	signal(SIGALRM, on_alarm);
}

/* A watchdog for a callback that loops without calling the kernel. */
void sim_watchdog(int seconds)
{
	alarm((unsigned int)seconds);
}

/*
 * The configuration `xbgen verify` writes: the device's paths and the
 * toolstack's scripts, op by op, as read from activate.sh/deactivate.sh.
 */
int sim_load_config(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512], a[16], b[32], c[SIM_PATH], e[SIM_VAL];
	static char type[64];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int n, step, arg;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%15s", a) != 1 || a[0] == '#') {
			continue;
		} else if (!strcmp(a, "fe") && sscanf(line, "fe %127s", c) == 1) {
			snprintf(fe_dir, sizeof(fe_dir), "%s", c);
		} else if (!strcmp(a, "be") && sscanf(line, "be %127s", c) == 1) {
			snprintf(be_dir, sizeof(be_dir), "%s", c);
		} else if (!strcmp(a, "domu") && sscanf(line, "domu %d", &domu_id) == 1) {
		} else if (!strcmp(a, "bedom") && sscanf(line, "bedom %d", &bedom_id) == 1) {
		} else if (!strcmp(a, "type") && sscanf(line, "type %63s", type) == 1) {
			devtype = type;
		} else if ((n = sscanf(line, "%15s %d %31s %127s %127s", a, &step, b, c, e)) >= 3) {
			int which = !strcmp(a, "activate") ? 1 : !strcmp(a, "deactivate") ? 2 : 0;
			struct script *s = &scripts[which];
			struct op *op;

			if (!which || s->nops == 32)
				goto bad;
			op = &s->ops[s->nops++];
			op->step = step;
			if (n >= 4)
				snprintf(op->path, SIM_PATH, "%s", c);
			if (n >= 5)
				snprintf(op->val, SIM_VAL, "%s", strcmp(e, "''") ? e : "");
			if (!strcmp(b, "write") && n == 5)
				op->kind = OP_WRITE;
			else if (!strcmp(b, "rm") && n == 4)
				op->kind = OP_RM;
			else if (!strcmp(b, "absent") && n == 4)
				op->kind = OP_ABSENT;
			else if (!strcmp(b, "no-stale-backend") && n == 3)
				op->kind = OP_NO_STALE;
			else if (!strcmp(b, "skip-if-done") && n == 4 &&
				 sscanf(c, "%d", &arg) == 1)
				op->kind = OP_SKIP_DONE, op->arg = arg;
			else if (!strcmp(b, "wait-closed") && n == 3)
				op->kind = OP_WAIT_CLOSED;
			else
				goto bad;
		} else {
			goto bad;
		}
	}
	fclose(f);
	snprintf(fe_home, sizeof(fe_home), "/local/domain/%d", domu_id);
	snprintf(be_home, sizeof(be_home), "/local/domain/%d", bedom_id);
	snprintf(fe_bus, sizeof(fe_bus), "%s/device", fe_home);
	snprintf(be_bus, sizeof(be_bus), "%s/backend", be_home);
	return fe_dir[0] && be_dir[0] && scripts[1].nops && scripts[2].nops ? 0 : -1;
bad:
	fprintf(stderr, "xbgen-sim: bad config line: %s\n", line);
	fclose(f);
	return -1;
}

/* --------------------------------------------------------------- snapshots */

/*
 * A configuration in bytes: the world, the arena in use, and the live part
 * of each suspended callback's stack (its registers are in the world).
 * Everything lives at fixed addresses, so copying the bytes back restores
 * the configuration exactly, suspended callbacks included.
 */
struct snap_hdr {
	size_t wlen;
	size_t top;
	size_t stk_off[SIM_NDOM];
	size_t stk_len[SIM_NDOM];
};

__attribute__((no_sanitize_address))
static void raw_copy(void *dst, const void *src, size_t n)
{
	volatile uint64_t *d = dst;
	const volatile uint64_t *s = src;
	volatile unsigned char *db;
	const volatile unsigned char *sb;

	if (!(((uintptr_t)dst | (uintptr_t)src) & 7))
		for (; n >= 8; n -= 8)
			*d++ = *s++;
	db = (volatile unsigned char *)d;
	sb = (const volatile unsigned char *)s;
	while (n--)
		*db++ = *sb++;
}

static size_t stack_live(struct dom *d, size_t *off)
{
	uintptr_t sp;

	if (d->act == ACT_NONE) {
		*off = 0;
		return 0;
	}
#if defined(__x86_64__)
	sp = (uintptr_t)d->ctx.uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	sp = (uintptr_t)d->ctx.uc_mcontext.sp;
#else
	sp = (uintptr_t)d->stack;
#endif
	sp = (sp - 512) & ~(uintptr_t)63;
	if (sp < (uintptr_t)d->stack)
		sp = (uintptr_t)d->stack;
	*off = sp - (uintptr_t)d->stack;
	return STACK_SIZE - *off;
}

void *sim_snapshot(size_t *len)
{
	struct snap_hdr h;
	unsigned char *buf, *p;
	int i;

	h.wlen = offsetof(__typeof__(w), xs) + (size_t)w.nxs * sizeof(w.xs[0]);
	h.top = w.top;
	*len = sizeof(h) + h.wlen + h.top;
	for (i = 0; i < SIM_NDOM; i++) {
		h.stk_len[i] = stack_live(&w.dom[i], &h.stk_off[i]);
		*len += h.stk_len[i];
	}
	buf = malloc(*len);
	if (!buf) {
		fprintf(stderr, "xbgen-sim: out of memory for snapshots\n");
		exit(70);
	}
	memcpy(buf, &h, sizeof(h));
	p = buf + sizeof(h);
	memcpy(p, &w, h.wlen);
	p += h.wlen;
	raw_copy(p, arena, h.top);
	p += h.top;
	for (i = 0; i < SIM_NDOM; i++) {
		raw_copy(p, w.dom[i].stack + h.stk_off[i], h.stk_len[i]);
		p += h.stk_len[i];
	}
	return buf;
}

void sim_restore(const void *snap)
{
	const unsigned char *p = snap;
	struct snap_hdr h;
	int i;

	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	memcpy(&w, p, h.wlen);
	xs_epoch++;
	p += h.wlen;
	if (h.top > arena_hwm)
		arena_hwm = h.top;
	UNPOISON(arena, arena_hwm);
	raw_copy(arena, p, h.top);
	p += h.top;
	POISON(arena, arena_hwm);
	for (i = 0; i < w.nallocs; i++)
		UNPOISON(w.allocs[i].ptr, w.allocs[i].size ? w.allocs[i].size : 1);
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev)
			UNPOISON(w.dom[i].dev, sizeof(*w.dom[i].dev));
		if (h.stk_len[i]) {
			UNPOISON(w.dom[i].stack + h.stk_off[i], h.stk_len[i]);
			raw_copy(w.dom[i].stack + h.stk_off[i], p, h.stk_len[i]);
			p += h.stk_len[i];
		}
	}
	cur = NULL;
}
