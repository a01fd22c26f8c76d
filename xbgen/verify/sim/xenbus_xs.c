// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: drivers/xen/xenbus/xenbus_xs.c: reads, writes and
 * transactions, and the events queued to each domain's xenwatch thread.
 *
 *  - a watch event is queued to the domain's xenwatch thread, which handles
 *    one event at a time and reads the peer's *current* state, so states in
 *    between are missed;
 *  - xenstore transactions buffer their writes until a commit, which may
 *    fail with -EAGAIN.
 */
#include "sim_internal.h"

static void txn_touch(struct txn *x, const char *dir);

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
	/* a saved guest's watches went with its old domain: none fire until it resumes */
	if (!d->alive || (d == fe() && w.paused) || d->qlen == QMAX || queue_count(d, ev) >= (ev == EV_BUS ? 1 : 2))
		return;
	d->q[d->qlen++] = ev;
}

static void drop_events(struct dom *d, int ev)
{
	int i, j = 0;

	for (i = 0; i < d->qlen; i++)
		if (d->q[i] != ev)
			d->q[j++] = d->q[i];
	d->qlen = j;
}

static const char *home_of(struct dom *d)
{
	return d == fe() ? fe_home : be_home;
}

static int write_fails(struct dom *d)
{
	return d && d->xsfail == 2;
}

static struct txn *txn_of(struct dom *d, struct xenbus_transaction t)
{
	return d && d->txn && d->txn->id == t.id ? d->txn : NULL;
}

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
	if (x->ndirs == TXN_DIRS || strlen(dir) >= SIM_PATH)
		sim_limit("a transaction uses too many directories");
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
		if (x->nops == MAX_TXN_OPS)
			sim_limit("more than %d writes in one transaction", MAX_TXN_OPS);
		if (strlen(path) >= SIM_PATH)
			sim_limit("xenstore path too long: %s", path);
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
