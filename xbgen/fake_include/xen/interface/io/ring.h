/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_XEN_INTERFACE_IO_RING_H
#define _XBGEN_XEN_INTERFACE_IO_RING_H

/*
 * The shared-ring protocol of xen/interface/io/ring.h, written out for a
 * parser: the same names and the same layout (a 64-byte header, then a
 * power-of-two array of request/response slots), plain C macros without
 * typeof or statement expressions.
 */
#include <linux/types.h>
#include <linux/string.h>

typedef unsigned int RING_IDX;

/* Barriers order nothing on the model's one CPU per domain: no-ops there. */
void __xbgen_mb(void);
#define virt_mb()	__xbgen_mb()
#define virt_rmb()	__xbgen_mb()
#define virt_wmb()	__xbgen_mb()

/* Round down to a power of two (the real header's __RD32). */
#define __XBGEN_RD2(x)	(((x) & 0x2) ? 0x2 : ((x) & 0x1))
#define __XBGEN_RD4(x)	(((x) & 0xc) ? (((x) & 0x8) ? 0x8 : 0x4) : __XBGEN_RD2(x))
#define __XBGEN_RD8(x)	(((x) & 0xf0) ? __XBGEN_RD4((x) >> 4) << 4 : __XBGEN_RD4(x))
#define __XBGEN_RD16(x)	(((x) & 0xff00) ? __XBGEN_RD8((x) >> 8) << 8 : __XBGEN_RD8(x))
#define __XBGEN_RD32(x)	(((x) & 0xffff0000) ? __XBGEN_RD16((x) >> 16) << 16 : __XBGEN_RD16(x))

#define __CONST_RING_SIZE(name, size) \
	__XBGEN_RD32(((size) - 64) / sizeof(union name##_sring_entry))

#define DEFINE_RING_TYPES(name, req_t, rsp_t)				\
union name##_sring_entry {						\
	req_t req;							\
	rsp_t rsp;							\
};									\
struct name##_sring {							\
	RING_IDX req_prod, req_event;					\
	RING_IDX rsp_prod, rsp_event;					\
	u8 __pad[48];							\
	union name##_sring_entry ring[1];				\
};									\
struct name##_front_ring {						\
	RING_IDX req_prod_pvt;						\
	RING_IDX rsp_cons;						\
	unsigned int nr_ents;						\
	struct name##_sring *sring;					\
};									\
struct name##_back_ring {						\
	RING_IDX rsp_prod_pvt;						\
	RING_IDX req_cons;						\
	unsigned int nr_ents;						\
	struct name##_sring *sring;					\
}

unsigned int __xbgen_ring_size(unsigned long bytes, unsigned long entry);
#define __RING_SIZE(s, size) \
	__xbgen_ring_size((size), sizeof((s)->ring[0]))

#define SHARED_RING_INIT(s) do {					\
	(s)->req_prod = (s)->rsp_prod = 0;				\
	(s)->req_event = (s)->rsp_event = 1;				\
	memset((s)->__pad, 0, sizeof((s)->__pad));			\
} while (0)

#define FRONT_RING_ATTACH(r, s, i, size) do {				\
	(r)->req_prod_pvt = (i);					\
	(r)->rsp_cons = (i);						\
	(r)->nr_ents = __RING_SIZE(s, size);				\
	(r)->sring = (s);						\
} while (0)
#define FRONT_RING_INIT(r, s, size) FRONT_RING_ATTACH(r, s, 0, size)

#define BACK_RING_ATTACH(r, s, i, size) do {				\
	(r)->rsp_prod_pvt = (i);					\
	(r)->req_cons = (i);						\
	(r)->nr_ents = __RING_SIZE(s, size);				\
	(r)->sring = (s);						\
} while (0)
#define BACK_RING_INIT(r, s, size) BACK_RING_ATTACH(r, s, 0, size)

#define RING_SIZE(r) ((r)->nr_ents)
#define RING_FREE_REQUESTS(r) \
	(RING_SIZE(r) - ((r)->req_prod_pvt - (r)->rsp_cons))
#define RING_FULL(r) (RING_FREE_REQUESTS(r) == 0)

#define RING_GET_REQUEST(r, idx) \
	(&((r)->sring->ring[(idx) & (RING_SIZE(r) - 1)].req))
#define RING_GET_RESPONSE(r, idx) \
	(&((r)->sring->ring[(idx) & (RING_SIZE(r) - 1)].rsp))
#define RING_COPY_REQUEST(r, idx, dest) \
	memcpy((dest), RING_GET_REQUEST(r, idx), sizeof(*(dest)))
#define RING_COPY_RESPONSE(r, idx, dest) \
	memcpy((dest), RING_GET_RESPONSE(r, idx), sizeof(*(dest)))

#define RING_REQUEST_PROD_OVERFLOW(r, prod) \
	(((prod) - (r)->rsp_prod_pvt) > RING_SIZE(r))
#define RING_RESPONSE_PROD_OVERFLOW(r, prod) \
	(((prod) - (r)->rsp_cons) > RING_SIZE(r))

#define RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(r, notify) do {		\
	RING_IDX __xbgen_old = (r)->sring->req_prod;			\
	RING_IDX __xbgen_new = (r)->req_prod_pvt;			\
	virt_wmb();							\
	(r)->sring->req_prod = __xbgen_new;				\
	virt_mb();							\
	(notify) = ((RING_IDX)(__xbgen_new - (r)->sring->req_event) <	\
		    (RING_IDX)(__xbgen_new - __xbgen_old));		\
} while (0)

#define RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify) do {		\
	RING_IDX __xbgen_old = (r)->sring->rsp_prod;			\
	RING_IDX __xbgen_new = (r)->rsp_prod_pvt;			\
	virt_wmb();							\
	(r)->sring->rsp_prod = __xbgen_new;				\
	virt_mb();							\
	(notify) = ((RING_IDX)(__xbgen_new - (r)->sring->rsp_event) <	\
		    (RING_IDX)(__xbgen_new - __xbgen_old));		\
} while (0)

#define RING_HAS_UNCONSUMED_REQUESTS(r) \
	((r)->sring->req_prod - (r)->req_cons)
#define RING_HAS_UNCONSUMED_RESPONSES(r) \
	((r)->sring->rsp_prod - (r)->rsp_cons)

#define RING_FINAL_CHECK_FOR_REQUESTS(r, more) do {			\
	(more) = RING_HAS_UNCONSUMED_REQUESTS(r);			\
	if (!(more)) {							\
		(r)->sring->req_event = (r)->req_cons + 1;		\
		virt_mb();						\
		(more) = RING_HAS_UNCONSUMED_REQUESTS(r);		\
	}								\
} while (0)

#define RING_FINAL_CHECK_FOR_RESPONSES(r, more) do {			\
	(more) = RING_HAS_UNCONSUMED_RESPONSES(r);			\
	if (!(more)) {							\
		(r)->sring->rsp_event = (r)->rsp_cons + 1;		\
		virt_mb();						\
		(more) = RING_HAS_UNCONSUMED_RESPONSES(r);		\
	}								\
} while (0)

#endif
