/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xbgen verify: the simulated Xen world the emitted drivers run in.
 *
 * sim.c implements the kernel API the drivers call (the same fake headers
 * `xbgen check` uses declare it) on top of a tiny xenstore, two domains and
 * a toolstack, in parts named after the kernel files they model
 * (sim_internal.h maps them); explore.c walks every schedule of that world.
 */
#ifndef XBGEN_SIM_H
#define XBGEN_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_PATH 128
#define SIM_VAL 128

/* Actors: dom0 runs the backend, domU the frontend, plus the toolstack. */
enum { SIM_DOM0 = 0, SIM_DOMU = 1, SIM_NDOM = 2 };

/* Properties, numbered as the issue and the README number them. */
enum sim_prop {
	PROP_NONE = 0,
	PROP_CONNECT = 1,	/* activation brings both ends to Connected */
	PROP_CLOSE = 2,		/* deactivate closes both, unregisters backend */
	PROP_REBIND = 3,	/* unbind+bind of either side reconnects */
	PROP_SAFE = 4,		/* no BUG/WARN/fatal(legal)/leak/sanitizer */
	PROP_RETURNS = 5,	/* every callback returns */
	PROP_DEADLOCK = 6,	/* no stuck configuration short of the goal */
	PROP_LOG = 7,		/* the log lines tell the truth */
	PROP_RESOURCES = 8,	/* grants, mappings, event channels, irqs, ... */
	PROP_CALLS = 9,		/* a call on a connected ring is answered */
	PROP_PROMPT = 10,	/* no timeout fires on a legal schedule */
	PROP_RELEASED = 11,	/* a Closed side, once quiet, holds nothing of its connection */
	PROP_XENWATCH = 12,	/* dom0's xenwatch never waits for a user handler */
};

/*
 * Moves: what the explorer may do next in a configuration.  The system's
 * own moves (MV_TOOLSTACK .. MV_USER_DOMU) are contiguous: the kernel and
 * the toolstack will make them; the others may happen.
 */
enum sim_move {
	MV_INSMOD_BACK, MV_INSMOD_FRONT, MV_RMMOD_BACK, MV_RMMOD_FRONT,
	MV_UNBIND_BACK, MV_UNBIND_FRONT, MV_BIND_BACK, MV_BIND_FRONT,
	MV_ACTIVATE, MV_DEACTIVATE, MV_DESTROY,
	MV_EVENT_BACK,		/* the guest signals its event channel */
	MV_EVENT_FRONT,		/* dom0 signals its event channel */
	MV_CALL,		/* a program in the guest calls NAMEfront_call() */
	MV_SAVE,		/* xl save + xl restore -p + re-plug + unpause (xl migrate) */
	MV_CHECKPOINT,		/* xl save -c: the guest suspends, the suspend is cancelled */
	MV_TOOLSTACK, MV_TIMEOUT, MV_WAIT_TIMEOUT,
	MV_GRACE,		/* deactivate.sh's grace period for the other end ends */
	MV_WATCH_DOM0, MV_WATCH_DOMU, MV_RUN_DOM0, MV_RUN_DOMU,
	MV_WORK_DOM0, MV_WORK_DOMU, MV_IRQ_DOM0, MV_IRQ_DOMU,
	MV_WORK2_DOM0, MV_WORK2_DOMU,	/* the second worker (it starts while the first sleeps) */
	MV_USER_DOMU,		/* that program runs */
	MV_XSFAIL_DOM0, MV_XSFAIL_DOMU, MV_NOMEM_DOM0, MV_NOMEM_DOMU,
	MV_ALLOCFAIL_DOM0, MV_ALLOCFAIL_DOMU,	/* decide: this allocation fails */
	MV_CONFLICT_DOM0, MV_CONFLICT_DOMU,	/* decide: this commit gets EAGAIN */
	MV_HOSTILE_RING,	/* the guest corrupts the shared ring */
	MV_HOSTILE0,		/* + value index: the guest writes a state */
};

#define SIM_HOSTILE_VALUES 10
#define SIM_NMOVES (MV_HOSTILE0 + SIM_HOSTILE_VALUES)

struct sim_limits {
	int env;	/* unbind/bind/rmmod/insmod/deactivate/destroy/activate */
	int hostile;	/* state writes by a hostile guest */
	int faults;	/* failed xenstore writes / allocations / conflicts */
	int steps;	/* xenstore accesses inside one callback */
	int calls;	/* calls of the frontend's API by a guest program */
	int saves;	/* xl save + restore (or migrate), or xl save -c, of the guest */
};

/* What the explorer needs to know about a configuration. */
struct sim_summary {
	uint64_t hash;
	int fe_state, be_state;		/* xenstore values, -1 gone, -2 garbage */
	int fe_dev, be_dev;		/* dev->state, -1 no device */
	int fe_bound, be_bound;
	int system_moves;		/* deliveries, runs, toolstack steps */
	unsigned int flags;
};

/* sim_summary.flags */
#define SF_ACTIVATED	0x0001	/* activate.sh finished */
#define SF_DEACT	0x0002	/* deactivate.sh started */
#define SF_DEACT_DONE	0x0004	/* deactivate.sh finished */
#define SF_FORCED	0x0008	/* ... after its timeout */
#define SF_DESTROYED	0x0010	/* xl destroy */
#define SF_TAINTED	0x0020	/* a hostile write or a planted fault happened */
#define SF_REBIND	0x0040	/* unbind/rmmod then bind/insmod while connected */
#define SF_LOADED_F	0x0080
#define SF_LOADED_B	0x0100
#define SF_FE_CLOSED	0x0200	/* frontend state was Closed since deactivate */
#define SF_DEACT_CLEAN	0x0400	/* both drivers bound through the deactivate */
#define SF_FE_DIR	0x0800
#define SF_BE_DIR	0x1000
#define SF_WAS_CONN	0x2000	/* both ends have been Connected */
#define SF_FAULT	0x4000	/* a planted fault (not hostile) happened */
#define SF_LATE		0x8000	/* a timer fired on a legal schedule with both drivers bound */
#define SF_SAVED	0x10000	/* the guest was saved and restored (or migrated) */

/* world.c */
void sim_init(void);
void sim_watchdog(int seconds);
void sim_reset(const struct sim_limits *lim);
/* moves.c */
int sim_enabled(int move);
int sim_enabled_moves(int *out);	/* every enabled move, in order: how many */
int sim_apply(int move);	/* 0 ok, else a safety property violated */
const char *sim_move_name(int move);
/* props.c */
void sim_summarise(struct sim_summary *s);
const char *sim_violation(void);	/* message of the last violation */
void sim_trace(int on);		/* print what happens, for replays */
void sim_describe(char *buf, int len);
void sim_set_schedule(const int *moves, int n);	/* for crash reports */
/* toolstack.c */
int sim_load_config(const char *path);
/* snapshot.c */
void *sim_snapshot(size_t *len);		/* malloc()ed */
size_t sim_snapshot_max(void);		/* an upper bound of the next one's length */
size_t sim_snapshot_into(void *buf);	/* into word-aligned @buf: its length */
void sim_restore(const void *snap);

#endif
