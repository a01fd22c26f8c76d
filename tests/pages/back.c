// SPDX-License-Identifier: GPL-2.0-only
/*
 * The backend's grant copies with Linux pages of 1 << XBGEN_PAGE_SHIFT
 * bytes (4, 16 or 64 KiB, as on arm64) and Xen pages of 4 KiB: a buffer
 * in the guest's granted pages, at every offset a segment may take, is
 * brought into the backend's vmalloc buffer and written back, each copy
 * within one Xen page on either side (tests/test_pages.py; the model of
 * pages and grants is pages.h).
 */
#include CORE

#include "pages.h"

void sort(void *base, size_t num, size_t size, int (*cmp)(const void *, const void *),
	  void (*swap)(void *, void *, int))
{
	unsigned char tmp[64], *a = base;
	size_t i, j;

	for (i = 1; i < num; i++)
		for (j = i; j && cmp(a + (j - 1) * size, a + j * size) > 0; j--) {
			memcpy(tmp, a + j * size, size);
			memcpy(a + j * size, a + (j - 1) * size, size);
			memcpy(a + (j - 1) * size, tmp, size);
		}
}

/* A Xen frame of ours: it must lie in a live Linux page. */
static unsigned char *own_frame(xen_pfn_t gmfn)
{
	unsigned char *p = (unsigned char *)(gmfn << XEN_PAGE_SHIFT);
	long i = page_index(p, "a grant copy");

	if (i >= 0 && page_refs[i] <= 0)
		fail("a grant copy into Linux page %ld, which is free", i);
	return p;
}

/* GNTTABOP_copy, checked as Xen checks it: each side within one Xen page. */
void gnttab_batch_copy(struct gnttab_copy *batch, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		struct gnttab_copy *op = &batch[i];
		unsigned char *src, *dst;

		if (!op->len || op->source.offset + op->len > XEN_PAGE_SIZE ||
		    op->dest.offset + op->len > XEN_PAGE_SIZE) {
			fail("copy %u: %u bytes from offset %u to offset %u pass a Xen page", i,
			     op->len, op->source.offset, op->dest.offset);
			op->status = -10;	/* GNTST_bad_copy_arg */
			continue;
		}
		src = op->flags & GNTCOPY_source_gref ? grant_addr(op->source.u.ref) :
			own_frame(op->source.u.gmfn);
		dst = op->flags & GNTCOPY_dest_gref ? grant_addr(op->dest.u.ref) :
			own_frame(op->dest.u.gmfn);
		if ((op->flags & GNTCOPY_dest_gref) && grant_readonly(op->dest.u.ref))
			fail("copy %u into read-only grant %u", i, op->dest.u.ref);
		if (src && dst)
			memmove(dst + op->dest.offset, src + op->source.offset, op->len);
		op->status = src && dst ? GNTST_okay : -3;
	}
}

static struct mydeviceback_device conn;
static unsigned char guest[MYDEVICE_BUF_MAX], seen[MYDEVICE_BUF_MAX];

/*
 * A call's buffer of @len bytes in the guest's Xen pages, each segment's
 * bytes at @offset in its Xen page, written into @req as the frontend does.
 */
static void guest_buffer(struct mydevice_request *req, unsigned int len, unsigned int offset)
{
	unsigned int i, pos, chunk, per = XEN_PAGE_SIZE - offset;
	struct mydevice_segment *segs;
	unsigned char *page = NULL;
#ifdef BUF_INDIRECT
	static struct mydevice_segment ind[MYDEVICE_BUF_SEGS];

	segs = ind;
#else
	segs = req->buf_seg;
#endif
	memset(req, 0, sizeof(*req));
	for (i = 0, pos = 0; pos < len; i++, pos += chunk) {
		/* a guest with large pages grants each Xen page of them */
		if (i % XEN_PFN_PER_PAGE == 0)
			page = page_address(alloc_page(GFP_KERNEL | __GFP_ZERO));
		else
			page += XEN_PAGE_SIZE;
		chunk = min_t(unsigned int, len - pos, per);
		memcpy(page + offset, guest + pos, chunk);
		segs[i].gref = grant(page, BUF_READONLY);
		segs[i].offset = offset;
		segs[i].len = chunk;
	}
	req->buf_len = len;
	req->buf_nr_segs = i;
#ifdef BUF_INDIRECT
	for (pos = 0; pos * MYDEVICE_SEGS_PER_INDIRECT < i; pos++) {
		page = page_address(alloc_page(GFP_KERNEL | __GFP_ZERO));
		memcpy(page, &ind[pos * MYDEVICE_SEGS_PER_INDIRECT],
		       min_t(unsigned int, i - pos * MYDEVICE_SEGS_PER_INDIRECT,
			     MYDEVICE_SEGS_PER_INDIRECT) * sizeof(*ind));
		req->buf_indirect[pos] = grant(page, true);
	}
#endif
}

static void buffer(unsigned int len, unsigned int offset)
{
	const struct mydevice_segment *segs;
	struct mydevice_request req;
	struct mydeviceback_buf buf;
	unsigned int i;
	int err;

	pages_reset();
	for (i = 0; i < len; i++)
		guest[i] = (unsigned char)(i * 13 + offset);
	guest_buffer(&req, len, offset);
	err = mydeviceback_buf_in(&conn, &req, &buf, &segs);
	if (err || buf.len != len)
		fail("%u bytes at offset %u: buf_in %d, %u bytes", len, offset, err, buf.len);
#ifdef BUF_TO_BACKEND
	if (memcmp(buf.data, guest, len))
		fail("%u bytes at offset %u: not what the guest sent", len, offset);
#endif
#ifdef BUF_FROM_BACKEND
	for (i = 0; i < len; i++)
		((unsigned char *)buf.data)[i] = (unsigned char)~guest[i];
	err = mydeviceback_buf_out(&conn, segs, req.buf_nr_segs, len);
	if (err)
		fail("%u bytes at offset %u: buf_out %d", len, offset, err);
	/* read back from the guest's pages */
	for (i = 0; i < req.buf_nr_segs; i++) {
		unsigned int pos = i * (XEN_PAGE_SIZE - offset);

		memcpy(seen + pos, grant_addr(segs[i].gref) + segs[i].offset, segs[i].len);
	}
	for (i = 0; i < len; i++)
		if (seen[i] != (unsigned char)~guest[i])
			fail("%u bytes at offset %u: byte %u came back as %#x", len, offset, i,
			     seen[i]);
#endif
}

int main(void)
{
	static const unsigned int lens[] = {
		1, 100, XEN_PAGE_SIZE - 1, XEN_PAGE_SIZE, XEN_PAGE_SIZE + 1,
		3 * XEN_PAGE_SIZE + 5, 16 * XEN_PAGE_SIZE + 1, 65536, 3 * 65536 + 17
	};
	static const unsigned int offsets[] = { 0, 1, 512, XEN_PAGE_SIZE - 1 };
	unsigned int i, j;

	pages_init();
	conn.dev = kzalloc(sizeof(*conn.dev), GFP_KERNEL);
	conn.buf = vmalloc(MYDEVICEBACK_BUF_SIZE);
	conn.ops = kvcalloc(MYDEVICEBACK_BUF_OPS, sizeof(*conn.ops), GFP_KERNEL);
	conn.refs = kvcalloc(MYDEVICE_BUF_SEGS, sizeof(*conn.refs), GFP_KERNEL);
	pages_mark();	/* conn.buf stays */
	for (i = 0; i < ARRAY_SIZE(lens); i++)
		for (j = 0; j < ARRAY_SIZE(offsets); j++)
			if (DIV_ROUND_UP(lens[i], XEN_PAGE_SIZE - offsets[j]) <= MYDEVICE_BUF_SEGS &&
			    lens[i] <= MYDEVICE_BUF_MAX)
				buffer(lens[i], offsets[j]);
	buffer(MYDEVICE_BUF_MAX, 0);
	return pages_done();
}
