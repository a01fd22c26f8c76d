// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: a configuration's hash (two configurations with the same
 * hash are the same configuration to the explorer), and a configuration
 * saved to bytes and restored from them.
 */
#include "sim_internal.h"

/*
 * The explorer's machinery: it reads the drivers' memory whatever its
 * shadow says (stack redzones, the drivers' static data) and does
 * arithmetic no driver sees.  Neither sanitizer instruments it: what they
 * check is the drivers' code and the kernel API's, not the saving and
 * hashing of configurations.
 */
#define MACHINERY __attribute__((no_sanitize_address, no_sanitize_undefined))

#define MIX(h, v) (((h) ^ ((v) + 0x9e3779b97f4a7c15ULL + ((h) << 6) + ((h) >> 2))) * \
			 0x100000001b3ULL)

/* For the rest of the simulation (a thread's history). */
static inline uint64_t mix(uint64_t h, uint64_t v)
{
	return MIX(h, v);
}

/*
 * The same, inlined into the machinery below (the sanitizers' attributes
 * differ, and gcc inlines only between functions whose attributes match).
 */
MACHINERY __attribute__((always_inline))
static inline uint64_t hmix(uint64_t h, uint64_t v)
{
	return MIX(h, v);
}

/* An unaligned word, read whatever its shadow says. */
MACHINERY __attribute__((always_inline))
static inline uint64_t load64(const void *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

MACHINERY
static uint64_t mix_str(uint64_t h, const char *s)
{
	size_t n = strlen(s), i;
	uint64_t v;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&v, s + i, 8);
		h = hmix(h, v);
	}
	v = 0;
	memcpy(&v, s + i, n - i);
	return hmix(hmix(h, v), n);
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "snapshot.c reads strings a word at a time, little-endian"
#endif

/*
 * A string at the start of a buffer whose size is a multiple of 8 (the
 * xenstore's paths and values), a word at a time and no further than the
 * word that holds its NUL: the bytes after the NUL are masked out.  Only
 * that last word has a zero byte, so the words of consecutive strings
 * cannot run into each other.
 */
MACHINERY
static inline uint64_t mix_buf(uint64_t h, const char *s)
{
	for (;; s += 8) {
		uint64_t v = load64(s);
		uint64_t z = (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;

		if (z) {
			int k = __builtin_ctzll(z) >> 3;	/* the first zero byte */

			return hmix(h, k ? v & ((1ULL << (8 * k)) - 1) : 0);
		}
		h = hmix(h, v);
	}
}

/*
 * The xenstore's nodes, in order: each path and value a word at a time, the
 * paths in one chain and the values in another.  Remembered until the
 * xenstore changes (xs_epoch, as state_of() does); a restored
 * configuration brings its own (saved with it).
 */
static uint64_t xs_hash_value;
static unsigned long xs_hash_epoch;

MACHINERY
static uint64_t xs_hash(void)
{
	uint64_t a = 0x6a09e667f3bcc908ULL, b = 0xbb67ae8584caa73bULL;
	int i;

	if (xs_hash_epoch == xs_epoch)
		return xs_hash_value;
	for (i = 0; i < w.nxs; i++) {
		a = mix_buf(a, w.xs[i].path);
		b = mix_buf(b, w.xs[i].val);
	}
	xs_hash_value = hmix(hmix(a, b), (uint64_t)w.nxs);
	xs_hash_epoch = xs_epoch;
	return xs_hash_value;
}

/* A word that may point into the arena is named by its block, not its address. */
MACHINERY
static uint64_t hash_word(uint64_t h, uint64_t v)
{
	int i;

	if (!in_arena((uintptr_t)v))
		return hmix(h, v);
	for (i = 0; i < w.nallocs; i++) {
		uintptr_t p = (uintptr_t)w.allocs[i].ptr;

		if (v >= p && v < p + w.allocs[i].size + 1)
			return hmix(hmix(h, 0xa110c000 + (uint64_t)i), v - p);
	}
	for (i = 0; i < SIM_NDOM; i++) {
		uintptr_t p = (uintptr_t)w.dom[i].dev;

		if (p && v >= p && v < p + sizeof(struct simdev))
			return hmix(hmix(h, 0xde0000 + (uint64_t)i), v - p);
	}
	return hmix(h, v);
}

/*
 * hash_word() for many words: the blocks a word may point into, looked up
 * in one table built once per hash (in hash_word()'s order: allocations,
 * then devices).
 */
struct span {
	uintptr_t lo, len;
	uint64_t tag;
};

struct spans {
	uintptr_t base, top;
	int n;
	struct span s[MAX_ALLOCS + SIM_NDOM];
};

MACHINERY
static void spans_of_world(struct spans *t)
{
	int i;

	t->base = (uintptr_t)arena;
	t->top = w.top;
	t->n = 0;
	for (i = 0; i < w.nallocs; i++)
		t->s[t->n++] = (struct span){ (uintptr_t)w.allocs[i].ptr, w.allocs[i].size + 1,
					      0xa110c000 + (uint64_t)i };
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev)
			t->s[t->n++] = (struct span){ (uintptr_t)w.dom[i].dev,
						      sizeof(struct simdev), 0xde0000 + (uint64_t)i };
}

MACHINERY __attribute__((always_inline))
static inline uint64_t span_word(const struct spans *t, uint64_t h, uint64_t v)
{
	int i;

	if (__builtin_expect(v - t->base >= t->top, 1))
		return hmix(h, v);
	for (i = 0; i < t->n; i++)
		if (v - t->s[i].lo < t->s[i].len)
			return hmix(hmix(h, t->s[i].tag), v - t->s[i].lo);
	return hmix(h, v);
}

/*
 * A block's words, each as hash_word() would mix it, and its tail bytes.
 * Four chains, each taking every fourth word, so the multiplications of
 * consecutive words overlap; then the chains are mixed into one.
 */
MACHINERY
static uint64_t hash_words(const struct spans *t, uint64_t h, const unsigned char *p, size_t n)
{
	uint64_t a = h, b = h ^ 0x243f6a8885a308d3ULL, c = h ^ 0x13198a2e03707344ULL;
	uint64_t d = h ^ 0xa4093822299f31d0ULL;
	size_t off;

	for (off = 0; off + 32 <= n; off += 32) {
		a = span_word(t, a, load64(p + off));
		b = span_word(t, b, load64(p + off + 8));
		c = span_word(t, c, load64(p + off + 16));
		d = span_word(t, d, load64(p + off + 24));
	}
	for (; off + 8 <= n; off += 8)
		a = span_word(t, a, load64(p + off));
	h = hmix(hmix(hmix(hmix(h, a), b), c), d);
	for (; off < n; off++)
		h = hmix(h, p[off]);
	return h;
}

MACHINERY
static uint64_t hash_heap(const struct spans *t, uint64_t h)
{
	int i;
	size_t off;

	for (i = 0; i < w.nallocs; i++) {
		const unsigned char *p = w.allocs[i].ptr;
		size_t n = w.allocs[i].size;

		h = hmix(h, n);
		h = hmix(h, (uint64_t)((w.allocs[i].dom + 1) << 8 | w.allocs[i].module << 4 |
				      w.allocs[i].kind) << 16 | w.allocs[i].pages_freed);
		if (w.allocs[i].kind == K_PAGES) {
			/* shared pages hold no pointers: their non-zero words, placed */
			for (off = 0; off + 32 <= n; off += 32) {
				uint64_t a = load64(p + off), b = load64(p + off + 8);
				uint64_t c = load64(p + off + 16), d = load64(p + off + 24);

				if (!(a | b | c | d))
					continue;
				if (a)
					h = hmix(hmix(h, off), a);
				if (b)
					h = hmix(hmix(h, off + 8), b);
				if (c)
					h = hmix(hmix(h, off + 16), c);
				if (d)
					h = hmix(hmix(h, off + 24), d);
			}
			for (; off + 8 <= n; off += 8) {
				uint64_t v = load64(p + off);

				if (v)
					h = hmix(hmix(h, off), v);
			}
			continue;
		}
		h = hash_words(t, h, p, n);
	}
	return h;
}

/* The drivers' static data, redzones included: read it raw. */
MACHINERY
static uint64_t hash_drivers(const struct spans *t, uint64_t h)
{
	const unsigned char *p = (const unsigned char *)__xbgen_drivers_start;
	size_t n = __xbgen_drivers_start ? (size_t)(__xbgen_drivers_end - __xbgen_drivers_start) : 0;

	return hash_words(t, h, p, n);
}

MACHINERY
static uint64_t heap_hash(void)
{
	struct spans t;

	spans_of_world(&t);
	return hash_drivers(&t, hash_heap(&t, 0x5eed));
}

MACHINERY
static uint64_t hash_xen(uint64_t h)
{
	int i, j;

	for (i = 0; i < MAX_GRANTS; i++) {
		const struct grant *g = &w.grants[i];

		if (!g->used)
			continue;
		h = hmix(h, (uint64_t)g->ref << 32 | (uint64_t)g->used << 24 |
			   (uint64_t)g->owner << 16 | (uint64_t)g->maps << 8 | g->module);
		h = hmix(h, (uint64_t)g->to | (uint64_t)g->gen << 32 | (uint64_t)g->zombie << 40);
		h = hash_word(h, (uint64_t)(uintptr_t)g->page);
	}
	for (i = 0; i < MAX_MAPS; i++) {
		const struct mapping *m = &w.maps[i];

		if (!m->used)
			continue;
		h = hmix(h, 0x3000 + (uint64_t)(m->dom << 16 | m->owner << 8 | m->n) +
			   ((uint64_t)m->module << 32) + ((uint64_t)m->gen << 40));
		for (j = 0; j < m->n; j++)
			h = hmix(h, m->refs[j]);
		h = hash_word(h, (uint64_t)(uintptr_t)m->vaddr);
		h = hash_word(h, (uint64_t)(uintptr_t)m->orig + m->ro);
	}
	for (i = 0; i < SIM_NDOM; i++) {
		for (j = 1; j < MAX_PORTS; j++) {
			const struct port *x = &w.ports[i][j];

			if (x->state == P_FREE)
				continue;
			h = hmix(h, (uint64_t)(i << 24 | j << 16 | x->state << 8 | x->pending << 4 |
					      x->module) + ((uint64_t)(x->irq + 1) << 32));
			h = hmix(h, (uint64_t)x->rdom << 32 | (uint32_t)x->rport);
		}
		for (j = 0; j < MAX_IRQS; j++) {
			const struct irqrec *q = &w.irqs[i][j];

			if (!q->used)
				continue;
			h = hmix(h, (uint64_t)(i << 24 | j << 16 | q->disabled << 8 | q->masked << 4 |
					      q->module) + ((uint64_t)q->port << 32));
			h = hmix(h, (uint64_t)(uintptr_t)q->handler);
			h = hash_word(h, (uint64_t)(uintptr_t)q->dev_id);
		}
	}
	for (i = 0; i < MAX_DENTRIES; i++) {
		const struct dent *e = &w.dents[i];

		if (!e->used)
			continue;
		h = hmix(h, (uint64_t)(i << 24 | (e->parent + 1) << 16 | e->dom << 8 | e->module << 4 |
				      e->dir));
		h = mix_str(h, e->name);
		h = hash_word(h, (uint64_t)(uintptr_t)e->d);
		h = hash_word(h, (uint64_t)(uintptr_t)e->data);
	}
	return h;
}

MACHINERY
static uint64_t world_hash(int with_activities)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	struct spans t;

	h = hmix(h, xs_hash());
	for (i = 0; i < SIM_NDOM; i++) {
		struct dom *d = &w.dom[i];
		int j;

		h = hmix(h, (uint64_t)(d->alive | d->loaded << 1 | d->ever_loaded << 2 |
				      (d->drv != NULL) << 3 | d->xsfail << 4 | d->nomem << 7));
		if (d->dev) {
			struct simdev *sd = d->dev;

			h = hmix(h, 0x1000 + (uint64_t)sd->xb.state);
			h = hmix(h, (uint64_t)(sd->bound | sd->watching << 1 |
					       sd->have_otherend << 2 | sd->refs << 3));
			h = hash_word(h, (uint64_t)(uintptr_t)sd->drvdata);
		}
		for (j = 0; j < d->qlen; j++)
			h = hmix(h, 0x2000 + d->q[j]);
		for (j = 0; j < d->nworks; j++)
			h = hash_word(hmix(h, 0x4000), (uint64_t)(uintptr_t)d->works[j]);
		h = hash_word(h, (uint64_t)(uintptr_t)d->txn);
		if (!with_activities)
			continue;
		for (j = 0; j < SIM_NTH; j++) {
			struct thread *t = &d->th[j];

			if (t->act == ACT_NONE)
				continue;
			h = hmix(hmix(h, t->hash), (uint64_t)(t->act | j << 4 | t->steps << 8 |
							   t->points << 16) |
						 (uint64_t)(t->block | t->decision << 4 | t->dead << 8 |
							    t->timeout << 9 | t->excused << 10) << 32);
			h = hash_word(h, (uint64_t)(uintptr_t)t->block_on);
			h = hmix(h, t->block_val);
			h = hash_word(h, (uint64_t)(uintptr_t)t->work);
		}
	}
	h = hmix(h, (uint64_t)w.script << 8 | (uint64_t)w.pc);
	h = hmix(h, w.flags);
	h = hmix(h, (uint64_t)(w.env_used | w.hostile_used << 8 | w.faults_used << 16 |
			      w.calls_used << 24));
	h = hash_word(h, (uint64_t)(uintptr_t)w.user_fdev);
	h = hmix(h, (uint64_t)(w.saves_used | w.saving << 8 | w.paused << 12 | w.frozen << 13 |
			      w.gen << 16) | (uint64_t)w.nanswered << 32);
	for (i = 0; i < w.nanswered; i++)
		h = hmix(h, w.answered[i]);
	h = hash_xen(h);
	spans_of_world(&t);
	h = hash_drivers(&t, h);
	return hash_heap(&t, h);
}

/*
 * A configuration in bytes: the world, every live block of the arena, the
 * drivers' static data, and the live part of each suspended thread's stack
 * (its registers are in the world).  Everything lives at fixed addresses,
 * so copying the bytes back restores the configuration exactly, suspended
 * threads included.  Every part starts on a word: the copies go a word (or
 * two) at a time.
 */
struct snap_hdr {
	size_t len;
	size_t wlen;
	uint64_t xs_hash;
	int xs_cache[4];
	size_t stk_off[SIM_NDOM][SIM_NTH];
	size_t stk_len[SIM_NDOM][SIM_NTH];
};

#define WORDS(n) (((n) + 7) & ~(size_t)7)

typedef uint64_t pair_t __attribute__((vector_size(16), aligned(8), may_alias));

/*
 * Copy (or zero) bytes whatever their shadow says (stack redzones, freed
 * blocks): neither instrumented nor turned into a call of the intercepted
 * memcpy or memset, 16 bytes a step.  Both ends are word-aligned.
 */
MACHINERY __attribute__((optimize("no-tree-loop-distribute-patterns")))
static void raw_copy(void *dst, const void *src, size_t n)
{
	pair_t *d = dst;
	const pair_t *s = src;
	uint64_t *dw;
	const uint64_t *sw;
	unsigned char *db;
	const unsigned char *sb;

	for (; n >= 64; n -= 64, d += 4, s += 4) {
		pair_t a = s[0], b = s[1], c = s[2], e = s[3];

		d[0] = a;
		d[1] = b;
		d[2] = c;
		d[3] = e;
	}
	for (; n >= 16; n -= 16)
		*d++ = *s++;
	dw = (uint64_t *)d;
	sw = (const uint64_t *)s;
	if (n >= 8) {
		*dw++ = *sw++;
		n -= 8;
	}
	db = (unsigned char *)dw;
	sb = (const unsigned char *)sw;
	while (n--)
		*db++ = *sb++;
}

MACHINERY __attribute__((optimize("no-tree-loop-distribute-patterns")))
static void raw_zero(void *dst, size_t n)
{
	pair_t *d = dst, z = { 0, 0 };
	unsigned char *db;

	for (; n >= 16; n -= 16)
		*d++ = z;
	db = (unsigned char *)d;
	while (n--)
		*db++ = 0;
}

MACHINERY
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
 * the block's tail that is not a whole word is copied as it is, padded to
 * a word.  At most 2n + 16 bytes.
 */
MACHINERY
static size_t pack_block(unsigned char *out, const unsigned char *src, size_t n)
{
	size_t words = n / 8, i = 0, len = 0;
	uint32_t hdr[2];

	while (i < words) {
		size_t z = i, c;

		while (z < words && !load64(src + z * 8))
			z++;
		for (c = z; c < words; c++)
			if (!load64(src + c * 8) && c + 1 < words && !load64(src + (c + 1) * 8))
				break;
		hdr[0] = (uint32_t)(z - i);
		hdr[1] = (uint32_t)(c - z);
		__builtin_memcpy(out + len, hdr, sizeof(hdr));
		raw_copy(out + len + sizeof(hdr), src + z * 8, (c - z) * 8);
		len += sizeof(hdr) + (c - z) * 8;
		i = c;
	}
	raw_copy(out + len, src + words * 8, n - words * 8);
	return len + WORDS(n - words * 8);
}

MACHINERY
static size_t unpack_block(unsigned char *dst, const unsigned char *in, size_t n)
{
	size_t words = n / 8, i = 0, len = 0;
	uint32_t hdr[2];

	while (i < words) {
		__builtin_memcpy(hdr, in + len, sizeof(hdr));
		len += sizeof(hdr);
		raw_zero(dst + i * 8, (size_t)hdr[0] * 8);
		i += hdr[0];
		raw_copy(dst + i * 8, in + len, (size_t)hdr[1] * 8);
		len += (size_t)hdr[1] * 8;
		i += hdr[1];
	}
	raw_copy(dst + words * 8, in + len, n - words * 8);
	return len + WORDS(n - words * 8);
}

MACHINERY
static size_t drivers_len(void)
{
	return __xbgen_drivers_start ? (size_t)(__xbgen_drivers_end - __xbgen_drivers_start) : 0;
}

/*
 * strlen() + 1 of a string at the start of a buffer whose size is a multiple
 * of 8 (a xenstore path or value, or its copy in a snapshot), a word at a time.
 */
MACHINERY
static inline size_t buf_strsize(const void *s)
{
	const unsigned char *p = s;
	size_t n;

	for (n = 0;; n += 8) {
		uint64_t v = load64(p + n);
		uint64_t z = (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;

		if (z)
			return n + (size_t)(__builtin_ctzll(z) >> 3) + 1;
	}
}

/* A string of the xenstore with its NUL, padded to a word. */
MACHINERY
static size_t put_str(unsigned char *out, const char *s)
{
	size_t n = buf_strsize(s);

	raw_copy(out, s, n);
	return WORDS(n);
}

/* At least as many bytes as sim_snapshot_into() will write now. */
MACHINERY
size_t sim_snapshot_max(void)
{
	size_t len = sizeof(struct snap_hdr) + WORDS(offsetof(__typeof__(w), allocs) +
						    (size_t)w.nallocs * sizeof(w.allocs[0]));
	int i, k;

	len += (size_t)w.nxs * (SIM_PATH + SIM_VAL + 16) + drivers_len();
	for (i = 0; i < w.nallocs; i++)
		len += 2 * w.allocs[i].size + 16;
	for (i = 0; i < SIM_NDOM; i++) {
		if (w.dom[i].dev)
			len += WORDS(sizeof(struct simdev));
		for (k = 0; k < SIM_NTH; k++) {
			size_t off, n = stack_live(i, k, &off);

			if (n)
				len += WORDS(n) + WORDS(sizeof(ucontext_t));
		}
	}
	return len;
}

/* The configuration into @buf (word-aligned, sim_snapshot_max() bytes): its length. */
MACHINERY
size_t sim_snapshot_into(void *buf)
{
	struct snap_hdr h;
	unsigned char *p = buf;
	int i, k;

	h.wlen = offsetof(__typeof__(w), allocs) + (size_t)w.nallocs * sizeof(w.allocs[0]);
	h.xs_hash = xs_hash();
	xenstore_cache_save(h.xs_cache);
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++)
			h.stk_len[i][k] = stack_live(i, k, &h.stk_off[i][k]);
	p += sizeof(h);
	raw_copy(p, &w, h.wlen);
	p += WORDS(h.wlen);
	for (i = 0; i < w.nxs; i++) {
		p += put_str(p, w.xs[i].path);
		p += put_str(p, w.xs[i].val);
	}
	/* live blocks are not poisoned, but the copy is raw all the same */
	for (i = 0; i < w.nallocs; i++)
		p += pack_block(p, w.allocs[i].ptr, w.allocs[i].size);
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev) {
			raw_copy(p, w.dom[i].dev, sizeof(struct simdev));
			p += WORDS(sizeof(struct simdev));
		}
	raw_copy(p, __xbgen_drivers_start, drivers_len());
	p += WORDS(drivers_len());
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++) {
			if (!h.stk_len[i][k])
				continue;
			raw_copy(p, &ctxs[i][k], sizeof(ucontext_t));
			p += WORDS(sizeof(ucontext_t));
			raw_copy(p, stacks[i][k] + h.stk_off[i][k], h.stk_len[i][k]);
			p += WORDS(h.stk_len[i][k]);
		}
	h.len = (size_t)(p - (unsigned char *)buf);
	__builtin_memcpy(buf, &h, sizeof(h));
	return h.len;
}

void *sim_snapshot(size_t *len)
{
	void *buf = malloc(sim_snapshot_max());

	if (!buf)
		sim_limit("out of memory for snapshots");
	*len = sim_snapshot_into(buf);
	return buf;
}

MACHINERY
static size_t get_str(char *dst, const unsigned char *in)
{
	size_t n = buf_strsize(in);

	raw_copy(dst, in, n);
	return WORDS(n);
}

MACHINERY
void sim_restore(const void *snap)
{
	const unsigned char *p = snap;
	struct snap_hdr h;
	int i, k;

	__builtin_memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	/* what is live now is all the arena has unpoisoned: poison it */
	for (i = 0; i < w.nallocs; i++)
		POISON(w.allocs[i].ptr, w.allocs[i].size ? w.allocs[i].size : 1);
	for (i = 0; i < SIM_NDOM; i++)
		if (w.dom[i].dev)
			POISON(w.dom[i].dev, sizeof(struct simdev));
	raw_copy(&w, p, h.wlen);
	xs_epoch++;
	xs_hash_value = h.xs_hash;
	xs_hash_epoch = xs_epoch;
	xenstore_cache_load(h.xs_cache);
	p += WORDS(h.wlen);
	for (i = 0; i < w.nxs; i++) {
		p += get_str(w.xs[i].path, p);
		p += get_str(w.xs[i].val, p);
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
			raw_copy(w.dom[i].dev, p, sizeof(struct simdev));
			p += WORDS(sizeof(struct simdev));
		}
	raw_copy(__xbgen_drivers_start, p, drivers_len());
	p += WORDS(drivers_len());
	for (i = 0; i < SIM_NDOM; i++)
		for (k = 0; k < SIM_NTH; k++)
			if (h.stk_len[i][k]) {
				raw_copy(&ctxs[i][k], p, sizeof(ucontext_t));
				p += WORDS(sizeof(ucontext_t));
				UNPOISON(stacks[i][k] + h.stk_off[i][k], h.stk_len[i][k]);
				raw_copy(stacks[i][k] + h.stk_off[i][k], p, h.stk_len[i][k]);
				p += WORDS(h.stk_len[i][k]);
			}
	cur = NULL;
	cur_t = NULL;
}
