// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the toolstack in dom0: activate.sh and deactivate.sh step
 * by step, as the configuration file lists their xenstore operations,
 * `xl destroy` of the guest, and `xl save` + `xl restore -p` of it (or `xl
 * migrate`, the same path in the guest) with the re-plug that follows.
 */
#include "sim_internal.h"

enum {
	OP_WRITE, OP_RM, OP_ABSENT, OP_NO_STALE, OP_SKIP_DONE, OP_WAIT_CLOSED,
	OP_WAIT_NO_BACKEND, OP_UNPAUSE,
};

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

/* none, activate.sh, deactivate.sh, the re-plug after a restore */
static struct script scripts[4];

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

/*
 * deactivate.sh waits until both ends are Closed (or gone); once one of
 * them is, the other gets a short grace period (MV_GRACE), which, like
 * the whole wait's timeout (MV_TIMEOUT), ends only when the drivers have
 * nothing left to do.
 */
static int wait_ready(const struct op *op)
{
	if (op->kind == OP_WAIT_NO_BACKEND)
		return !be()->dev;
	return op->kind != OP_WAIT_CLOSED || (fe_done() && be_done());
}

/* deactivate.sh waits for Closed and one end is: the other's grace period runs. */
static int toolstack_grace(void)
{
	struct op *op = w.script ? cur_op() : NULL;

	return op && op->kind == OP_WAIT_CLOSED && (fe_done() || be_done()) &&
	       !(fe_done() && be_done());
}

static void script_end(void)
{
	if (w.script == 1 || w.script == 3)
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
		case OP_WAIT_NO_BACKEND:
			if (forced) {
				trace("toolstack: the old backend device is still there, plugging anyway");
				w.flags |= SF_FORCED;
			} else {
				trace("toolstack: the old backend device is gone");
			}
			break;
		case OP_UNPAUSE:
			trace("toolstack: xl unpause: the guest resumes");
			w.paused = 0;
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

/* The script's next step may run (or the script has ended). */
static int toolstack_ready(void)
{
	return w.script && (!cur_op() || wait_ready(cur_op()));
}

/* The script waits for the drivers (deactivate.sh for both ends Closed). */
static int toolstack_waiting(void)
{
	return w.script && cur_op() && !wait_ready(cur_op());
}

/* Start a script (1 activate.sh, 2 deactivate.sh): its first step runs. */
static void toolstack_run(int script)
{
	w.script = script;
	w.pc = 0;
	/* activate.sh's existence checks are part of the decision to start */
	if (script == 1)
		while (cur_op() && (cur_op()->kind == OP_ABSENT || cur_op()->kind == OP_NO_STALE))
			w.pc++;
	toolstack_step(0);
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
	w.nanswered = 0;
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

/*
 * `xl save` (or the source side of `xl migrate`) once the guest has
 * suspended (act_save()): the old domain is destroyed.  Unlike `xl
 * destroy`, the guest's memory lives on in the new domain (`xl restore
 * -p`), the same domid here: its heap, its device, its threads (frozen,
 * a call in flight where it was), its irqs, its bookkeeping of grant
 * references.  What was Xen's goes: the event channels (dom0's ends go back
 * to unbound; the guest's irqs keep no event channel), the grant table (a
 * grant dom0 still maps stays as the old domain's entry until dom0 unmaps
 * it: the zombie domain), the old domain's xenstore home and watches.
 * Then the toolstack re-plugs (scripts[3]) and unpauses the guest.
 */
static void save_guest(void)
{
	struct dom *d = fe();
	int di = SIM_DOMU, i, k;

	w.paused = 1;
	w.flags |= SF_SAVED;
	for (i = 1; i < MAX_PORTS; i++) {
		struct port *x = &w.ports[di][i];

		if (x->state == P_FREE)
			continue;
		if (x->irq >= 0) {
			w.irqs[di][x->irq].port = 0;
			w.irqs[di][x->irq].masked = 0;
		}
		close_port(d, i);
	}
	for (i = 0; i < MAX_GRANTS; i++) {
		struct grant *g = &w.grants[i];

		if (!g->used || g->owner != di || g->zombie || !g->maps)
			continue;
		if (g->used == 2) {
			/* ended by the guest, kept for dom0's mapping: the old domain's now */
			g->zombie = 1;
			continue;
		}
		for (k = 0; k < MAX_GRANTS && w.grants[k].used; k++)
			;
		if (k == MAX_GRANTS)
			sim_limit("more than %d grants", MAX_GRANTS);
		w.grants[k] = *g;
		w.grants[k].used = 2;
		w.grants[k].zombie = 1;
		g->maps = 0;
	}
	w.gen++;
	trace("xl save: the old domain goes; removing %s", fe_home);
	xs_rm(fe_home);
	toolstack_run(3);
}

/*
 * The configuration `xbgen verify` writes: the device's paths and the
 * toolstack's scripts, op by op, as read from activate.sh/deactivate.sh.
 */
/*
 * The re-plug after `xl restore -p`: the toolstack removes the dead
 * domain's backend directory (activate.sh does, for domains that no longer
 * exist), waits for dom0's backend device of it to go (the model has one
 * backend device: with the same domid the new one has the same paths),
 * runs activate.sh's writes for the new domain, then `xl unpause`.
 */
static void restore_script(void)
{
	struct script *a = &scripts[1], *r = &scripts[3];
	int i, last = 2;

	r->nops = 0;
	r->ops[r->nops++] = (struct op){ .kind = OP_RM, .step = 0 };
	snprintf(r->ops[0].path, SIM_PATH, "%s", be_dir);
	r->ops[r->nops++] = (struct op){ .kind = OP_WAIT_NO_BACKEND, .step = 1 };
	for (i = 0; i < a->nops && r->nops < 31; i++) {
		if (a->ops[i].kind != OP_WRITE && a->ops[i].kind != OP_RM)
			continue;
		r->ops[r->nops] = a->ops[i];
		r->ops[r->nops].step = a->ops[i].step + 2;
		if (r->ops[r->nops].step > last)
			last = r->ops[r->nops].step;
		r->nops++;
	}
	r->ops[r->nops++] = (struct op){ .kind = OP_UNPAUSE, .step = last + 1 };
}

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
	restore_script();
	return fe_dir[0] && be_dir[0] && scripts[1].nops && scripts[2].nops ? 0 : -1;
bad:
	fprintf(stderr, "xbgen-sim: bad config line: %s\n", line);
	fclose(f);
	return -1;
}
