/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xbgen verify: the simulated world's private header.
 *
 * The frontend and backend C files are compiled unchanged against the fake
 * kernel headers that `xbgen check` uses; the simulation implements what
 * those headers declare, each part in a file named after the kernel (or
 * Xen) file whose behaviour it models:
 *
 *   xenstore.c          xenstored: nodes, permissions, watches that fire
 *   xenbus_xs.c         drivers/xen/xenbus/xenbus_xs.c: reads, writes,
 *                       transactions, the xenwatch thread's queue
 *   xenbus_probe.c      drivers/xen/xenbus/xenbus_probe*.c, drivers/base/:
 *                       the buses, probe and remove, driver registration,
 *                       module init and exit
 *   xenbus_client.c     drivers/xen/xenbus/xenbus_client.c: switch_state,
 *                       dev_error/dev_fatal, rings, event-channel allocation
 *   grant-table.c       drivers/xen/grant-table.c: grants
 *   events.c            drivers/xen/events/events_base.c, kernel/irq/:
 *                       event channels and their irqs
 *   kernel/mm.c         mm/slab_common.c, mm/page_alloc.c: kmalloc, pages
 *   kernel/sync.c       kernel/locking/, kernel/sched/{wait,completion}.c
 *   kernel/workqueue.c  kernel/workqueue.c: work items
 *   kernel/debugfs.c    fs/debugfs/
 *   kernel/printk.c     kernel/printk/, drivers/base/core.c (dev_err),
 *                       kernel/panic.c (BUG, WARN)
 *   kernel/misc.c       lib/ (strings, bitops), fs/libfs.c, time, module
 *
 * and the simulation's own machinery, which no kernel file has:
 *
 *   world.c             the two domains, reset
 *   sched.c             kernel threads as coroutines; where others may run
 *   toolstack.c         activate.sh/deactivate.sh step by step, xl destroy,
 *                       the configuration file
 *   moves.c             what may happen next, and making it happen
 *   props.c             violations, the checks after each move, the
 *                       summary the explorer judges goals on
 *   snapshot.c          a configuration's hash; saving and restoring it
 *
 * sim.h is the explorer's (explore.c) view of all this.  sim.c includes
 * every part into one translation unit: the world below and the helpers
 * the parts share are static, so none of their names reaches the link with
 * the drivers, and the compiler sees every call whole (see sim.c).  A new
 * kernel API goes into the file of the kernel file that defines it; a new
 * file goes into sim.c's list.
 */
#ifndef XBGEN_SIM_INTERNAL_H
#define XBGEN_SIM_INTERNAL_H

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
#include <linux/freezer.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <linux/crc32.h>
#include <linux/err.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
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

/* The world outgrew a table of the simulation: a limit of the model, not a finding. */
#define sim_limit(fmt, ...)							\
	do {									\
		fprintf(stderr, "xbgen-sim: " fmt "\n", ##__VA_ARGS__);		\
		exit(70);							\
	} while (0)

/*
 * A ring tree's guest program (`xbgen verify` compiles it with the tree's
 * frontend header): one call of NAMEfront_call(); absent for a handshake
 * tree.  The frontend's calls of the user hooks reach xbgen_sim_user_up()
 * and xbgen_sim_user_down() first (the linker wraps them).
 */
int xbgen_sim_call(void *fdev) __attribute__((weak));
void xbgen_sim_user_up(void *fdev);
void xbgen_sim_user_down(void *fdev);
/* A ring tree's backend handler: the linker wraps NAMEback_handle() with these. */
void xbgen_sim_handler_enter(void);
void xbgen_sim_answered(unsigned long long id);
void xbgen_sim_bad_length(unsigned long got);
void xbgen_sim_request(unsigned long long id);
void xbgen_sim_padding_leak(const char *field);
void xbgen_sim_handler_leave(void);

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

#define MAX_NODES 64
#define MAX_ALLOCS 64
#define QMAX 6
#define STACK_SIZE (128 * 1024)
#define MAX_CALLS 4096
#define MAX_GRANTS 40
#define MAX_MAPS 12		/* rings, and persistent grants of buffers */
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
	ACT_CALL, ACT_SAVE,
};
/* TH_WORK2: a second worker, which starts an item while the first one sleeps (cmwq) */
enum { TH_MAIN, TH_WORK, TH_IRQ, TH_USER, TH_WORK2, SIM_NTH };
enum {
	BLK_NONE, BLK_MUTEX, BLK_WORK, BLK_FLUSH, BLK_WAITQ, BLK_COMPLETION, BLK_USER, BLK_HANDLER,
	BLK_WQFLUSH, BLK_PAUSED,
};
enum { DEC_NONE, DEC_ALLOC, DEC_COMMIT };
enum { K_MEM, K_PAGES, K_SIM, K_DEV };	/* K_DEV: a removed device kept by get_device() */
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
	int refs;			/* get_device() references */
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
	int in_handler;			/* inside the backend's user handler (it may sleep) */
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
	unsigned short refs;		/* alloc_page(): get_page/put_page count (else 0) */
};

struct grant {
	uint32_t ref;
	unsigned char used;		/* 1 granted, 2 ended but still mapped */
	unsigned char owner;		/* the granting domain (index) */
	unsigned char maps;		/* mappings by the grantee */
	unsigned char module;
	int to;				/* domid it is granted to */
	unsigned char *page;
	/*
	 * The incarnation of the owner whose grant table holds the entry (a
	 * save makes a new one); a guest's grant of an older one is stale:
	 * Xen's entry went with the old domain, ending it succeeds at once.
	 */
	unsigned char gen;
	unsigned char zombie;		/* the old domain's entry, kept while dom0 maps it */
	unsigned char ro;		/* the grantee may only read */
};

struct mapping {
	unsigned char used, dom, owner, n, module;
	unsigned char gen;		/* the owner's incarnation the grants are of */
	unsigned char ro;		/* gnttab_map_refs(): GNTMAP_readonly */
	uint32_t refs[RING_PAGES_MAX];
	void *vaddr;
	void *orig;			/* gnttab_map_refs(): the page it was mapped into */
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

/*
 * The world: everything a configuration is, but for the arena's blocks, the
 * drivers' static data and the threads' stacks (snapshot.c saves those).
 * The header defines it: sim.c includes the header once, with every part.
 */
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
	/* saves: how many; 1 save, 2 checkpoint while one runs; the guest paused; its tasks frozen */
	int saves_used, saving, paused, frozen;
	unsigned char gen;		/* the guest's incarnation: one more per restore */
	/* request ids whose answers the guest program got since the frontend was bound */
	int nanswered;
	uint64_t answered[4];
	int last_env;			/* the last move was the environment's */
	int last_hostile;
	int prop;
	/* last: snapshots keep the used part of these two */
	struct alloc allocs[MAX_ALLOCS];
	struct xs_node xs[MAX_NODES];
} w;

static struct sim_limits lim;
static ucontext_t sched_ctx;
/* the threads' registers: kept with their stacks, for active threads only */
static ucontext_t ctxs[SIM_NDOM][SIM_NTH];
static struct dom *cur;			/* the domain whose code runs */
static struct thread *cur_t;		/* ... and its thread */
static char *stacks[SIM_NDOM][SIM_NTH];

/* the configuration: the device's paths (toolstack.c reads them) */
static char fe_dir[SIM_PATH], be_dir[SIM_PATH];
static char fe_home[SIM_PATH], be_home[SIM_PATH];
static char fe_bus[SIM_PATH + 16], be_bus[SIM_PATH + 16];
static int domu_id = 1, bedom_id;
static const char *devtype = "?";

/* Bumped whenever xenstore may have changed: see state_of(). */
static unsigned long xs_epoch = 1;

/*
 * Every object the simulation hands out (driver allocations, pages,
 * devices, debugfs entries) lives in one arena (kernel/mm.c), so a
 * configuration can be saved and restored by copying the live blocks.
 * Blocks are never reused and are poisoned when freed, with poisoned gaps
 * between them: AddressSanitizer reports a use after free or an overflow at
 * once.
 */
#define ARENA_SIZE (8 << 20)
#define GAP 32

static size_t arena_hwm;

static unsigned char arena[ARENA_SIZE] __attribute__((aligned(4096)));

/* What the parts call of each other, by the file that defines it. */

/* world.c */
static struct dom *fe(void);
static struct dom *be(void);
static int dom_index(const struct dom *d);
static struct dom *dom_by_id(int domid);
static const char *who(const struct dom *d, const struct thread *t);
static const char *me(void);

/* props.c */
static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violate(int prop, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void on_death(void);
static void on_abort(int sig);
static void on_alarm(int sig);
static int both_connected(void);
static void check_blocked(void);
static void check_leaks(void);
static void check_released(void);
static void check_restored(void);

/* sched.c */
static void yield(void);
static void yield_dead(void);
static void may_sleep(const char *what);
static void xs_point(int shared);
static void hyp_point(void);
static void step_result(long v);
static void api_call(void);
static int fault_here(const char *what);
static void block_on(int kind, const void *on, unsigned int val, const char *what);
static int thread_id(void);
static void note_heaps(struct dom *d, struct thread *except);
static void resume(struct dom *d, struct thread *t);
static void start(struct dom *d, int ti, int kind);
static int thread_runnable(struct dom *d, struct thread *t);
static const char *block_name(int block);
static struct thread *waits_for(struct dom *d, struct thread *t, struct dom **od);

/* snapshot.c */
static uint64_t mix(uint64_t h, uint64_t v);
static uint64_t mix_str(uint64_t h, const char *s);
static uint64_t hash_word(uint64_t h, uint64_t v);
static uint64_t heap_hash(void);
static uint64_t world_hash(int with_activities);

/* xenstore.c */
static int under(const char *path, const char *dir);
static int xs_exists(const char *path);
static const char *xs_read(const char *path);
static void xs_write(const char *path, const char *val);
static void xs_rm(const char *path);
static int xs_read_int(const char *dir, const char *node, int *out);
static int dir_exists(const char *dir);
static int state_of(const char *dir);
static int may_write(struct dom *d, const char *path);
static void xenstore_cache_save(int v[4]);
static void xenstore_cache_load(const int v[4]);

/* xenbus_xs.c */
static void enqueue(struct dom *d, int ev);
static void drop_events(struct dom *d, int ev);
static int write_fails(struct dom *d);
static void txn_close(struct dom *d);

/* xenbus_probe.c */
static struct dom *dom_of(struct xenbus_device *xb);
static int act_probe(struct dom *d);
static void act_remove(struct dom *d);
static void act_bus(struct dom *d);
static void act_otherend(struct dom *d);
static void act_insmod(struct dom *d);
static void act_rmmod(struct dom *d);
static void act_save(struct dom *d);

/* xenbus_client.c */
static void core_switch(struct simdev *sd, enum xenbus_state state, int depth);

/* grant-table.c */
static int page_granted(const unsigned char *page, int only_active);
static struct grant *find_grant(int owner, uint32_t ref);
static struct grant *find_mapped(int owner, uint32_t ref, unsigned char gen);
static unsigned char grant_gen(int owner);
static int count_grants(int owner, int module, uint32_t *first);
static int grant_page(struct dom *d, int to, unsigned char *page, uint32_t *ref);
static void grant_drop(struct grant *g);
static void end_grant(uint32_t ref);
static int count_maps(int dom, int module);

/* events.c */
static struct port *port_of(struct dom *d, unsigned int port);
static int alloc_port(struct dom *d, int state, int rdom, int rport);
static void close_port(struct dom *d, int p);
static void signal_port(struct dom *d, int p);
static int pending_irq(struct dom *d);
static int signal_port_of(struct dom *d);

/* kernel/mm.c */
static int in_arena(uintptr_t v);
static void *arena_alloc(size_t size);
static void arena_free(void *p, size_t size);
static struct alloc *find_alloc(const void *p);
static struct alloc *alloc_holding(const void *p, size_t n);
static void *sim_block(size_t size);
static void *track(void *p, size_t size, int kind);
static void drop_block(struct alloc *a);
static int live_allocs(int dom, int module);
static void page_release(struct alloc *a);
static void pages_put(const void *p, size_t size, const char *fn);

/* kernel/workqueue.c */
static int work_index(struct dom *d, const struct work_struct *work);
static int work_busy(struct dom *d, const void *work);
static struct thread *work_runner(struct dom *d, const void *work);
static int work_next(struct dom *d, int ti);
static int workers_busy(struct dom *d);
static void work_dequeue(struct dom *d, int i);
static int wq_busy(struct dom *d, const void *wq);
static struct thread *wq_running(struct dom *d, const void *wq);

/* toolstack.c */
static int toolstack_ready(void);
static int toolstack_waiting(void);
static int toolstack_grace(void);
static void toolstack_run(int script);
static void toolstack_step(int forced);
static int activate_refused(void);
static void destroy_guest(void);
static void save_guest(void);

/* moves.c */
static int runs(struct dom *d);
static int drivers_quiet(void);
static int system_moves(void);

#endif
