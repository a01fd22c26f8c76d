// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: breadth-first exploration of every configuration of the
 * simulated world up to the bounds, with state hashing.
 *
 * A configuration is stored as the move that reached it from its parent;
 * to expand it the world is reset and the schedule replayed (the drivers'
 * code is deterministic given the world, so a replay rebuilds it exactly,
 * suspended callbacks included).  Breadth-first order makes the first path
 * found to any configuration a shortest one.
 *
 * Output, one record per line, for `xbgen verify` to analyse:
 *   M <move> <name>                     the move table
 *   S <id> <parent> <move> <depth> <fe> <be> <fe-dev> <be-dev>
 *     <fe-bound> <be-bound> <system-moves> <flags>
 *   E <from> <to> <move>                every transition
 *   V <property> <from> <move> <message> a safety violation on a transition
 *   D <states> <transitions> <seconds> [limit]
 *
 * `replay M1 M2 ...` instead prints what each move does, for counterexamples.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

struct node {
	int parent;
	unsigned char move;
	unsigned short depth;
};

static struct node *nodes;
static int nnodes, cap;
static uint64_t *table;
static int *table_id;
static size_t table_size;

static int lookup(uint64_t h, int add_id)
{
	size_t i = (size_t)(h ^ (h >> 29)) & (table_size - 1);

	while (table_id[i] >= 0) {
		if (table[i] == h)
			return table_id[i];
		i = (i + 1) & (table_size - 1);
	}
	if (add_id >= 0) {
		table[i] = h;
		table_id[i] = add_id;
	}
	return -1;
}

static int schedule_of(int id, int *out)
{
	int n = nodes[id].depth, i = n;

	while (id > 0) {
		out[--i] = nodes[id].move;
		id = nodes[id].parent;
	}
	return n;
}

/* Every transition made of a system move, kept for system_cycles(). */
static int *sys_from, *sys_to;
static long nsys, capsys;

static int keep_system_edge(int from, int to, int move)
{
	if (move < MV_TOOLSTACK || move > MV_USER_DOMU)
		return 0;
	if (nsys == capsys) {
		capsys = capsys ? capsys * 2 : 1 << 16;
		sys_from = realloc(sys_from, (size_t)capsys * sizeof(*sys_from));
		sys_to = realloc(sys_to, (size_t)capsys * sizeof(*sys_to));
		if (!sys_from || !sys_to)
			return -1;
	}
	sys_from[nsys] = from;
	sys_to[nsys] = to;
	nsys++;
	return 0;
}

/* A record of numbers, written without printf: there are millions of them. */
static void put_record(char kind, const long *v, int n)
{
	char buf[32 * 16], *p = buf;
	int i;

	*p++ = kind;
	for (i = 0; i < n; i++) {
		char tmp[24];
		unsigned long u = v[i] < 0 ? -(unsigned long)v[i] : (unsigned long)v[i];
		int k = 0;

		*p++ = ' ';
		if (v[i] < 0)
			*p++ = '-';
		do {
			tmp[k++] = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		while (k)
			*p++ = tmp[--k];
	}
	*p++ = '\n';
	fwrite(buf, 1, (size_t)(p - buf), stdout);
}

static void print_state(int id, int parent, int move, int depth, const struct sim_summary *s)
{
	long v[12] = { id, parent, move, depth, s->fe_state, s->be_state, s->fe_dev, s->be_dev,
		       s->fe_bound, s->be_bound, s->system_moves, (long)s->flags };

	put_record('S', v, 12);
}

static void print_summary(const struct sim_summary *s)
{
	printf(" %d %d %d %d %d %d %d %u\n", s->fe_state, s->be_state, s->fe_dev, s->be_dev,
	       s->fe_bound, s->be_bound, s->system_moves, s->flags);
}

struct pending {
	int id;
	void *snap;
};

/*
 * The snapshots of one depth, packed one after the other into big chunks
 * (no malloc() and free() of each: under AddressSanitizer those fill and
 * quarantine every block).  A chunk goes back to the spares as soon as
 * every configuration in it has been expanded, for the next depth to fill.
 */
#define CHUNK (16UL << 20)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	int last;			/* the last configuration in it (its index in the depth) */
	unsigned char data[] __attribute__((aligned(16)));
};

struct pool {
	struct chunk *head, *tail;	/* oldest first */
};

static struct chunk *spare;

/* The configuration, saved into the pool as the @index-th of its depth. */
static void *pool_snapshot(struct pool *p, int index)
{
	size_t max = sim_snapshot_max(), len;
	struct chunk *c = p->tail;
	void *snap;

	if (!c || c->cap - c->used < max) {
		if (spare && spare->cap >= max) {
			c = spare;
			spare = c->next;
		} else {
			size_t cap = max > CHUNK ? max : CHUNK;

			c = malloc(sizeof(*c) + cap);
			if (!c)
				return NULL;
			c->cap = cap;
		}
		c->used = 0;
		c->next = NULL;
		if (p->tail)
			p->tail->next = c;
		else
			p->head = c;
		p->tail = c;
	}
	snap = c->data + c->used;
	len = sim_snapshot_into(snap);
	c->used += (len + 15) & ~(size_t)15;
	c->last = index;
	return snap;
}

/* The configurations up to the @index-th are expanded: their chunks are spare. */
static void pool_release(struct pool *p, int index)
{
	while (p->head && p->head->last <= index) {
		struct chunk *c = p->head;

		p->head = c->next;
		if (!p->head)
			p->tail = NULL;
		c->next = spare;
		spare = c;
	}
}

static int push(struct pending **v, int *n, int *capacity, int id, void *snap)
{
	if (*n == *capacity) {
		*capacity = *capacity ? *capacity * 2 : 1024;
		*v = realloc(*v, (size_t)*capacity * sizeof(**v));
		if (!*v)
			return -1;
	}
	(*v)[*n].id = id;
	(*v)[*n].snap = snap;
	(*n)++;
	return 0;
}

/*
 * The configurations on or between cycles of system moves (the kernel's and
 * the toolstack's own: MV_TOOLSTACK .. MV_USER_DOMU), for `xbgen verify`'s
 * search of a cycle the drivers could spin in for ever (model.py's
 * _system_cycle(), which would otherwise peel the whole graph in Python):
 * as it does, every configuration with no system move into it is peeled
 * off, again and again, then every one with none out of it.  Printed as
 *   C <first system move> <last system move> <configuration>...
 */
static int system_cycles(int count)
{
	int *deg = calloc((size_t)count, sizeof(*deg));
	int *start = calloc((size_t)count + 1, sizeof(*start));
	int *adj = malloc((size_t)(nsys ? nsys : 1) * sizeof(*adj));
	int *queue = malloc((size_t)count * sizeof(*queue));
	unsigned char *alive = calloc((size_t)count, 1);
	long e;
	int pass, n, q;

	if (!deg || !start || !adj || !queue || !alive)
		return -1;
	for (e = 0; e < nsys; e++)
		alive[sys_from[e]] = alive[sys_to[e]] = 1;
	for (pass = 0; pass < 2; pass++) {
		/* pass 0: in-degrees, peeling forwards; pass 1: out-degrees, backwards */
		const int *into = pass ? sys_from : sys_to, *out = pass ? sys_to : sys_from;

		memset(start, 0, ((size_t)count + 1) * sizeof(*start));
		memset(deg, 0, (size_t)count * sizeof(*deg));
		for (e = 0; e < nsys; e++) {
			start[out[e] + 1]++;
			if (alive[into[e]] && alive[out[e]])
				deg[into[e]]++;
		}
		for (n = 0; n < count; n++)
			start[n + 1] += start[n];
		for (e = 0; e < nsys; e++)
			adj[start[out[e]]++] = into[e];
		for (n = count; n > 0; n--)
			start[n] = start[n - 1];
		start[0] = 0;
		q = 0;
		for (n = 0; n < count; n++)
			if (alive[n] && !deg[n])
				queue[q++] = n;
		while (q) {
			int node = queue[--q], k;

			alive[node] = 0;
			for (k = start[node]; k < start[node + 1]; k++) {
				int other = adj[k];

				if (alive[other] && !--deg[other])
					queue[q++] = other;
			}
		}
	}
	printf("C %d %d", MV_TOOLSTACK, MV_USER_DOMU);
	for (n = 0; n < count; n++)
		if (alive[n])
			printf(" %d", n);
	printf("\n");
	free(deg);
	free(start);
	free(adj);
	free(queue);
	free(alive);
	return 0;
}

/*
 * Breadth first, one depth at a time.  The configurations of the current
 * depth are kept as snapshots; each move restores its parent's snapshot,
 * so no schedule is ever replayed from the start.
 */
static int explore(const struct sim_limits *lim, int max_states)
{
	static int sched[65536];
	struct sim_summary sum;
	struct timespec t0, t1;
	struct pending *layer = NULL, *next = NULL;
	struct pool layer_pool = { NULL, NULL }, next_pool = { NULL, NULL };
	int nlayer = 0, nnext = 0, caplayer = 0, capnext = 0;
	long edges = 0;
	int m, limited = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cap = max_states + 1;
	nodes = calloc((size_t)cap, sizeof(*nodes));
	for (table_size = 1024; table_size < (size_t)cap * 2; table_size <<= 1)
		;
	table = calloc(table_size, sizeof(*table));
	table_id = malloc(table_size * sizeof(*table_id));
	if (!nodes || !table || !table_id)
		return 70;
	memset(table_id, 0xff, table_size * sizeof(*table_id));

	for (m = 0; m < SIM_NMOVES; m++)
		printf("M %d %s\n", m, sim_move_name(m));

	sim_reset(lim);
	sim_summarise(&sum);
	nodes[0].parent = -1;
	nnodes = 1;
	lookup(sum.hash, 0);
	print_state(0, -1, -1, 0, &sum);
	if (push(&layer, &nlayer, &caplayer, 0, pool_snapshot(&layer_pool, 0)))
		return 70;

	while (nlayer) {
		int i;

		for (i = 0; i < nlayer; i++) {
			int id = layer[i].id;
			int n = schedule_of(id, sched);
			int enabled[SIM_NMOVES], ne, k;

			sim_watchdog(20);
			sim_restore(layer[i].snap);
			ne = sim_enabled_moves(enabled);
			for (k = 0; k < ne; k++) {
				int prop, to;
				void *snap;

				m = enabled[k];
				if (k > 0)
					sim_restore(layer[i].snap);
				sched[n] = m;
				sim_set_schedule(sched, n + 1);
				prop = sim_apply(m);
				edges++;
				if (prop) {
					printf("V %d %d %d %s\n", prop, id, m, sim_violation());
					continue;
				}
				sim_summarise(&sum);
				to = lookup(sum.hash, -1);
				if (to < 0) {
					if (nnodes >= max_states) {
						limited = 1;
						continue;
					}
					to = nnodes++;
					lookup(sum.hash, to);
					nodes[to].parent = id;
					nodes[to].move = (unsigned char)m;
					nodes[to].depth = (unsigned short)(n + 1);
					print_state(to, id, m, n + 1, &sum);
					snap = pool_snapshot(&next_pool, nnext);
					if (!snap || push(&next, &nnext, &capnext, to, snap))
						return 70;
				}
				{
					long e[3] = { id, to, m };

					put_record('E', e, 3);
				}
				if (keep_system_edge(id, to, m))
					return 70;
			}
			pool_release(&layer_pool, i);
		}
		layer_pool = next_pool;
		next_pool.head = next_pool.tail = NULL;
		{
			struct pending *t = layer;
			int c = caplayer;

			layer = next;
			nlayer = nnext;
			caplayer = capnext;
			next = t;
			capnext = c;
			nnext = 0;
		}
	}
	sim_watchdog(0);
	if (system_cycles(nnodes))
		return 70;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("D %d %ld %.3f%s\n", nnodes, edges,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       limited ? " limit" : "");
	return 0;
}

static int replay_verbose(const struct sim_limits *lim, char **argv, int argc)
{
	static int sched[65536];
	char desc[256];
	int i, prop = 0;

	sim_reset(lim);
	sim_trace(1);
	for (i = 0; i < argc; i++)
		sched[i] = atoi(argv[i]);
	sim_set_schedule(sched, argc);
	for (i = 0; i < argc; i++) {
		struct sim_summary sum;

		if (!sim_enabled(sched[i])) {
			printf("NOT-ENABLED %d %s\n", i + 1, sim_move_name(sched[i]));
			return 1;
		}
		printf("MOVE %d %s\n", i + 1, sim_move_name(sched[i]));
		fflush(stdout);
		prop = sim_apply(sched[i]);
		sim_describe(desc, sizeof(desc));
		printf("AFTER %d %s\n", i + 1, desc);
		if (prop) {
			printf("VIOLATION %d %s\n", prop, sim_violation());
			return 0;
		}
		sim_summarise(&sum);
		printf("STATE %d %016llx", i + 1, (unsigned long long)sum.hash);
		print_summary(&sum);
	}
	printf("END\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sim_limits lim = { .env = 4, .hostile = 1, .faults = 1, .steps = 64, .calls = 2,
				  .saves = 0 };
	int max_states = 4000000, i;

	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	sim_init();
	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFIG explore|replay [options|moves]\n", argv[0]);
		return 2;
	}
	if (sim_load_config(argv[1])) {
		fprintf(stderr, "xbgen-sim: cannot load %s\n", argv[1]);
		return 2;
	}
	for (i = 3; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		int v = atoi(argv[i + 1]);

		if (!strcmp(argv[i], "--env"))
			lim.env = v;
		else if (!strcmp(argv[i], "--hostile"))
			lim.hostile = v;
		else if (!strcmp(argv[i], "--faults"))
			lim.faults = v;
		else if (!strcmp(argv[i], "--steps"))
			lim.steps = v;
		else if (!strcmp(argv[i], "--calls"))
			lim.calls = v;
		else if (!strcmp(argv[i], "--saves"))
			lim.saves = v;
		else if (!strcmp(argv[i], "--max-states"))
			max_states = v;
		else
			break;
	}
	if (!strcmp(argv[2], "explore"))
		return explore(&lim, max_states);
	if (!strcmp(argv[2], "replay")) {
		int rc;

		setvbuf(stdout, NULL, _IOLBF, 0);
		rc = replay_verbose(&lim, argv + i, argc - i);
		fflush(stdout);
		return rc;
	}
	fprintf(stderr, "xbgen-sim: unknown mode %s\n", argv[2]);
	return 2;
}
