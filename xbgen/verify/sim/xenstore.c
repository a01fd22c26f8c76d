// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: xenstored (Xen's tools/xenstored/): the nodes, who may
 * write where, and the watches a change fires.
 */
#include "sim_internal.h"

static void fire(const char *path);

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

/* strcmp()'s order, which xs_write() keeps the nodes in. */
__attribute__((no_sanitize_address))
static int before(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a < (unsigned char)*b;
}

/* The first node that does not sort before @path: a binary search. */
__attribute__((no_sanitize_address))
static int xs_lower(const char *path)
{
	int lo = 0, hi = w.nxs;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (before(w.xs[mid].path, path))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

__attribute__((no_sanitize_address))
static int xs_find(const char *path)
{
	int i = xs_lower(path);

	return i < w.nxs && same(w.xs[i].path, path) ? i : -1;
}

/* Whether @prefix starts @s. */
__attribute__((no_sanitize_address))
static int starts(const char *s, const char *prefix)
{
	while (*prefix && *s == *prefix) {
		s++;
		prefix++;
	}
	return !*prefix;
}

/* A node at or below @path: they all sort among the nodes @path starts. */
__attribute__((no_sanitize_address))
static int xs_exists(const char *path)
{
	int i;

	for (i = xs_lower(path); i < w.nxs && starts(w.xs[i].path, path); i++)
		if (under(w.xs[i].path, path))
			return 1;
	return 0;
}

static const char *xs_read(const char *path)
{
	int i = xs_find(path);

	return i < 0 ? NULL : w.xs[i].val;
}

static void xs_write(const char *path, const char *val)
{
	int i = xs_find(path);

	if (i < 0) {
		if (w.nxs == MAX_NODES)
			sim_limit("xenstore full");
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
	size_t a = strlen(dir), b = strlen(node);
	const char *v;
	char *end;
	long x;

	if (a + b + 2 <= sizeof(path)) {	/* as snprintf() would, without it */
		memcpy(path, dir, a);
		path[a] = '/';
		memcpy(path + a + 1, node, b + 1);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, node);
	}
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

static struct epoch_cache states[2], exists[2];	/* frontend, backend */

/* fn(dir), for a device directory from @cache while xenstore has not changed. */
static inline int cached(struct epoch_cache cache[2], int (*fn)(const char *), const char *dir)
{
	struct epoch_cache *c = dir == fe_dir ? &cache[0] : dir == be_dir ? &cache[1] : NULL;

	if (!c)
		return fn(dir);
	if (c->epoch != xs_epoch) {
		c->value = fn(dir);
		c->epoch = xs_epoch;
	}
	return c->value;
}

/* xs_exists() of a directory, remembered likewise. */
static inline int dir_exists(const char *dir)
{
	return cached(exists, xs_exists, dir);
}

static inline int state_of(const char *dir)
{
	return cached(states, state_of_uncached, dir);
}

/*
 * What the caches know of the device directories, saved with a
 * configuration (xenstore_cache_save()) and given back when it is restored
 * (xenstore_cache_load(), after xs_epoch moved on): restoring brings back
 * the xenstore these values were read from.
 */
static void xenstore_cache_save(int v[4])
{
	v[0] = state_of(fe_dir);
	v[1] = state_of(be_dir);
	v[2] = dir_exists(fe_dir);
	v[3] = dir_exists(be_dir);
}

static void xenstore_cache_load(const int v[4])
{
	states[0] = (struct epoch_cache){ xs_epoch, v[0] };
	states[1] = (struct epoch_cache){ xs_epoch, v[1] };
	exists[0] = (struct epoch_cache){ xs_epoch, v[2] };
	exists[1] = (struct epoch_cache){ xs_epoch, v[3] };
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

static int may_write(struct dom *d, const char *path)
{
	char home[SIM_PATH];

	if (!d || d->id == 0)
		return 1;
	snprintf(home, sizeof(home), "/local/domain/%d", d->id);
	return under(path, home);
}
