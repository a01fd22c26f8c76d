// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: the rest of the kernel the drivers call, which the world
 * does not see: the module, jiffies and time, Xen's platform checks,
 * ilog2 and ring sizes, strings and bitops (lib/), user copies and simple
 * file operations (fs/libfs.c).
 */
#include "../sim_internal.h"

struct module {
	int unused;
} __this_module;
enum xen_domain_type xen_domain_type = XEN_PV_DOMAIN;
unsigned long volatile jiffies = 100000;

bool xen_has_pv_devices(void)
{
	return true;
}

int xen_initial_domain(void)
{
	return cur && cur->id == 0;
}

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

/*
 * No task is frozen here: a guest's save (moves.c, act_save()) freezes its
 * user tasks where they are.
 */
bool __xbgen_try_to_freeze(void)
{
	return false;
}

int __xbgen_cond_resched(void)
{
	api_call();
	return 0;
}

/* No thread of the model gets a signal. */
struct task_struct *__xbgen_get_current(void)
{
	return NULL;
}

int fatal_signal_pending(struct task_struct *p)
{
	(void)p;
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

/* include/linux/err.h: error values at the top of the address space. */
void *ERR_PTR(long error)
{
	return (void *)error;
}

long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

bool IS_ERR(const void *ptr)
{
	return (unsigned long)ptr >= (unsigned long)-4095;
}

/* lib/crc32.c's crc32_le(), bit by bit. */
u32 crc32_le(u32 crc, const void *p, size_t len)
{
	const unsigned char *b = p;
	int k;

	while (len--) {
		crc ^= *b++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return crc;
}

/* lib/sort.c: any correct sort will do; the C library's. */
void sort(void *base, size_t num, size_t size, int (*cmp)(const void *, const void *),
	  void (*swap)(void *, void *, int))
{
	(void)swap;
	qsort(base, num, size, cmp);
}

/* include/linux/list.h */
void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

void list_add(struct list_head *entry, struct list_head *head)
{
	entry->next = head->next;
	entry->prev = head;
	head->next->prev = entry;
	head->next = entry;
}

void list_del(struct list_head *entry)
{
	entry->prev->next = entry->next;
	entry->next->prev = entry->prev;
	entry->next = NULL;	/* the kernel's LIST_POISON: a use after it faults */
	entry->prev = NULL;
}

int list_empty(const struct list_head *head)
{
	return head->next == head;
}

/*
 * lib/xarray.c, for a handful of entries: a table in the struct itself
 * (NULL entries are free slots).  Storing NULL erases.
 */
void xa_init(struct xarray *xa)
{
	memset(xa, 0, sizeof(*xa));
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	int i;

	for (i = 0; i < __XBGEN_XA_SLOTS; i++)
		if (xa->__xbgen_entry[i] && xa->__xbgen_index[i] == index)
			return xa->__xbgen_entry[i];
	return NULL;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	int i, free = -1;
	void *old;

	api_call();
	if (gfp & GFP_SLEEPS)
		may_sleep("xa_store()");
	for (i = 0; i < __XBGEN_XA_SLOTS; i++) {
		if (xa->__xbgen_entry[i] && xa->__xbgen_index[i] == index) {
			old = xa->__xbgen_entry[i];
			xa->__xbgen_entry[i] = entry;
			return old;
		}
		if (!xa->__xbgen_entry[i] && free < 0)
			free = i;
	}
	if (!entry)
		return NULL;
	if (free < 0)
		sim_limit("more than %d entries in an xarray", __XBGEN_XA_SLOTS);
	if (fault_here("an allocation (xa_store)"))
		return ERR_PTR(-ENOMEM);
	xa->__xbgen_index[free] = index;
	xa->__xbgen_entry[free] = entry;
	return NULL;
}

int xa_err(void *entry)
{
	return IS_ERR(entry) ? (int)PTR_ERR(entry) : 0;
}

void xa_destroy(struct xarray *xa)
{
	memset(xa, 0, sizeof(*xa));
}

void *__xbgen_xa_next(struct xarray *xa, unsigned long *index)
{
	unsigned long best = 0;
	void *entry = NULL;
	int i;

	for (i = 0; i < __XBGEN_XA_SLOTS; i++)
		if (xa->__xbgen_entry[i] && xa->__xbgen_index[i] >= *index &&
		    (!entry || xa->__xbgen_index[i] < best)) {
			best = xa->__xbgen_index[i];
			entry = xa->__xbgen_entry[i];
		}
	if (entry)
		*index = best;
	return entry;
}
