// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: a simulation of the xenbus world the emitted drivers run in.
 *
 * The frontend and backend C files are compiled unchanged against the fake
 * kernel headers that `xbgen check` uses; this file implements what those
 * headers declare.  It follows the real core (drivers/xen/xenbus/
 * xenbus_probe.c, xenbus_probe_backend.c, xenbus_probe_frontend.c,
 * xenbus_client.c, drivers/xen/grant-table.c, drivers/xen/events/):
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
 *  - device_unregister() from a callback removes and frees the device;
 *  - a grant table per domain: a granted page can be mapped by the domain
 *    it is granted to; ending a grant that is still mapped is deferred
 *    until the mapping goes, and the page lives until then;
 *  - event channels per domain: an unbound port allocated for a remote
 *    domain, an interdomain binding to such a port, irqs bound to ports,
 *    closing a port leaves the remote end unbound; lateeoi channels stay
 *    masked from an event until its EOI;
 *  - xenstore transactions buffer their writes until a commit, which may
 *    fail with -EAGAIN;
 *  - schedule_work() queues a work item on the domain's worker thread.
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

#include <linux/bitops.h>
#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/interface/io/ring.h>
#include <xen/page.h>
#include <xen/platform_pci.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "sim.h"

#ifndef EACCES
#define EACCES 13
#endif
#ifndef ESRCH
#define ESRCH 3
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef EEXIST
#define EEXIST 17
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

/*
 * A ring tree's guest program (`xbgen verify` compiles it with the tree's
 * frontend header): one call of NAMEfront_call(); absent for a handshake
 * tree.  The frontend's calls of the user hooks reach xbgen_sim_user_up()
 * and xbgen_sim_user_down() first (the linker wraps them).
 */
int xbgen_sim_call(void *fdev) __attribute__((weak));
void xbgen_sim_user_up(void *fdev);
void xbgen_sim_user_down(void *fdev);

/* The modules' hooks (module_init/module_exit under XBGEN_SIM). */
extern int (*xbgen_sim_init_front)(void);
extern void (*xbgen_sim_exit_front)(void);
extern int (*xbgen_sim_init_back)(void);
extern void (*xbgen_sim_exit_back)(void);

/*
 * The drivers' own static data (the linker script `xbgen verify` links with
 * gathers it here): part of a configuration, like the heap.
 */
extern char __xbgen_drivers_start[] __attribute__((weak));
extern char __xbgen_drivers_end[] __attribute__((weak));

struct module {
	int unused;
} __this_module;
enum xen_domain_type xen_domain_type = XEN_PV_DOMAIN;
unsigned long volatile jiffies = 100000;

/* ------------------------------------------------------------------ world */

#define MAX_NODES 64
#define MAX_ALLOCS 64
#define QMAX 6
#define STACK_SIZE (128 * 1024)
#define MAX_CALLS 4096
#define MAX_GRANTS 40
#define MAX_MAPS 4
#define MAX_PORTS 8		/* port numbers 1..MAX_PORTS-1 */
#define MAX_IRQS 6
#define IRQ_BASE 32
#define MAX_DENTRIES 8
#define MAX_WORKS 6
#define MAX_TXN_OPS 20
#define RING_PAGES_MAX 16
#define FIRST_GREF 8		/* GNTTAB_NR_RESERVED_ENTRIES */
#define INVALID_GREF 0xffffffffU
#define GFP_SLEEPS 0x400	/* __GFP_DIRECT_RECLAIM: GFP_KERNEL may sleep */

enum { EV_BUS = 1, EV_OTHEREND = 2 };
enum {
	ACT_NONE, ACT_WATCH, ACT_BIND, ACT_UNBIND, ACT_INSMOD, ACT_RMMOD, ACT_WORK, ACT_IRQ,
	ACT_CALL,
};
enum { TH_MAIN, TH_WORK, TH_IRQ, TH_USER, SIM_NTH };
enum { BLK_NONE, BLK_MUTEX, BLK_WORK, BLK_FLUSH, BLK_WAITQ, BLK_COMPLETION, BLK_USER };
enum { DEC_NONE, DEC_ALLOC, DEC_COMMIT };
enum { K_MEM, K_PAGES, K_SIM };
enum { P_FREE, P_UNBOUND, P_INTERDOMAIN };

/* work_struct.data */
#define WORK_PENDING	1UL
#define WORK_CANCELING	2UL

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

/* One kernel thread of a domain, run as a coroutine. */
struct thread {
	int act;			/* ACT_*: what it runs, ACT_NONE when idle */
	int done;
	int dead;			/* stopped by a violation */
	int steps;			/* xenstore accesses */
	int points;			/* points where others may run */
	int calls;
	int in_module;			/* inside module init/exit */
	int core;			/* > 0 while the core itself calls the API */
	int told;			/* the state otherend_changed was given */
	int block;			/* BLK_*: what it sleeps on */
	const void *block_on;
	unsigned int block_val;
	int timeout;			/* the sleep may time out */
	int timed_out;
	int spins;			/* spinlocks held */
	int mutexes;			/* mutexes held */
	int excused;			/* the other end withdrew its ring under it */
	int decision;			/* DEC_*: waits for the explorer to decide */
	int chosen;			/* ... and it decided for the fault */
	struct work_struct *work;	/* ACT_WORK: the item it runs */
	int irq;			/* ACT_IRQ: the irq it handles */
	uint64_t hash;			/* what it has seen since it started */
	int watch;			/* heap_at holds the heap when others began to run */
	uint64_t heap_at;
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
	struct thread th[SIM_NTH];
	/* planted faults: 1 armed, 2 in force for the current activity */
	int xsfail;
	int nomem;
	struct work_struct *works[MAX_WORKS];	/* queued, in order */
	int nworks;
	struct txn *txn;		/* the open xenstore transaction */
};

struct alloc {
	void *ptr;
	size_t size;
	int dom;			/* -1: no longer the domain's (a page kept by a grant) */
	unsigned char module;		/* made by module init/exit */
	unsigned char kind;		/* K_MEM, K_PAGES, K_SIM */
	unsigned short pages_freed;	/* K_PAGES: a bit per page its owner freed */
};

struct grant {
	uint32_t ref;
	unsigned char used;		/* 1 granted, 2 ended but still mapped */
	unsigned char owner;		/* the granting domain (index) */
	unsigned char maps;		/* mappings by the grantee */
	unsigned char module;
	int to;				/* domid it is granted to */
	unsigned char *page;
};

struct mapping {
	unsigned char used, dom, owner, n, module;
	uint32_t refs[RING_PAGES_MAX];
	void *vaddr;
};

struct port {
	unsigned char state;		/* P_* */
	unsigned char pending;
	unsigned char module;
	signed char irq;		/* index of the irq bound to it, or -1 */
	int rdom;			/* remote domid */
	int rport;
};

struct irqrec {
	unsigned char used, disabled, masked, module;
	int port;
	irq_handler_t handler;
	void *dev_id;
};

struct dentry {
	int id;
};

struct dent {
	struct dentry *d;
	signed char parent;		/* index, -1 for the debugfs root */
	unsigned char used, dom, module, dir;
	void *data;
	char name[24];
};

#define TXN_DIRS 4

/*
 * An open transaction: its writes, and the directories it touched with what
 * they held when it first did (xenstored fails the commit with -EAGAIN
 * when another writer changed a node the transaction used).
 */
struct txn {
	uint32_t id;
	int ndirs;
	uint64_t dir_hash[TXN_DIRS];
	char dirs[TXN_DIRS][SIM_PATH];
	int nops;
	struct {
		char path[SIM_PATH];
		char val[SIM_VAL];
	} ops[MAX_TXN_OPS];
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
	int nallocs;
	struct grant grants[MAX_GRANTS];
	struct mapping maps[MAX_MAPS];
	struct port ports[SIM_NDOM][MAX_PORTS];
	struct irqrec irqs[SIM_NDOM][MAX_IRQS];
	struct dent dents[MAX_DENTRIES];
	int deciding;			/* threads waiting for a decision */
	/* the guest program: the device it may call, its calls, the last result */
	void *user_fdev;
	int calls_used;
	int call_result;
	/* toolstack */
	int script;			/* 0 idle, 1 activate, 2 deactivate */
	int pc;
	unsigned int flags;
	int env_used, hostile_used, faults_used;
	int last_env;			/* the last move was the environment's */
	int last_hostile;
	int prop;
	/* last: snapshots keep the used part of these two */
	struct alloc allocs[MAX_ALLOCS];
	struct xs_node xs[MAX_NODES];
} w;

static struct sim_limits lim;
static char msg[512];			/* the last violation */
static ucontext_t sched_ctx;
/* the threads' registers: kept with their stacks, for active threads only */
static ucontext_t ctxs[SIM_NDOM][SIM_NTH];
static struct dom *cur;			/* the domain whose code runs */
static struct thread *cur_t;		/* ... and its thread */
static int tracing;
static char *stacks[SIM_NDOM][SIM_NTH];

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

static ucontext_t *ctx_of(const struct thread *t)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++)
		if (t >= w.dom[i].th && t < w.dom[i].th + SIM_NTH)
			return &ctxs[i][t - w.dom[i].th];
	abort();
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

/* --------------------------------------------------------------- xenstore */

/* Bumped whenever xenstore may have changed: see state_of(). */
static unsigned long xs_epoch = 1;

/*
 * Is @path @dir or below it?  Plain loops, not checked by AddressSanitizer
 * (the simulation's own strings): the hot path of every step.
 */
__attribute__((no_sanitize_address))
static int under(const char *path, const char *dir)
{
	while (*dir && *path == *dir) {
		path++;
		dir++;
	}
	return !*dir && (*path == '\0' || *path == '/');
}

__attribute__((no_sanitize_address))
static int same(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

__attribute__((no_sanitize_address))
static int xs_find(const char *path)
{
	int i;

	for (i = 0; i < w.nxs; i++)
		if (same(w.xs[i].path, path))
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
struct epoch_cache {
	unsigned long epoch;
	int value;
};

static struct epoch_cache fe_state, be_state, fe_exists, be_exists;

/* fn(dir), from @cache while xenstore has not changed since it was filled. */
static int cached(struct epoch_cache *cache, int (*fn)(const char *), const char *dir)
{
	if (cache->epoch != xs_epoch) {
		cache->value = fn(dir);
		cache->epoch = xs_epoch;
	}
	return cache->value;
}

/* xs_exists() of a device directory, remembered likewise. */
static int dir_exists(const char *dir)
{
	if (dir == fe_dir)
		return cached(&fe_exists, xs_exists, dir);
	if (dir == be_dir)
		return cached(&be_exists, xs_exists, dir);
	return xs_exists(dir);
}

static int state_of(const char *dir)
{
	if (dir == fe_dir)
		return cached(&fe_state, state_of_uncached, dir);
	if (dir == be_dir)
		return cached(&be_state, state_of_uncached, dir);
	return state_of_uncached(dir);
}

/* ---------------------------------------------------------------- domains */

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

__attribute__((no_sanitize_address))
static uint64_t mix_str(uint64_t h, const char *s)
{
	size_t n = strlen(s), i;
	uint64_t v;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&v, s + i, 8);
		h = mix(h, v);
	}
	v = 0;
	memcpy(&v, s + i, n - i);
	return mix(mix(h, v), n);
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

static const char *home_of(struct dom *d)
{
	return d == fe() ? fe_home : be_home;
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

static int write_fails(struct dom *d)
{
	return d && d->xsfail == 2;
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

/* ------------------------------------------------------------ memory */

/*
 * Every object the simulation hands out (driver allocations, pages,
 * devices, debugfs entries) lives in one arena, so a configuration can be
 * saved and restored by copying the live blocks.  Blocks are never reused
 * and are poisoned when freed, with poisoned gaps between them:
 * AddressSanitizer reports a use after free or an overflow at once.
 */
#define ARENA_SIZE (8 << 20)
#define GAP 32

static size_t arena_hwm;

static unsigned char arena[ARENA_SIZE] __attribute__((aligned(64)));

static int in_arena(uintptr_t v)
{
	return v >= (uintptr_t)arena && v < (uintptr_t)arena + w.top;
}

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

/* The live block that holds [p, p + n), if any. */
static struct alloc *alloc_holding(const void *p, size_t n)
{
	uintptr_t v = (uintptr_t)p;
	int i;

	for (i = 0; i < w.nallocs; i++) {
		uintptr_t a = (uintptr_t)w.allocs[i].ptr;

		if (v >= a && v + n <= a + (w.allocs[i].size ? w.allocs[i].size : 1))
			return &w.allocs[i];
	}
	return NULL;
}

static void *track(void *p, size_t size, int kind)
{
	struct dom *d = cur;

	if (w.nallocs == MAX_ALLOCS) {
		violate(PROP_SAFE, "more than %d live allocations", MAX_ALLOCS);
		return NULL;
	}
	w.allocs[w.nallocs].ptr = p;
	w.allocs[w.nallocs].size = size;
	w.allocs[w.nallocs].dom = d ? dom_index(d) : -1;
	w.allocs[w.nallocs].module = cur_t ? cur_t->in_module : 0;
	w.allocs[w.nallocs].kind = kind;
	w.allocs[w.nallocs].pages_freed = 0;
	w.nallocs++;
	return p;
}

/* A block the simulation itself keeps (debugfs entries, transactions). */
static void *sim_block(size_t size)
{
	void *p = arena_alloc(size);

	memset(p, 0, size);
	return track(p, size, K_SIM);
}

static void drop_block(struct alloc *a)
{
	int i = (int)(a - w.allocs);

	arena_free(a->ptr, a->size ? a->size : 1);
	/* keep allocation order: the hash names blocks by position */
	memmove(&w.allocs[i], &w.allocs[i + 1], (size_t)(w.nallocs - 1 - i) * sizeof(*a));
	w.nallocs--;
}

static void check_freed_block(const void *p, size_t size, const char *how);

static void *sim_alloc(size_t size, int zero, gfp_t gfp, int kind, const char *what)
{
	void *p;

	api_call();
	if (gfp & GFP_SLEEPS)
		may_sleep(what);
	if (fault_here(what))
		return NULL;
	p = arena_alloc(size ? size : 1);
	if (zero)
		memset(p, 0, size);
	else
		memset(p, 0xa5, size);
	return track(p, size, kind);
}

void *kmalloc(size_t size, gfp_t flags)
{
	return sim_alloc(size, !!(flags & __GFP_ZERO), flags, K_MEM, "an allocation");
}

void *kzalloc(size_t size, gfp_t flags)
{
	return sim_alloc(size, 1, flags, K_MEM, "an allocation");
}

void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	if (size && n > (size_t)-1 / size)
		return NULL;
	return sim_alloc(n * size, 1, flags, K_MEM, "an allocation");
}

void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	return kcalloc(n, size, flags);
}

static void sim_free(const void *objp, const char *fn)
{
	struct alloc *a;

	api_call();
	if (!objp)
		return;
	a = find_alloc(objp);
	if (!a || a->kind != K_MEM) {
		violate(PROP_SAFE, "%s() of memory that is not allocated (double free?)", fn);
		return;
	}
	check_freed_block(a->ptr, a->size, fn);
	drop_block(a);
}

void kfree(const void *objp)
{
	sim_free(objp, "kfree");
}

void kvfree(const void *addr)
{
	sim_free(addr, "kvfree");
}

static int live_allocs(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < w.nallocs; i++)
		n += w.allocs[i].dom == dom && w.allocs[i].module == module &&
		     w.allocs[i].kind != K_SIM;
	return n;
}

/* -------------------------------------------------------------- pages */

static int page_granted(const unsigned char *page, int used);

void *alloc_pages_exact(size_t size, gfp_t gfp_mask)
{
	size = (size + XEN_PAGE_SIZE - 1) & ~(XEN_PAGE_SIZE - 1);
	return sim_alloc(size, !!(gfp_mask & __GFP_ZERO), gfp_mask, K_PAGES,
			 "alloc_pages_exact()");
}

/* A page block goes once its owner freed every page and no grant needs it. */
static void page_release(struct alloc *a)
{
	unsigned int all = (1U << (a->size / XEN_PAGE_SIZE)) - 1;
	size_t i;

	if ((a->pages_freed & all) != all)
		return;
	for (i = 0; i < a->size; i += XEN_PAGE_SIZE)
		if (page_granted((unsigned char *)a->ptr + i, 0))
			return;
	drop_block(a);
}

/* The owner gives back pages [p, p + size): free_pages_exact() or a put_page. */
static void pages_put(const void *p, size_t size, const char *fn)
{
	struct alloc *a = alloc_holding(p, 1);
	size_t off, i;

	api_call();
	if (!a || a->kind != K_PAGES || a->dom != dom_index(cur)) {
		violate(PROP_SAFE, "%s() of pages that are not allocated (freed twice?)", fn);
		return;
	}
	off = (size_t)((const unsigned char *)p - (unsigned char *)a->ptr);
	if (off % XEN_PAGE_SIZE || off + size > a->size) {
		violate(PROP_SAFE, "%s() of a range that is not what was allocated", fn);
		return;
	}
	for (i = off; i < off + size; i += XEN_PAGE_SIZE) {
		unsigned int bit = 1U << (i / XEN_PAGE_SIZE);

		if (a->pages_freed & bit) {
			violate(PROP_SAFE, "%s() of a page that was already freed", fn);
			return;
		}
		if (page_granted((unsigned char *)a->ptr + i, 1)) {
			violate(PROP_RESOURCES,
				"%s frees a page that is still granted to another domain "
				"(the grant was not ended first)", me());
			return;
		}
		a->pages_freed |= bit;
	}
	if (a->pages_freed == (1U << (a->size / XEN_PAGE_SIZE)) - 1) {
		/* a page ended while mapped stays until it is unmapped */
		a->dom = -1;
		page_release(a);
	}
}

void free_pages_exact(void *virt, size_t size)
{
	size = (size + XEN_PAGE_SIZE - 1) & ~(XEN_PAGE_SIZE - 1);
	pages_put(virt, size, "free_pages_exact");
}

struct page *virt_to_page(const void *addr)
{
	return (struct page *)(uintptr_t)addr;
}

/* ----------------------------------------------------------- printk */

int printk(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	const char *text = buf;
	struct thread *mt = cur ? &cur->th[TH_MAIN] : NULL;

	api_call();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (text[0] == '\001' && text[1])
		text += 2;
	buf[strcspn(buf, "\n")] = '\0';
	trace("%s printk: %s", cur ? cur->name : "?", text);
	if (cur && cur->dev && strstr(text, "connected as well") &&
	    (cur->dev->xb.state != XenbusStateConnected || cur_t != mt ||
	     mt->told != XenbusStateConnected))
		violate(PROP_LOG, "the %s printed \"%s\" while it is %s and was told the other end is %s",
			cur->side, text, xenbus_strstate(cur->dev->xb.state),
			cur_t == mt && mt->act == ACT_WATCH ? xenbus_strstate(mt->told) : "nothing");
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
	/*
	 * A fatal error is a bug on a legal schedule, unless the other end
	 * withdrew the grant or event channel this thread was taking: a race
	 * no driver can close (what follows is judged by the goals).
	 */
	if (!(cur_t && cur_t->core) && !(w.flags & SF_TAINTED) && !(cur_t && cur_t->excused))
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
			cur_t->core++;
			xs_point(0);	/* the error node */
			cur_t->core--;
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

static int may_write(struct dom *d, const char *path)
{
	char home[SIM_PATH];

	if (!d || d->id == 0)
		return 1;
	snprintf(home, sizeof(home), "/local/domain/%d", d->id);
	return under(path, home);
}

/* --------------------------------------------------- xenstore transactions */

static struct txn *txn_of(struct dom *d, struct xenbus_transaction t)
{
	return d && d->txn && d->txn->id == t.id ? d->txn : NULL;
}

static void txn_touch(struct txn *x, const char *dir);

/* What <path> reads as inside transaction @t (its own writes first). */
static const char *txn_read(struct dom *d, struct xenbus_transaction t, const char *path)
{
	struct txn *x = txn_of(d, t);
	int i;

	if (x) {
		char dir[SIM_PATH];
		const char *slash = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 0, path);
		txn_touch(x, dir);
	}
	if (x)
		for (i = x->nops - 1; i >= 0; i--)
			if (!strcmp(x->ops[i].path, path))
				return x->ops[i].val;
	return xs_read(path);
}

/* What <dir> and everything under it hold now. */
static uint64_t subtree_hash(const char *dir)
{
	uint64_t h = 0x5b7;
	int i;

	for (i = 0; i < w.nxs; i++)
		if (under(w.xs[i].path, dir))
			h = mix_str(mix_str(h, w.xs[i].path), w.xs[i].val);
	return h;
}

/* The transaction uses <dir>: remember what it held, the first time. */
static void txn_touch(struct txn *x, const char *dir)
{
	int i;

	for (i = 0; i < x->ndirs; i++)
		if (!strcmp(x->dirs[i], dir))
			return;
	if (x->ndirs == TXN_DIRS || strlen(dir) >= SIM_PATH) {
		fprintf(stderr, "xbgen-sim: a transaction uses too many directories\n");
		exit(70);
	}
	memcpy(x->dirs[x->ndirs], dir, strlen(dir) + 1);
	x->dir_hash[x->ndirs++] = subtree_hash(dir);
}

static void txn_close(struct dom *d)
{
	struct alloc *a = d->txn ? find_alloc(d->txn) : NULL;

	if (a)
		drop_block(a);
	d->txn = NULL;
}

int xenbus_transaction_start(struct xenbus_transaction *t)
{
	struct dom *d = cur;

	api_call();
	xs_point(0);
	if (!d)
		return -EINVAL;
	if (d->txn) {
		violate(PROP_RESOURCES, "%s starts a second xenstore transaction while one is open",
			me());
		return -EBUSY;
	}
	d->txn = sim_block(sizeof(*d->txn));
	if (!d->txn)
		return -ENOMEM;
	/* one transaction per domain at a time: its id names the domain */
	d->txn->id = 1 + (uint32_t)dom_index(d);
	t->id = d->txn->id;
	step_result((long)t->id);
	return 0;
}

int xenbus_transaction_end(struct xenbus_transaction t, int abort)
{
	struct dom *d = cur;
	struct txn *x = txn_of(d, t);
	int i;

	api_call();
	if (!x) {
		violate(PROP_RESOURCES, "%s ends a xenstore transaction that is not open", me());
		return -EINVAL;
	}
	if (abort) {
		xs_point(0);
		trace("%s: transaction aborted", d->name);
		txn_close(d);
		return 0;
	}
	xs_point(1);
	/* another writer may have touched the same nodes: the explorer decides */
	if (w.faults_used < lim.faults && cur_t->act != ACT_IRQ) {
		cur_t->decision = DEC_COMMIT;
		w.deciding++;
		yield();
		w.deciding--;
		cur_t->decision = DEC_NONE;
		if (cur_t->chosen) {
			cur_t->chosen = 0;
			trace("%s: transaction conflicts, -EAGAIN", d->name);
			txn_close(d);
			step_result(-EAGAIN);
			return -EAGAIN;
		}
	}
	if (write_fails(d)) {
		trace("%s: transaction commit fails (planted)", d->name);
		txn_close(d);
		step_result(-EIO);
		return -EIO;
	}
	for (i = 0; i < x->ndirs; i++)
		if (subtree_hash(x->dirs[i]) != x->dir_hash[i]) {
			trace("%s: transaction conflicts with a change under %s: -EAGAIN", d->name,
			      x->dirs[i]);
			txn_close(d);
			step_result(-EAGAIN);
			return -EAGAIN;
		}
	for (i = 0; i < x->nops; i++) {
		trace("%s writes %s = %s (transaction)", d->name, x->ops[i].path, x->ops[i].val);
		xs_write(x->ops[i].path, x->ops[i].val);
	}
	txn_close(d);
	step_result(0);
	return 0;
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

int xenbus_scanf(struct xenbus_transaction t, const char *dir, const char *node,
		 const char *fmt, ...)
{
	char path[SIM_PATH * 2];
	const char *v;
	va_list ap;
	int ret;

	api_call();
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	xs_point(!under(dir, cur ? home_of(cur) : ""));
	v = txn_read(cur, t, path);
	if (!v) {
		step_result(-ENOENT);
		return -ENOENT;
	}
	va_start(ap, fmt);
	ret = vsscanf(v, fmt, ap);
	va_end(ap);
	if (ret <= 0)
		ret = -ERANGE;
	step_result(ret);
	step_result((long)strlen(v));
	for (; *v; v++)
		step_result(*v);
	return ret;
}

int xenbus_printf(struct xenbus_transaction t, const char *dir, const char *node,
		  const char *fmt, ...)
{
	char path[SIM_PATH * 2], val[SIM_VAL];
	struct dom *d = cur;
	struct txn *x = NULL;
	va_list ap;

	api_call();
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (t.id) {
		x = txn_of(d, t);
		if (!x) {
			violate(PROP_RESOURCES, "%s writes in a xenstore transaction that is not open",
				me());
			return -EINVAL;
		}
	}
	/* a write inside a transaction shows only at its commit */
	xs_point(!x);
	if (write_fails(d)) {
		trace("%s: xenstore write of %s fails (planted)", d->name, path);
		step_result(-EIO);
		return -EIO;
	}
	if (!may_write(d, path)) {
		step_result(-EACCES);
		return -EACCES;
	}
	if (x) {
		txn_touch(x, dir);
		if (x->nops == MAX_TXN_OPS) {
			fprintf(stderr, "xbgen-sim: more than %d writes in one transaction\n",
				MAX_TXN_OPS);
			exit(70);
		}
		if (strlen(path) >= SIM_PATH) {
			fprintf(stderr, "xbgen-sim: xenstore path too long: %s\n", path);
			exit(70);
		}
		memcpy(x->ops[x->nops].path, path, strlen(path) + 1);
		memcpy(x->ops[x->nops].val, val, strlen(val) + 1);
		x->nops++;
		step_result(0);
		return 0;
	}
	trace("%s writes %s = %s", d ? d->name : "?", path, val);
	xs_write(path, val);
	step_result(0);
	return 0;
}

/* --------------------------------------------------------------- the bus */

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

	cur_t->core++;
	xs_point(0);
	snprintf(path, sizeof(path), "%s/%s", sd->nodename, pathkey);
	other = xs_read(path);
	err = xs_read_int(sd->nodename, idkey, &id);
	step_result(other ? (long)strlen(other) : -1);
	if (!other || err) {
		xenbus_dev_fatal(&sd->xb, -ENOENT, "reading other end details from %s",
				 sd->nodename);
		cur_t->core--;
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
		cur_t->core--;
		return -ENOENT;
	}
	cur_t->core--;
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
	cur_t->core++;
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
	cur_t->core--;
}

/* xenbus_dev_changed() for the device's directory. */
static void act_bus(struct dom *d)
{
	const char *dir = d == fe() ? fe_dir : be_dir;
	int exists, st;

	cur_t->core++;
	xs_point(0);
	exists = dir_exists(dir);
	step_result(exists);
	if (!exists) {
		if (d->dev) {
			trace("%s: %s gone, unregistering the device", d->name, dir);
			cur_t->core--;
			if (d->dev->bound)
				act_remove(d);
			release_device(d);
			cur_t->core++;
		}
		cur_t->core--;
		return;
	}
	if (d->dev) {
		cur_t->core--;
		return;
	}
	xs_point(0);
	if (xs_read_int(dir, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	cur_t->core--;
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

	cur_t->core++;
	xs_point(1);
	if (xs_read_int(sd->otherend, "state", &st))
		st = XenbusStateUnknown;
	step_result(st);
	cur_t->core--;
	cur_t->told = st;
	trace("%s: otherend_changed(%s) in state %s", d->name, xenbus_strstate(st),
	      xenbus_strstate(sd->xb.state));
	d->drv->otherend_changed(&sd->xb, st);
}

static void act_insmod(struct dom *d)
{
	int err;

	cur_t->in_module = 1;
	err = d == fe() ? xbgen_sim_init_front() : xbgen_sim_init_back();
	cur_t->in_module = 0;
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
	cur_t->in_module = 1;
	if (d == fe())
		xbgen_sim_exit_front();
	else
		xbgen_sim_exit_back();
	cur_t->in_module = 0;
	if (d->drv)
		violate(PROP_SAFE, "the %s module unloaded with its driver still registered",
			d->side);
	d->loaded = 0;
}

/* ------------------------------------------------------------ grant table */

static int page_granted(const unsigned char *page, int only_active)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].page == page &&
		    (!only_active || w.grants[i].used == 1))
			return 1;
	return 0;
}

static struct grant *find_grant(int owner, uint32_t ref)
{
	int i;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used && w.grants[i].owner == owner && w.grants[i].ref == ref)
			return &w.grants[i];
	return NULL;
}

static int count_grants(int owner, int module, uint32_t *first)
{
	int i, n = 0;

	for (i = 0; i < MAX_GRANTS; i++)
		if (w.grants[i].used == 1 && w.grants[i].owner == owner &&
		    w.grants[i].module == module) {
			if (!n && first)
				*first = w.grants[i].ref;
			n++;
		}
	return n;
}

/* gnttab_grant_foreign_access(): the lowest free reference past the reserved ones. */
static int grant_page(struct dom *d, int to, unsigned char *page, uint32_t *ref)
{
	uint32_t r;
	int i, slot = -1;

	for (i = 0; i < MAX_GRANTS; i++)
		if (!w.grants[i].used) {
			slot = i;
			break;
		}
	if (slot < 0)
		return -ENOSPC;
	for (r = FIRST_GREF; find_grant(dom_index(d), r); r++)
		;
	w.grants[slot].ref = r;
	w.grants[slot].used = 1;
	w.grants[slot].owner = (unsigned char)dom_index(d);
	w.grants[slot].maps = 0;
	w.grants[slot].module = cur_t ? (unsigned char)cur_t->in_module : 0;
	w.grants[slot].to = to;
	w.grants[slot].page = page;
	*ref = r;
	trace("%s grants a page to dom%d: grant %u", d->name, to, r);
	return 0;
}

static void grant_drop(struct grant *g)
{
	struct alloc *a = alloc_holding(g->page, 1);

	g->used = 0;
	if (a && a->kind == K_PAGES)
		page_release(a);
}

/* gnttab_end_foreign_access(): at once, or once the grantee unmaps it. */
static void end_grant(uint32_t ref)
{
	struct dom *d = cur;
	struct grant *g = find_grant(dom_index(d), ref);

	api_call();
	if (!g || g->used != 1) {
		violate(PROP_RESOURCES, "%s ends grant %u, which %s", me(), ref,
			g ? "it has already ended (ended twice)" : "is not granted");
		return;
	}
	if (g->maps) {
		g->used = 2;
		trace("%s ends grant %u: deferred, dom%d still maps it", d->name, ref, g->to);
		return;
	}
	trace("%s ends grant %u", d->name, ref);
	grant_drop(g);
}

#ifdef XBGEN_GNTTAB_END_PAGE
void gnttab_end_foreign_access(grant_ref_t ref, struct page *page)
{
	end_grant(ref);
	if (page && !w.prop)
		pages_put((void *)page, XEN_PAGE_SIZE, "gnttab_end_foreign_access");
}
#else
void gnttab_end_foreign_access(grant_ref_t ref, int readonly, unsigned long page)
{
	(void)readonly;
	end_grant(ref);
	if (page && !w.prop)
		pages_put((void *)page, XEN_PAGE_SIZE, "gnttab_end_foreign_access");
}
#endif

/* gnttab_alloc_grant_references() + claim + grant, as xenbus_client.c does. */
static int grant_pages(struct xenbus_device *dev, unsigned char *vaddr, unsigned int nr_pages,
		       grant_ref_t *grefs)
{
	unsigned int i;
	int err = 0;

	if (fault_here("granting the ring"))
		err = -ENOSPC;
	for (i = 0; !err && i < nr_pages; i++) {
		err = grant_page(cur, dev->otherend_id, vaddr + i * XEN_PAGE_SIZE, &grefs[i]);
		if (err)
			while (i--)
				end_grant(grefs[i]);
	}
	if (err) {
		cur_t->core++;
		xenbus_dev_fatal(dev, err, "granting access to %u ring pages", nr_pages);
		cur_t->core--;
	}
	return err;
}

#ifdef XBGEN_XENBUS_SETUP_RING
int xenbus_setup_ring(struct xenbus_device *dev, gfp_t gfp, void **vaddr,
		      unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;
	int err;

	api_call();
	*vaddr = alloc_pages_exact(nr_pages * XEN_PAGE_SIZE, gfp | __GFP_ZERO);
	if (!*vaddr) {
		err = -ENOMEM;
		goto fail;
	}
	err = grant_pages(dev, *vaddr, nr_pages, grefs);
	if (err)
		goto fail;
	return 0;
fail:
	if (*vaddr)
		free_pages_exact(*vaddr, nr_pages * XEN_PAGE_SIZE);
	for (i = 0; i < nr_pages; i++)
		grefs[i] = INVALID_GREF;
	*vaddr = NULL;
	return err;
}

void xenbus_teardown_ring(void **vaddr, unsigned int nr_pages, grant_ref_t *grefs)
{
	unsigned int i;

	api_call();
	for (i = 0; i < nr_pages && !w.prop; i++) {
		if (grefs[i] != INVALID_GREF) {
			end_grant(grefs[i]);
			grefs[i] = INVALID_GREF;
		}
	}
	if (*vaddr && !w.prop)
		free_pages_exact(*vaddr, nr_pages * XEN_PAGE_SIZE);
	*vaddr = NULL;
}
#else
int xenbus_grant_ring(struct xenbus_device *dev, void *vaddr, unsigned int nr_pages,
		      grant_ref_t *grefs)
{
	api_call();
	return grant_pages(dev, vaddr, nr_pages, grefs);
}
#endif

static int count_maps(int dom, int module)
{
	int i, n = 0;

	for (i = 0; i < MAX_MAPS; i++)
		n += w.maps[i].used && w.maps[i].dom == dom && w.maps[i].module == module;
	return n;
}

int xenbus_map_ring_valloc(struct xenbus_device *dev, grant_ref_t *gnt_refs,
			   unsigned int nr_grefs, void **vaddr)
{
	struct dom *d = cur, *owner;
	struct grant *g[RING_PAGES_MAX];
	struct mapping *m = NULL;
	unsigned int i;

	api_call();
	may_sleep("xenbus_map_ring_valloc()");
	*vaddr = NULL;
	if (nr_grefs > RING_PAGES_MAX)
		return -EINVAL;
	if (fault_here("an allocation (xenbus_map_ring_valloc)"))
		return -ENOMEM;
	hyp_point();
	owner = dom_by_id(dev->otherend_id);
	for (i = 0; i < nr_grefs; i++) {
		g[i] = owner && owner != d ? find_grant(dom_index(owner), gnt_refs[i]) : NULL;
		if (!g[i] || g[i]->to != d->id ||
		    (i && g[i]->page != g[0]->page + i * XEN_PAGE_SIZE)) {
			trace("%s: mapping grant %u of dom%d fails: it is not granted to it",
			      d->name, gnt_refs[i], dev->otherend_id);
			step_result(-ENOENT);
			cur_t->excused = 1;
			cur_t->core++;
			xenbus_dev_fatal(dev, -1, "mapping in shared page %d from domain %d",
					 gnt_refs[i], dev->otherend_id);
			cur_t->core--;
			return -ENOENT;
		}
	}
	for (i = 0; i < MAX_MAPS; i++)
		if (!w.maps[i].used) {
			m = &w.maps[i];
			break;
		}
	if (!m) {
		fprintf(stderr, "xbgen-sim: more than %d ring mappings\n", MAX_MAPS);
		exit(70);
	}
	memset(m, 0, sizeof(*m));
	m->used = 1;
	m->dom = (unsigned char)dom_index(d);
	m->owner = (unsigned char)dom_index(owner);
	m->n = (unsigned char)nr_grefs;
	m->module = (unsigned char)cur_t->in_module;
	for (i = 0; i < nr_grefs; i++) {
		m->refs[i] = gnt_refs[i];
		g[i]->maps++;
	}
	m->vaddr = g[0]->page;
	*vaddr = m->vaddr;
	step_result(0);
	trace("%s maps grant %u of dom%d", d->name, gnt_refs[0], owner->id);
	/* both domains now share memory: their threads see each other's writes */
	return 0;
}

int xenbus_unmap_ring_vfree(struct xenbus_device *dev, void *vaddr)
{
	struct dom *d = cur;
	struct mapping *m = NULL;
	unsigned int i;

	api_call();
	(void)dev;
	may_sleep("xenbus_unmap_ring_vfree()");
	for (i = 0; i < MAX_MAPS; i++)
		if (w.maps[i].used && w.maps[i].dom == dom_index(d) && w.maps[i].vaddr == vaddr) {
			m = &w.maps[i];
			break;
		}
	if (!m) {
		violate(PROP_RESOURCES, "%s unmaps %s, which it has not mapped (unmapped twice?)",
			me(), vaddr ? "a ring" : "NULL");
		return -ENOENT;
	}
	trace("%s unmaps grant %u of dom%d", d->name, m->refs[0], w.dom[m->owner].id);
	for (i = 0; i < m->n; i++) {
		struct grant *g = find_grant(m->owner, m->refs[i]);

		if (g && g->maps) {
			g->maps--;
			if (g->used == 2 && !g->maps) {
				trace("dom%d's deferred end of grant %u completes",
				      w.dom[g->owner].id, g->ref);
				grant_drop(g);
			}
		}
	}
	m->used = 0;
	return 0;
}

/* --------------------------------------------------------- event channels */

static struct port *port_of(struct dom *d, unsigned int port)
{
	if (!port || port >= MAX_PORTS || w.ports[dom_index(d)][port].state == P_FREE)
		return NULL;
	return &w.ports[dom_index(d)][port];
}

static int alloc_port(struct dom *d, int state, int rdom, int rport)
{
	int p;

	for (p = 1; p < MAX_PORTS; p++) {
		struct port *x = &w.ports[dom_index(d)][p];

		if (x->state == P_FREE) {
			memset(x, 0, sizeof(*x));
			x->state = (unsigned char)state;
			x->rdom = rdom;
			x->rport = rport;
			x->irq = -1;
			x->module = cur_t ? (unsigned char)cur_t->in_module : 0;
			return p;
		}
	}
	return -ENOSPC;
}

/* EVTCHNOP_close: the remote end of an interdomain channel goes back to unbound. */
static void close_port(struct dom *d, int p)
{
	struct port *x = &w.ports[dom_index(d)][p];

	if (x->state == P_INTERDOMAIN) {
		struct dom *r = dom_by_id(x->rdom);
		struct port *y = r && r->alive ? port_of(r, (unsigned int)x->rport) : NULL;

		if (y && y->state == P_INTERDOMAIN && y->rdom == d->id && y->rport == p) {
			y->state = P_UNBOUND;
			y->rport = 0;
		}
	}
	trace("%s closes event channel %d", d->name, p);
	memset(x, 0, sizeof(*x));
	x->irq = -1;
}

int xenbus_alloc_evtchn(struct xenbus_device *dev, evtchn_port_t *port)
{
	struct dom *d = cur;
	int p;

	api_call();
	p = fault_here("allocating an event channel") ? -ENOSPC :
	    alloc_port(d, P_UNBOUND, dev->otherend_id, 0);
	if (p < 0) {
		cur_t->core++;
		xenbus_dev_fatal(dev, p, "allocating event channel");
		cur_t->core--;
		return p;
	}
	*port = (evtchn_port_t)p;
	trace("%s allocates event channel %d for dom%d", d->name, p, dev->otherend_id);
	step_result(p);
	return 0;
}

int xenbus_free_evtchn(struct xenbus_device *dev, evtchn_port_t port)
{
	struct dom *d = cur;
	struct port *x;

	api_call();
	(void)dev;
	x = port_of(d, port);
	if (!x) {
		violate(PROP_RESOURCES, "%s closes event channel %u, which is not open (closed twice?)",
			me(), port);
		return -EINVAL;
	}
	if (x->irq >= 0) {
		violate(PROP_RESOURCES,
			"%s closes event channel %u, which irq %d is still bound to "
			"(unbind_from_irqhandler() closes it)", me(), port, IRQ_BASE + x->irq);
		return -EINVAL;
	}
	close_port(d, (int)port);
	return 0;
}

static int bind_irq(struct dom *d, int p, irq_handler_t handler, void *dev_id)
{
	struct irqrec *q;
	int i;

	for (i = 0; i < MAX_IRQS; i++)
		if (!w.irqs[dom_index(d)][i].used)
			break;
	if (i == MAX_IRQS)
		return -ENOSPC;
	q = &w.irqs[dom_index(d)][i];
	memset(q, 0, sizeof(*q));
	q->used = 1;
	q->module = cur_t ? (unsigned char)cur_t->in_module : 0;
	q->port = p;
	q->handler = handler;
	q->dev_id = dev_id;
	w.ports[dom_index(d)][p].irq = (signed char)i;
	trace("%s binds event channel %d to irq %d", d->name, p, IRQ_BASE + i);
	step_result(IRQ_BASE + i);
	return IRQ_BASE + i;
}

int bind_evtchn_to_irqhandler_lateeoi(evtchn_port_t evtchn, irq_handler_t handler,
				      unsigned long irqflags, const char *devname,
				      void *dev_id)
{
	struct dom *d = cur;
	struct port *x;

	api_call();
	(void)irqflags;
	(void)devname;
	may_sleep("binding an irq");
	x = port_of(d, evtchn);
	if (!x) {
		violate(PROP_RESOURCES, "%s binds event channel %u, which is not open", me(), evtchn);
		return -EINVAL;
	}
	if (x->irq >= 0) {
		violate(PROP_RESOURCES, "%s binds event channel %u, which is already bound to irq %d",
			me(), evtchn, IRQ_BASE + x->irq);
		return -EBUSY;
	}
	if (fault_here("binding an irq"))
		return -ENOMEM;
	return bind_irq(d, (int)evtchn, handler, dev_id);
}

static int bind_interdomain(int remote_domain, evtchn_port_t remote_port, irq_handler_t handler,
			    void *dev_id)
{
	struct dom *d = cur, *r;
	struct port *y;
	int p;

	api_call();
	may_sleep("binding an irq");
	if (fault_here("binding an irq"))
		return -ENOMEM;
	hyp_point();
	r = dom_by_id(remote_domain);
	if (!r || !r->alive || r == d) {
		trace("%s: EVTCHNOP_bind_interdomain: dom%d does not exist", d->name, remote_domain);
		step_result(-ESRCH);
		cur_t->excused = 1;
		return -ESRCH;
	}
	y = port_of(r, remote_port);
	if (!y || y->state != P_UNBOUND || y->rdom != d->id) {
		trace("%s: EVTCHNOP_bind_interdomain: dom%d's port %u is not open for it",
		      d->name, remote_domain, remote_port);
		step_result(-EINVAL);
		cur_t->excused = 1;
		return -EINVAL;
	}
	p = alloc_port(d, P_INTERDOMAIN, remote_domain, (int)remote_port);
	if (p < 0)
		return p;
	y->state = P_INTERDOMAIN;
	y->rport = p;
	/*
	 * Xen raises an event on the new port at once, for any notification
	 * lost while the remote port was unbound; the irq is unmasked before
	 * the bind returns, and returning may sleep: the handler can run before
	 * the caller has stored the irq number.
	 */
	w.ports[dom_index(d)][p].pending = 1;
	trace("%s binds event channel %d to dom%d's %u (an event is pending on it)", d->name, p,
	      remote_domain, remote_port);
	p = bind_irq(d, p, handler, dev_id);
	hyp_point();
	return p;
}

#ifdef XBGEN_EVTCHN_BIND_DEV
int bind_interdomain_evtchn_to_irqhandler_lateeoi(struct xenbus_device *dev,
						  evtchn_port_t remote_port,
						  irq_handler_t handler,
						  unsigned long irqflags,
						  const char *devname, void *dev_id)
{
	(void)irqflags;
	(void)devname;
	return bind_interdomain(dev->otherend_id, remote_port, handler, dev_id);
}
#else
int bind_interdomain_evtchn_to_irqhandler_lateeoi(unsigned int remote_domain,
						  evtchn_port_t remote_port,
						  irq_handler_t handler,
						  unsigned long irqflags,
						  const char *devname, void *dev_id)
{
	(void)irqflags;
	(void)devname;
	return bind_interdomain((int)remote_domain, remote_port, handler, dev_id);
}
#endif

static struct irqrec *irq_of(struct dom *d, unsigned int irq)
{
	if (irq < IRQ_BASE || irq >= IRQ_BASE + MAX_IRQS ||
	    !w.irqs[dom_index(d)][irq - IRQ_BASE].used)
		return NULL;
	return &w.irqs[dom_index(d)][irq - IRQ_BASE];
}

void unbind_from_irqhandler(unsigned int irq, void *dev_id)
{
	struct dom *d = cur;
	struct irqrec *q;
	int p;

	api_call();
	may_sleep("unbind_from_irqhandler()");
	q = irq_of(d, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s unbinds irq %u, which is not bound (unbound twice?)",
			me(), irq);
		return;
	}
	if (q->dev_id != dev_id) {
		violate(PROP_RESOURCES, "%s unbinds irq %u with a dev_id it was not bound with",
			me(), irq);
		return;
	}
	p = q->port;
	trace("%s unbinds irq %u", d->name, irq);
	memset(q, 0, sizeof(*q));
	w.ports[dom_index(d)][p].irq = -1;
	close_port(d, p);
}

/* Raise the event on the remote end of @d's port @p. */
static void signal_port(struct dom *d, int p)
{
	struct port *x = &w.ports[dom_index(d)][p];
	struct dom *r;
	struct port *y;

	if (x->state != P_INTERDOMAIN)
		return;
	r = dom_by_id(x->rdom);
	y = r && r->alive ? port_of(r, (unsigned int)x->rport) : NULL;
	if (y && y->state == P_INTERDOMAIN && y->rdom == d->id && y->rport == p)
		y->pending = 1;
}

void notify_remote_via_irq(int irq)
{
	struct dom *d = cur;
	struct irqrec *q;

	api_call();
	q = irq < 0 ? NULL : irq_of(d, (unsigned int)irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s notifies via irq %d, which is not bound", me(), irq);
		return;
	}
	trace("%s notifies the other end (irq %d)", d->name, irq);
	signal_port(d, q->port);
}

void disable_irq(unsigned int irq)
{
	struct irqrec *q;

	api_call();
	q = irq_of(cur, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s disables irq %u, which is not bound", me(), irq);
		return;
	}
	may_sleep("disable_irq()");
	q->disabled++;
}

void enable_irq(unsigned int irq)
{
	struct irqrec *q;

	api_call();
	q = irq_of(cur, irq);
	if (!q || !q->disabled) {
		violate(PROP_RESOURCES, "%s enables irq %u, which is %s", me(), irq,
			q ? "not disabled (unbalanced enable)" : "not bound");
		return;
	}
	q->disabled--;
}

void xen_irq_lateeoi(unsigned int irq, unsigned int eoi_flags)
{
	struct irqrec *q;

	api_call();
	(void)eoi_flags;
	q = irq_of(cur, irq);
	if (!q) {
		violate(PROP_RESOURCES, "%s sends an EOI for irq %u, which is not bound", me(), irq);
		return;
	}
	q->masked = 0;
}

/* ------------------------------------------------------------ work items */

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
	if (d->nworks == MAX_WORKS) {
		fprintf(stderr, "xbgen-sim: more than %d work items queued\n", MAX_WORKS);
		exit(70);
	}
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

/* ------------------------------------------------------------------ locks */

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

/* ------------------------------------------------ wait queues, completions */

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

/* ------------------------------------------------------- the guest program */

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

/* ---------------------------------------------------------------- debugfs */

#define SIM_ERR_PTR(e) ((void *)(intptr_t)(e))

static int is_err(const void *p)
{
	return (uintptr_t)p >= (uintptr_t)-4095;
}

static int dent_index(const struct dentry *d)
{
	int i;

	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].d == d)
			return i;
	return -1;
}

static struct dentry *dent_create(const char *name, struct dentry *parent, int dir, void *data)
{
	struct dent *e = NULL;
	int i, pi = -1;

	api_call();
	may_sleep("creating a debugfs entry");
	if (is_err(parent))
		return parent;
	if (parent) {
		pi = dent_index(parent);
		if (pi < 0) {
			violate(PROP_SAFE, "%s creates debugfs entry '%s' in a directory that was removed",
				me(), name);
			return SIM_ERR_PTR(-ENOENT);
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].parent == pi && !strcmp(w.dents[i].name, name)) {
			trace("%s: debugfs entry '%s' exists already: -EEXIST", cur->name, name);
			return SIM_ERR_PTR(-EEXIST);
		}
	if (fault_here("creating a debugfs entry"))
		return SIM_ERR_PTR(-ENOMEM);
	for (i = 0; i < MAX_DENTRIES; i++)
		if (!w.dents[i].used) {
			e = &w.dents[i];
			break;
		}
	if (!e) {
		fprintf(stderr, "xbgen-sim: more than %d debugfs entries\n", MAX_DENTRIES);
		exit(70);
	}
	memset(e, 0, sizeof(*e));
	e->d = sim_block(sizeof(struct dentry));
	e->used = 1;
	e->parent = (signed char)pi;
	e->dom = (unsigned char)dom_index(cur);
	e->module = (unsigned char)cur_t->in_module;
	e->dir = (unsigned char)dir;
	e->data = data;
	snprintf(e->name, sizeof(e->name), "%s", name);
	trace("%s creates debugfs %s '%s'", cur->name, dir ? "directory" : "file", name);
	return e->d;
}

struct dentry *debugfs_create_dir(const char *name, struct dentry *parent)
{
	return dent_create(name, parent, 1, NULL);
}

struct dentry *debugfs_create_file(const char *name, unsigned short mode, struct dentry *parent,
				   void *data, const struct file_operations *fops)
{
	(void)mode;
	(void)fops;
	return dent_create(name, parent, 0, data);
}

static void dent_remove(int i)
{
	struct alloc *a;
	int j;

	for (j = 0; j < MAX_DENTRIES; j++)
		if (w.dents[j].used && w.dents[j].parent == i)
			dent_remove(j);
	a = find_alloc(w.dents[i].d);
	if (a)
		drop_block(a);
	w.dents[i].used = 0;
}

void debugfs_remove(struct dentry *dentry)
{
	int i;

	api_call();
	may_sleep("debugfs_remove()");
	if (!dentry || is_err(dentry))
		return;
	i = dent_index(dentry);
	if (i < 0) {
		violate(PROP_RESOURCES, "%s removes a debugfs entry that was already removed", me());
		return;
	}
	trace("%s removes debugfs entry '%s'", cur->name, w.dents[i].name);
	dent_remove(i);
}

/* kfree() of a block something still points into. */
static void check_freed_block(const void *p, size_t size, const char *how)
{
	uintptr_t a = (uintptr_t)p, b = a + size;
	int i, k;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];

		for (k = 0; k < d->nworks; k++)
			if ((uintptr_t)d->works[k] >= a && (uintptr_t)d->works[k] < b)
				violate(PROP_SAFE, "%s %s() frees memory that holds a queued work item "
					"(it would run on freed memory)", me(), how);
		for (k = 0; k < SIM_NTH; k++) {
			struct thread *t = &d->th[k];

			if (t == cur_t || t->act == ACT_NONE)
				continue;
			if (t->act == ACT_WORK && (uintptr_t)t->work >= a && (uintptr_t)t->work < b)
				violate(PROP_SAFE, "%s %s() frees memory that holds a running work item",
					me(), how);
			if (t->block && (uintptr_t)t->block_on >= a && (uintptr_t)t->block_on < b)
				violate(PROP_SAFE, "%s %s() frees memory that %s sleeps on", me(), how,
					who(d, t));
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && (uintptr_t)w.dents[i].data >= a &&
		    (uintptr_t)w.dents[i].data < b)
			violate(PROP_SAFE, "%s %s() frees the data of debugfs file '%s', which is "
				"still there (reading it would use freed memory)", me(), how,
				w.dents[i].name);
}

/* ------------------------------------------------------------------- misc */

int __xbgen_ilog2(unsigned long long n)
{
	int r = -1;

	while (n) {
		n >>= 1;
		r++;
	}
	return r;
}

unsigned int __xbgen_ring_size(unsigned long bytes, unsigned long entry)
{
	unsigned long n = bytes > 64 ? (bytes - 64) / entry : 0, p = 1;

	if (!n)
		return 0;
	while (p * 2 <= n)
		p *= 2;
	return (unsigned int)p;
}

void __xbgen_mb(void)
{
}

int __xbgen_cond_resched(void)
{
	api_call();
	return 0;
}

/* Time is not modelled: every reading is the same. */
u64 ktime_get_ns(void)
{
	return 1000000000ULL;
}

u64 div_u64(u64 dividend, u32 divisor)
{
	return divisor ? dividend / divisor : 0;
}

u64 div64_u64(u64 dividend, u64 divisor)
{
	return divisor ? dividend / divisor : 0;
}

unsigned long copy_from_user(void *to, const void __user *from, unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

unsigned long copy_to_user(void __user *to, const void *from, unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

int simple_open(struct inode *inode, struct file *file)
{
	(void)inode;
	(void)file;
	return 0;
}

loff_t default_llseek(struct file *file, loff_t offset, int whence)
{
	(void)file;
	(void)whence;
	return offset;
}

ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos, const void *from,
				size_t available)
{
	loff_t pos = *ppos;

	if (pos < 0)
		return -EINVAL;
	if ((size_t)pos >= available || !count)
		return 0;
	if (count > available - (size_t)pos)
		count = available - (size_t)pos;
	memcpy(to, (const char *)from + pos, count);
	*ppos = pos + (loff_t)count;
	return (ssize_t)count;
}

ssize_t strscpy(char *dest, const char *src, size_t count)
{
	size_t n = strlen(src);

	if (!count)
		return -7;	/* -E2BIG */
	if (n >= count) {
		memcpy(dest, src, count - 1);
		dest[count - 1] = '\0';
		return -7;
	}
	memcpy(dest, src, n + 1);
	return (ssize_t)n;
}

void *memchr_inv(const void *s, int c, size_t n)
{
	const unsigned char *p = s;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

#define BITS_PER_LONG_ (8 * sizeof(unsigned long))

void set_bit(long nr, volatile unsigned long *addr)
{
	addr[nr / BITS_PER_LONG_] |= 1UL << (nr % BITS_PER_LONG_);
}

void clear_bit(long nr, volatile unsigned long *addr)
{
	addr[nr / BITS_PER_LONG_] &= ~(1UL << (nr % BITS_PER_LONG_));
}

bool test_bit(long nr, const volatile unsigned long *addr)
{
	return (addr[nr / BITS_PER_LONG_] >> (nr % BITS_PER_LONG_)) & 1;
}

bool test_and_clear_bit(long nr, volatile unsigned long *addr)
{
	bool old = test_bit(nr, addr);

	clear_bit(nr, addr);
	return old;
}

bool test_and_set_bit(long nr, volatile unsigned long *addr)
{
	bool old = test_bit(nr, addr);

	set_bit(nr, addr);
	return old;
}

/* ---------------------------------------------------------------- threads */

static uint64_t world_hash(int with_activities);
static uint64_t hash_word(uint64_t h, uint64_t v);

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

static int both_connected(void);

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
	 * On a legal schedule a call gets its answer, or -ENOTCONN when the
	 * device goes meanwhile.  A wait times out only when nothing else can
	 * happen: a timeout is a lost request or event, unless the user left
	 * no backend to answer (unbound, unloaded).
	 */
	if (t->act == ACT_CALL && !(w.flags & SF_TAINTED) && w.call_result &&
	    w.call_result != -ENOTCONN &&
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

static uint64_t heap_hash(void);

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
	default:
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
		return work_busy(d, t->block_on) ? &d->th[TH_WORK] : NULL;
	case BLK_USER:
		return (struct thread *)t->block_on;
	default:
		return NULL;
	}
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
			if (fe_done() || !dir_exists(be_dir)) {
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
	[MV_EVENT_BACK] = "domU sends an event",
	[MV_EVENT_FRONT] = "dom0 sends an event",
	[MV_CALL] = "a domU program calls the frontend",
	[MV_TOOLSTACK] = "toolstack step",
	[MV_TIMEOUT] = "toolstack times out",
	[MV_WAIT_TIMEOUT] = "a wait times out",
	[MV_WATCH_DOM0] = "dom0 watch event",
	[MV_WATCH_DOMU] = "domU watch event",
	[MV_RUN_DOM0] = "dom0 runs",
	[MV_RUN_DOMU] = "domU runs",
	[MV_WORK_DOM0] = "dom0 work item runs",
	[MV_WORK_DOMU] = "domU work item runs",
	[MV_IRQ_DOM0] = "dom0 interrupt",
	[MV_IRQ_DOMU] = "domU interrupt",
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
	return d->alive && !(d == fe() && w.hostile_used);
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

	for (m = MV_WATCH_DOM0; m <= MV_USER_DOMU; m++)
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

/* The first irq of @d with an event it may take now, or -1. */
static int pending_irq(struct dom *d)
{
	int i, di = dom_index(d);

	for (i = 0; i < MAX_IRQS; i++) {
		struct irqrec *q = &w.irqs[di][i];

		if (q->used && !q->disabled && !q->masked && w.ports[di][q->port].pending)
			return i;
	}
	return -1;
}

/* A port of @d connected to a port of the other domain that has no event pending. */
static int signal_port_of(struct dom *d)
{
	int p, di = dom_index(d);

	for (p = 1; p < MAX_PORTS; p++) {
		struct port *x = &w.ports[di][p];
		struct dom *r;
		struct port *y;

		if (x->state != P_INTERDOMAIN)
			continue;
		r = dom_by_id(x->rdom);
		y = r && r->alive ? port_of(r, (unsigned int)x->rport) : NULL;
		if (y && y->state == P_INTERDOMAIN && y->rdom == d->id && y->rport == p &&
		    !y->pending)
			return p;
	}
	return -1;
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
			  dt == &dd->th[TH_USER] ? MV_USER_DOMU : (b ? MV_WORK_DOM0 : MV_WORK_DOMU);
		int fault = dt->decision == DEC_ALLOC ? (b ? MV_ALLOCFAIL_DOM0 : MV_ALLOCFAIL_DOMU) :
			    (b ? MV_CONFLICT_DOM0 : MV_CONFLICT_DOMU);

		return move == run || move == fault;
	}
	if (move == MV_TIMEOUT)
		/* a wait times out only when nothing else can happen */
		return w.script && cur_op() && !wait_ready(cur_op()) && drivers_quiet();
	if (move == MV_WAIT_TIMEOUT)
		return timed_waiter(NULL) && drivers_quiet() && !enabled_nontimeout(MV_TOOLSTACK);
	return enabled_nontimeout(move);
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
	struct thread *t;

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
		return fe()->alive && !w.script && env_left();
	case MV_EVENT_BACK:
		/* a request, or a spurious event: the frontend's side signals */
		return runs(fe()) && env_left() && signal_port_of(fe()) >= 0;
	case MV_EVENT_FRONT:
		return runs(be()) && env_left() && signal_port_of(be()) >= 0;
	case MV_CALL:
		return xbgen_sim_call && w.user_fdev && runs(fe()) && w.calls_used < lim.calls &&
		       env_left() && fe()->th[TH_USER].act == ACT_NONE;
	case MV_USER_DOMU:
		t = &fe()->th[TH_USER];
		return runs(fe()) && t->act != ACT_NONE && !t->dead && thread_runnable(fe(), t);
	case MV_TOOLSTACK:
		return w.script && (!cur_op() || wait_ready(cur_op()));
	case MV_WATCH_DOM0:
	case MV_WATCH_DOMU:
		return idle(d) && d->qlen > 0;
	case MV_RUN_DOM0:
	case MV_RUN_DOMU:
		t = &d->th[TH_MAIN];
		return runs(d) && t->act != ACT_NONE && !t->dead && thread_runnable(d, t);
	case MV_WORK_DOM0:
	case MV_WORK_DOMU:
		t = &d->th[TH_WORK];
		if (!runs(d))
			return 0;
		if (t->act == ACT_NONE)
			return d->nworks > 0;
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

static int both_connected(void)
{
	return state_of(fe_dir) == XenbusStateConnected &&
	       state_of(be_dir) == XenbusStateConnected;
}

/* The domain and everything in it vanish: no remove, no leak. */
static void destroy_guest(void)
{
	struct dom *d = fe();
	int di = SIM_DOMU, i, j;
	char home[SIM_PATH];

	d->alive = 0;
	for (i = 0; i < SIM_NTH; i++) {
		if (d->th[i].act != ACT_NONE && d->th[i].decision)
			w.deciding--;
		d->th[i].act = ACT_NONE;
		d->th[i].block = BLK_NONE;
		d->th[i].decision = DEC_NONE;
	}
	d->qlen = 0;
	d->nworks = 0;
	d->txn = NULL;
	w.user_fdev = NULL;
	if (d->dev)
		arena_free(d->dev, sizeof(*d->dev));
	d->dev = NULL;
	d->loaded = 0;
	d->drv = NULL;
	/* its event channels close: dom0's end of each goes back to unbound */
	for (i = 1; i < MAX_PORTS; i++)
		if (w.ports[di][i].state != P_FREE)
			close_port(d, i);
	memset(w.irqs[di], 0, sizeof(w.irqs[di]));
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].dom == di)
			w.dents[i].used = 0;
	/* Xen keeps the pages dom0 still maps until it unmaps them */
	for (i = 0; i < MAX_GRANTS; i++) {
		struct grant *g = &w.grants[i];

		if (g->used && g->owner == di) {
			if (g->maps)
				g->used = 2;
			else
				g->used = 0;
		}
	}
	for (i = 0, j = 0; i < w.nallocs; i++) {
		struct alloc *a = &w.allocs[i];
		size_t off;
		int kept = 0;

		if (a->dom == di && a->kind == K_PAGES)
			for (off = 0; off < a->size; off += XEN_PAGE_SIZE)
				kept |= page_granted((unsigned char *)a->ptr + off, 0);
		if (a->dom != di || kept) {
			if (kept) {
				a->dom = -1;
				a->pages_freed = (unsigned short)((1U << (a->size / XEN_PAGE_SIZE)) - 1);
			}
			w.allocs[j++] = *a;
		} else {
			arena_free(a->ptr, a->size ? a->size : 1);
		}
	}
	w.nallocs = j;
	snprintf(home, sizeof(home), "/local/domain/%d", domu_id);
	trace("xl destroy: removing %s", home);
	xs_rm(home);
	w.flags |= SF_DESTROYED;
}

/* Sleeping threads: a cycle of waits, or a sleep nothing can end. */
static int nothing_can_move(void)
{
	int m;

	for (m = MV_TOOLSTACK; m <= MV_USER_DOMU; m++)
		if (sim_enabled(m))
			return 0;
	return 1;
}

static void check_blocked(void)
{
	struct dom *sd = NULL;
	struct thread *st = NULL;
	int i, k, n;

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
	if (st && nothing_can_move())
		violate(PROP_DEADLOCK, "%s sleeps for ever in %s: nothing can wake it",
			who(sd, st), block_name(st->block));
}

/* What a domain still holds when it should hold nothing: no device, or unloaded. */
static void check_resources(struct dom *d, int module, const char *when)
{
	int di = dom_index(d), i, n;
	uint32_t ref = 0;

	for (i = 0; i < MAX_IRQS; i++)
		if (w.irqs[di][i].used && w.irqs[di][i].module == module)
			violate(PROP_RESOURCES, "leak: irq %d of the %s (event channel %d) is still "
				"bound %s", IRQ_BASE + i, d->side, w.irqs[di][i].port, when);
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
		violate(PROP_RESOURCES, "leak: the %s still maps %d ring(s) of the other domain %s",
			d->side, n, when);
	for (i = 0; i < MAX_DENTRIES; i++)
		if (w.dents[i].used && w.dents[i].dom == di && w.dents[i].module == module)
			violate(PROP_RESOURCES, "leak: debugfs entry '%s' of the %s is still there %s",
				w.dents[i].name, d->side, when);
	if (!module && (d->nworks || d->th[TH_WORK].act != ACT_NONE))
		violate(PROP_RESOURCES, "leak: a work item of the %s is still queued or running %s",
			d->side, when);
}

static void check_leaks(void)
{
	int i;

	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int n;

		if (!d->alive || d->th[TH_MAIN].act != ACT_NONE)
			continue;
		if (!(d->dev && d->dev->bound)) {
			check_resources(d, 0, "with no device bound");
			n = live_allocs(i, 0);
			if (n)
				violate(PROP_SAFE,
					"leak: %d allocation(s) of the %s still live with no device bound",
					n, d->side);
		}
		if (!d->loaded) {
			check_resources(d, 1, "after its module unloaded");
			n = live_allocs(i, 1);
			if (n)
				violate(PROP_SAFE,
					"leak: %d allocation(s) of the %s module live after it unloaded",
					n, d->side);
		}
	}
}

int sim_apply(int move)
{
	struct dom *d = move_dom(move);
	struct thread *t;
	int was_conn = (move == MV_UNBIND_BACK || move == MV_UNBIND_FRONT) && both_connected();

	switch (move) {
	case MV_INSMOD_BACK:
	case MV_INSMOD_FRONT:
		if (d->ever_loaded)
			w.env_used++;
		start(d, TH_MAIN, ACT_INSMOD);
		break;
	case MV_RMMOD_BACK:
	case MV_RMMOD_FRONT:
		w.env_used++;
		start(d, TH_MAIN, ACT_RMMOD);
		break;
	case MV_UNBIND_BACK:
	case MV_UNBIND_FRONT:
		w.env_used++;
		if (was_conn)
			w.flags |= SF_REBIND;
		start(d, TH_MAIN, ACT_UNBIND);
		break;
	case MV_BIND_BACK:
	case MV_BIND_FRONT:
		w.env_used++;
		start(d, TH_MAIN, ACT_BIND);
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
		t = &d->th[TH_WORK];
		if (t->act == ACT_NONE) {
			t->work = d->works[0];
			work_dequeue(d, 0);
			t->work->data &= ~WORK_PENDING;
			start(d, TH_WORK, ACT_WORK);
		} else {
			resume(d, t);
		}
		break;
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
	if (!(w.flags & SF_WAS_CONN) && both_connected())
		w.flags |= SF_WAS_CONN;
	if ((w.flags & (SF_DEACT | SF_FE_CLOSED)) == SF_DEACT &&
	    state_of(fe_dir) == XenbusStateClosed)
		w.flags |= SF_FE_CLOSED;
	/* a destroyed guest cannot close its frontend */
	if ((w.flags & SF_DEACT) && move == MV_DESTROY)
		w.flags &= ~SF_DEACT_CLEAN;
	/* the toolstack's steps are the environment's too: a user may act between them */
	w.last_env = !(system_move(move) || decision_move(move)) || move == MV_TOOLSTACK;
	w.last_hostile = move >= MV_HOSTILE_RING;
	return w.prop;
}

/* ---------------------------------------------------------------- hashing */

/* A word that may point into the arena is named by its block, not its address. */
static uint64_t hash_word(uint64_t h, uint64_t v)
{
	int i;

	if (!in_arena((uintptr_t)v))
		return mix(h, v);
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

__attribute__((no_sanitize_address))
static uint64_t hash_heap(uint64_t h)
{
	int i;
	size_t off;

	for (i = 0; i < w.nallocs; i++) {
		const unsigned char *p = w.allocs[i].ptr;
		size_t n = w.allocs[i].size;

		h = mix(h, n);
		h = mix(h, (uint64_t)((w.allocs[i].dom + 1) << 8 | w.allocs[i].module << 4 |
				      w.allocs[i].kind) << 16 | w.allocs[i].pages_freed);
		if (w.allocs[i].kind == K_PAGES) {
			/* shared pages hold no pointers: their non-zero words, placed */
			for (off = 0; off + 8 <= n; off += 8) {
				uint64_t v;

				memcpy(&v, p + off, 8);
				if (v)
					h = mix(mix(h, off), v);
			}
			continue;
		}
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

/* The drivers' static data, redzones included: read it raw. */
__attribute__((no_sanitize_address))
static uint64_t hash_drivers(uint64_t h)
{
	const volatile unsigned char *p = (const volatile unsigned char *)__xbgen_drivers_start;
	size_t n = __xbgen_drivers_start ? (size_t)(__xbgen_drivers_end - __xbgen_drivers_start) : 0;
	size_t off;

	for (off = 0; off + 8 <= n; off += 8)
		h = hash_word(h, *(const volatile uint64_t *)(p + off));
	for (; off < n; off++)
		h = mix(h, p[off]);
	return h;
}

static uint64_t heap_hash(void)
{
	return hash_drivers(hash_heap(0x5eed));
}

static uint64_t hash_xen(uint64_t h)
{
	int i, j;

	for (i = 0; i < MAX_GRANTS; i++) {
		const struct grant *g = &w.grants[i];

		if (!g->used)
			continue;
		h = mix(h, (uint64_t)g->ref << 32 | (uint64_t)g->used << 24 |
			   (uint64_t)g->owner << 16 | (uint64_t)g->maps << 8 | g->module);
		h = mix(h, (uint64_t)g->to);
		h = hash_word(h, (uint64_t)(uintptr_t)g->page);
	}
	for (i = 0; i < MAX_MAPS; i++) {
		const struct mapping *m = &w.maps[i];

		if (!m->used)
			continue;
		h = mix(h, 0x3000 + (uint64_t)(m->dom << 16 | m->owner << 8 | m->n) +
			   ((uint64_t)m->module << 32));
		for (j = 0; j < m->n; j++)
			h = mix(h, m->refs[j]);
		h = hash_word(h, (uint64_t)(uintptr_t)m->vaddr);
	}
	for (i = 0; i < SIM_NDOM; i++) {
		for (j = 1; j < MAX_PORTS; j++) {
			const struct port *x = &w.ports[i][j];

			if (x->state == P_FREE)
				continue;
			h = mix(h, (uint64_t)(i << 24 | j << 16 | x->state << 8 | x->pending << 4 |
					      x->module) + ((uint64_t)(x->irq + 1) << 32));
			h = mix(h, (uint64_t)x->rdom << 32 | (uint32_t)x->rport);
		}
		for (j = 0; j < MAX_IRQS; j++) {
			const struct irqrec *q = &w.irqs[i][j];

			if (!q->used)
				continue;
			h = mix(h, (uint64_t)(i << 24 | j << 16 | q->disabled << 8 | q->masked << 4 |
					      q->module) + ((uint64_t)q->port << 32));
			h = mix(h, (uint64_t)(uintptr_t)q->handler);
			h = hash_word(h, (uint64_t)(uintptr_t)q->dev_id);
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++) {
		const struct dent *e = &w.dents[i];

		if (!e->used)
			continue;
		h = mix(h, (uint64_t)(i << 24 | (e->parent + 1) << 16 | e->dom << 8 | e->module << 4 |
				      e->dir));
		h = mix_str(h, e->name);
		h = hash_word(h, (uint64_t)(uintptr_t)e->d);
		h = hash_word(h, (uint64_t)(uintptr_t)e->data);
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
		for (j = 0; j < d->nworks; j++)
			h = hash_word(mix(h, 0x4000), (uint64_t)(uintptr_t)d->works[j]);
		h = hash_word(h, (uint64_t)(uintptr_t)d->txn);
		if (!with_activities)
			continue;
		for (j = 0; j < SIM_NTH; j++) {
			struct thread *t = &d->th[j];

			if (t->act == ACT_NONE)
				continue;
			h = mix(mix(h, t->hash), (uint64_t)(t->act | j << 4 | t->steps << 8 |
							   t->points << 16) |
						 (uint64_t)(t->block | t->decision << 4 | t->dead << 8 |
							    t->timeout << 9 | t->excused << 10) << 32);
			h = hash_word(h, (uint64_t)(uintptr_t)t->block_on);
			h = mix(h, t->block_val);
			h = hash_word(h, (uint64_t)(uintptr_t)t->work);
		}
	}
	h = mix(h, (uint64_t)w.script << 8 | (uint64_t)w.pc);
	h = mix(h, w.flags);
	h = mix(h, (uint64_t)(w.env_used | w.hostile_used << 8 | w.faults_used << 16 |
			      w.calls_used << 24));
	h = hash_word(h, (uint64_t)(uintptr_t)w.user_fdev);
	h = hash_xen(h);
	h = hash_drivers(h);
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
	for (m = MV_TOOLSTACK; m <= MV_USER_DOMU; m++)
		if (sim_enabled(m))
			s->system_moves++;
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
		 d->nworks || d->th[TH_WORK].act != ACT_NONE ? ", work pending" : "");
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

/* ------------------------------------------------------------------ setup */

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
 * A configuration in bytes: the world, every live block of the arena, the
 * drivers' static data, and the live part of each suspended thread's stack
 * (its registers are in the world).  Everything lives at fixed addresses,
 * so copying the bytes back restores the configuration exactly, suspended
 * threads included.
 */
struct snap_hdr {
	size_t wlen;
	size_t stk_off[SIM_NDOM][SIM_NTH];
	size_t stk_len[SIM_NDOM][SIM_NTH];
};

/*
 * Copy bytes whatever their shadow says (stack redzones, freed blocks):
 * neither instrumented nor turned into a call of the intercepted memcpy.
 */
__attribute__((no_sanitize_address, optimize("O2", "no-tree-loop-distribute-patterns")))
static void raw_copy(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	unsigned char *db;
	const unsigned char *sb;

	if (!(((uintptr_t)dst | (uintptr_t)src) & 7))
		for (; n >= 8; n -= 8)
			*d++ = *s++;
	db = (unsigned char *)d;
	sb = (const unsigned char *)s;
	while (n--)
		*db++ = *sb++;
}

static size_t stack_live(int di, int ti, size_t *off)
{
	struct thread *t = &w.dom[di].th[ti];
	char *stack = stacks[di][ti];
	uintptr_t sp;

	if (t->act == ACT_NONE) {
		*off = 0;
		return 0;
	}
#if defined(__x86_64__)
	sp = (uintptr_t)ctxs[di][ti].uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	sp = (uintptr_t)ctxs[di][ti].uc_mcontext.sp;
#else
	sp = (uintptr_t)stack;
#endif
	sp = (sp - 512) & ~(uintptr_t)63;
	if (sp < (uintptr_t)stack)
		sp = (uintptr_t)stack;
	*off = sp - (uintptr_t)stack;
	return STACK_SIZE - *off;
}

/*
 * A live block in a snapshot: runs of zero words are left out (ring pages
 * and call slots are mostly zero).  Each run: a header of two 32-bit
 * counts, zero words to skip then words to copy, and the copied words;
 * the block's tail that is not a whole word is copied as it is.
 */
__attribute__((no_sanitize_address))
static size_t pack_block(unsigned char *out, const unsigned char *src, size_t n)
{
	size_t words = n / 8, i = 0, len = 0;
	uint32_t hdr[2];

	while (i < words) {
		size_t z = i, c;
		uint64_t v;

		for (; z < words; z++) {
			memcpy(&v, src + z * 8, 8);
			if (v)
				break;
		}
		for (c = z; c < words; c++) {
			memcpy(&v, src + c * 8, 8);
			if (!v && c + 1 < words) {
				uint64_t v2;

				memcpy(&v2, src + (c + 1) * 8, 8);
				if (!v2)
					break;
			}
		}
		hdr[0] = (uint32_t)(z - i);
		hdr[1] = (uint32_t)(c - z);
		if (out) {
			memcpy(out + len, hdr, sizeof(hdr));
			memcpy(out + len + sizeof(hdr), src + z * 8, (c - z) * 8);
		}
		len += sizeof(hdr) + (c - z) * 8;
		i = c;
	}
	if (out)
		memcpy(out + len, src + words * 8, n - words * 8);
	return len + n - words * 8;
}

__attribute__((no_sanitize_address))
static size_t unpack_block(unsigned char *dst, const unsigned char *in, size_t n)
{
	size_t words = n / 8, i = 0, len = 0;
	uint32_t hdr[2];

	while (i < words) {
		memcpy(hdr, in + len, sizeof(hdr));
		len += sizeof(hdr);
		memset(dst + i * 8, 0, (size_t)hdr[0] * 8);
		i += hdr[0];
		memcpy(dst + i * 8, in + len, (size_t)hdr[1] * 8);
		len += (size_t)hdr[1] * 8;
		i += hdr[1];
	}
	memcpy(dst + words * 8, in + len, n - words * 8);
	return len + n - words * 8;
}

static size_t drivers_len(void)
{
	return __xbgen_drivers_start ? (size_t)(__xbgen_drivers_end - __xbgen_drivers_start) : 0;
}

void *sim_snapshot(size_t *len)
{
	struct snap_hdr h;
	unsigned char *buf, *p;
	int i, k;

	h.wlen = offsetof(__typeof__(w), allocs) + (size_t)w.nallocs * sizeof(w.allocs[0]);
	*len = sizeof(h) + h.wlen + drivers_len();
	for (i = 0; i < w.nxs; i++)
		*len += strlen(w.xs[i].path) + strlen(w.xs[i].val) + 2;
	for (i = 0; i < w.nallocs; i++)
		*len += pack_block(NULL, w.allocs[i].ptr, w.allocs[i].size);
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev)
			*len += sizeof(struct simdev);
		for (k = 0; k < SIM_NTH; k++) {
			h.stk_len[i][k] = stack_live(i, k, &h.stk_off[i][k]);
			if (h.stk_len[i][k])
				*len += h.stk_len[i][k] + sizeof(ucontext_t);
		}
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
	for (i = 0; i < w.nxs; i++) {
		size_t a = strlen(w.xs[i].path) + 1, b = strlen(w.xs[i].val) + 1;

		memcpy(p, w.xs[i].path, a);
		memcpy(p + a, w.xs[i].val, b);
		p += a + b;
	}
	/* live blocks are not poisoned: the plain (checked) memcpy will do */
	for (i = 0; i < w.nallocs; i++)
		p += pack_block(p, w.allocs[i].ptr, w.allocs[i].size);
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev) {
			memcpy(p, w.dom[i].dev, sizeof(struct simdev));
			p += sizeof(struct simdev);
		}
	raw_copy(p, __xbgen_drivers_start, drivers_len());
	p += drivers_len();
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++) {
			if (!h.stk_len[i][k])
				continue;
			memcpy(p, &ctxs[i][k], sizeof(ucontext_t));
			p += sizeof(ucontext_t);
			raw_copy(p, stacks[i][k] + h.stk_off[i][k], h.stk_len[i][k]);
			p += h.stk_len[i][k];
		}
	return buf;
}

void sim_restore(const void *snap)
{
	const unsigned char *p = snap;
	struct snap_hdr h;
	int i, k;

	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	/* what is live now is all the arena has unpoisoned: poison it */
	for (i = 0; i < w.nallocs; i++)
		POISON(w.allocs[i].ptr, w.allocs[i].size ? w.allocs[i].size : 1);
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev)
			POISON(w.dom[i].dev, sizeof(struct simdev));
	memcpy(&w, p, h.wlen);
	xs_epoch++;
	p += h.wlen;
	for (i = 0; i < w.nxs; i++) {
		size_t a = strlen((const char *)p) + 1, b;

		memcpy(w.xs[i].path, p, a);
		b = strlen((const char *)p + a) + 1;
		memcpy(w.xs[i].val, p + a, b);
		p += a + b;
	}
	if (w.top > arena_hwm)
		arena_hwm = w.top;
	for (i = 0; i < w.nallocs; i++) {
		UNPOISON(w.allocs[i].ptr, w.allocs[i].size ? w.allocs[i].size : 1);
		p += unpack_block(w.allocs[i].ptr, p, w.allocs[i].size);
	}
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev) {
			UNPOISON(w.dom[i].dev, sizeof(struct simdev));
			memcpy(w.dom[i].dev, p, sizeof(struct simdev));
			p += sizeof(struct simdev);
		}
	raw_copy(__xbgen_drivers_start, p, drivers_len());
	p += drivers_len();
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++)
			if (h.stk_len[i][k]) {
				memcpy(&ctxs[i][k], p, sizeof(ucontext_t));
				p += sizeof(ucontext_t);
				UNPOISON(stacks[i][k] + h.stk_off[i][k], h.stk_len[i][k]);
				raw_copy(stacks[i][k] + h.stk_off[i][k], p, h.stk_len[i][k]);
				p += h.stk_len[i][k];
			}
	cur = NULL;
	cur_t = NULL;
}
