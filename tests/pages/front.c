// SPDX-License-Identifier: GPL-2.0-only
/*
 * The frontend's page handling with Linux pages of 1 << XBGEN_PAGE_SHIFT
 * bytes (4, 16 or 64 KiB, as on arm64) and Xen pages of 4 KiB: the ring's
 * grants and pages, and a copy buffer's, against a model of Linux's page
 * references (alloc_pages_exact() splits its block into pages of one
 * reference each; each grant ended with its page drops one) and of a
 * grant table.  tests/test_pages.py compiles the rendered
 * mydevicefront_core.c into this file for each page size and kernel API.
 */
#include CORE

#include "pages.h"

/* A device with its slots, as probe leaves it. */
static struct mydevicefront_device *device(void)
{
	static struct xenbus_device dev = { .otherend_id = 0 };
	struct mydevicefront_device *info = kzalloc(sizeof(*info), GFP_KERNEL);

	info->dev = &dev;
	return info;
}

static void ring(unsigned int nr_pages)
{
	struct mydevicefront_device *info = device();
	unsigned int i;

	pages_reset();
	if (mydevicefront_alloc_ring(info, nr_pages))
		fail("a ring of %u pages: allocation failed", nr_pages);
	if (grants_active() != nr_pages)
		fail("a ring of %u pages: %u grants", nr_pages, grants_active());
	for (i = 0; i < nr_pages; i++)
		if (grant_addr(info->ring_ref[i]) != (unsigned char *)info->ring.sring + i * XEN_PAGE_SIZE)
			fail("ring grant %u is not Xen page %u of the ring", i, i);
	if (RING_SIZE(&info->ring) != __xbgen_ring_size(nr_pages * XEN_PAGE_SIZE,
							sizeof(info->ring.sring->ring[0])))
		fail("a ring of %u pages has %u slots", nr_pages, RING_SIZE(&info->ring));
	mydevicefront_free_ring(info);
	pages_all_free("the ring");
	kfree(info);
}

#ifdef BUF
static unsigned char data[MYDEVICE_BUF_MAX], back[MYDEVICE_BUF_MAX];

/* The segments of @req, as the backend reads them. */
static const struct mydevice_segment *segments(const struct mydevice_request *req)
{
#ifdef BUF_INDIRECT
	static struct mydevice_segment segs[MYDEVICE_BUF_SEGS];
	unsigned int i, n = DIV_ROUND_UP(req->buf_nr_segs, MYDEVICE_SEGS_PER_INDIRECT);

	for (i = 0; i < n; i++) {
		unsigned int k = min_t(unsigned int, req->buf_nr_segs - i * MYDEVICE_SEGS_PER_INDIRECT,
				       MYDEVICE_SEGS_PER_INDIRECT);

		if (!grant_readonly(req->buf_indirect[i]))
			fail("indirect page %u is granted writable", i);
		memcpy(&segs[i * MYDEVICE_SEGS_PER_INDIRECT], grant_addr(req->buf_indirect[i]),
		       k * sizeof(*segs));
	}
	return segs;
#else
	return req->buf_seg;
#endif
}

static void buffer(unsigned int len)
{
	struct mydevice_request req;
	const struct mydevice_segment *seg;
	struct mydevicefront_buf *b;
	unsigned int i, pos = 0;

	pages_reset();
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + len);
	b = mydevicefront_buf_get(0, data, len);
	if (IS_ERR(b))
		fail("a buffer of %u bytes: %ld", len, PTR_ERR(b));
	memset(&req, 0, sizeof(req));
	mydevicefront_buf_put(b, &req);
	if (req.buf_len != len || req.buf_nr_segs != DIV_ROUND_UP(len, XEN_PAGE_SIZE))
		fail("a buffer of %u bytes: buf_len %u in %u segments", len, req.buf_len,
		     req.buf_nr_segs);
	seg = segments(&req);
	for (i = 0; i < req.buf_nr_segs; i++) {
		unsigned char *page = grant_addr(seg[i].gref);

		if (!page || seg[i].offset || !seg[i].len ||
		    seg[i].offset + seg[i].len > XEN_PAGE_SIZE)
			fail("segment %u: ref %u, %u bytes at %u", i, seg[i].gref, seg[i].len,
			     seg[i].offset);
		if (grant_readonly(seg[i].gref) != BUF_READONLY)
			fail("segment %u: read-only %d", i, grant_readonly(seg[i].gref));
		if (grant_shares_page(seg[i].gref))
			fail("segment %u: its Xen page is granted twice", i);
#ifdef BUF_TO_BACKEND
		if (memcmp(page, data + pos, seg[i].len))
			fail("segment %u: not bytes %u.. of the buffer", i, pos);
#endif
		/* the backend's answer */
		memset(page, 0x5a ^ i, seg[i].len);
		pos += seg[i].len;
	}
	if (pos != len)
		fail("the segments carry %u bytes of %u", pos, len);
#ifdef BUF_FROM_BACKEND
	mydevicefront_buf_copy_out(b, back, len);
	for (i = 0; i < len; i++)
		if (back[i] != (unsigned char)(0x5a ^ (i / XEN_PAGE_SIZE)))
			fail("byte %u of the answer is %#x", i, back[i]);
#endif
	mydevicefront_buf_free(b);
	pages_all_free("a buffer");
}
#endif

int main(void)
{
	static const unsigned int lens[] = {
		1, 100, XEN_PAGE_SIZE - 1, XEN_PAGE_SIZE, XEN_PAGE_SIZE + 1,
		3 * XEN_PAGE_SIZE + 5, 4 * XEN_PAGE_SIZE, 16 * XEN_PAGE_SIZE + 1,
		65536, 65536 + 1, 3 * 65536 + 17
	};
	unsigned int i;

	pages_init();
	for (i = 1; i <= MYDEVICE_MAX_RING_PAGES; i *= 2)
		ring(i);
#ifdef BUF
	for (i = 0; i < ARRAY_SIZE(lens); i++)
		if (lens[i] <= MYDEVICE_BUF_MAX)
			buffer(lens[i]);
	buffer(MYDEVICE_BUF_MAX);
#else
	(void)lens;
#endif
	return pages_done();
}
