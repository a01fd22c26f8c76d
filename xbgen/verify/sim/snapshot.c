// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: a configuration's hash (two configurations with the same
 * hash are the same configuration to the explorer), and a configuration
 * saved to bytes and restored from them.
 */
#include "sim_internal.h"

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
		int g;

		if (p && v >= p && v < p + sizeof(struct simdev))
			return mix(mix(h, 0xde0000 + (uint64_t)i), v - p);
		for (g = 0; g < MAX_GONE; g++) {
			p = (uintptr_t)w.dom[i].gone[g];
			if (p && v >= p && v < p + sizeof(struct simdev))
				return mix(mix(h, 0xde1000 + (uint64_t)(i * MAX_GONE + g)), v - p);
		}
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
			h = mix(h, (uint64_t)sd->refs);
		}
		for (j = 0; j < MAX_GONE; j++)
			if (d->gone[j])
				h = mix(h, 0x2000 + (uint64_t)(j << 8 | d->gone[j]->refs));
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
		for (k = 0; k < MAX_GONE; k++)
			if (w.dom[i].gone[k])
				*len += sizeof(struct simdev);
		for (k = 0; k < SIM_NTH; k++) {
			h.stk_len[i][k] = stack_live(i, k, &h.stk_off[i][k]);
			if (h.stk_len[i][k])
				*len += h.stk_len[i][k] + sizeof(ucontext_t);
		}
	}
	buf = malloc(*len);
	if (!buf)
		sim_limit("out of memory for snapshots");
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
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev) {
			memcpy(p, w.dom[i].dev, sizeof(struct simdev));
			p += sizeof(struct simdev);
		}
		for (k = 0; k < MAX_GONE; k++)
			if (w.dom[i].gone[k]) {
				memcpy(p, w.dom[i].gone[k], sizeof(struct simdev));
				p += sizeof(struct simdev);
			}
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
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev)
			POISON(w.dom[i].dev, sizeof(struct simdev));
		for (k = 0; k < MAX_GONE; k++)
			if (w.dom[i].gone[k])
				POISON(w.dom[i].gone[k], sizeof(struct simdev));
	}
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
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev) {
			UNPOISON(w.dom[i].dev, sizeof(struct simdev));
			memcpy(w.dom[i].dev, p, sizeof(struct simdev));
			p += sizeof(struct simdev);
		}
		for (k = 0; k < MAX_GONE; k++)
			if (w.dom[i].gone[k]) {
				UNPOISON(w.dom[i].gone[k], sizeof(struct simdev));
				memcpy(w.dom[i].gone[k], p, sizeof(struct simdev));
				p += sizeof(struct simdev);
			}
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
