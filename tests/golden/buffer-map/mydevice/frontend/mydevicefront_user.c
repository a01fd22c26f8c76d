// SPDX-License-Identifier: GPL-2.0-only
/*
 * mydevicefront_user.c - your code in the "mydevice" frontend.
 *
 * Yours to edit: xbgen wrote this file once and never overwrites it
 * (`xbgen render` keeps it as it is, even with --force).  mydevicefront.h
 * says what you can call.
 */
#include <linux/crc32.h>
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include "mydevicefront.h"

int mydevicefront_user_connect(struct mydevicefront_device *fdev)
{
	/* Calls may start here, for instance from a thread of your own. */
	return 0;
}

void mydevicefront_user_disconnect(struct mydevicefront_device *fdev)
{
}

/* Vary every field with @seq so that a misplaced byte shows. */
void mydevicefront_selftest_fill(struct mydevice_request *req, u64 seq)
{
	u64 x = seq * 0x9e3779b97f4a7c15ULL + 1;
	unsigned int i;

	memset(req, 0, sizeof(*req));
	req->op = (u32)(x >> 0);
	req->value = (u64)(x >> 8);
	for (i = 0; i < ARRAY_SIZE(req->data); i++)
		req->data[i] = (u8)(x >> (i % 8 * 8)) + i;
}

/* The default handler echoes value, data and zeroes the rest. */
bool mydevicefront_selftest_check(const struct mydevice_request *req,
				  const struct mydevice_response *rsp)
{
	return rsp->status == 0 &&
	       rsp->value == req->value &&
	       !memcmp(rsp->data, req->data, sizeof(rsp->data));
}

/* The bytes of a self-test buffer; the default handler knows them too. */
static inline u8 mydevicefront_pattern(u32 i, u32 len)
{
	return i ^ (i >> 8) ^ len;
}

/* crc32 of the pattern of @len bytes, as the default handler sums the buffer. */
static u32 mydevicefront_pattern_sum(u32 len)
{
	u8 chunk[64];
	u32 crc = ~0U, i, j, n;

	for (i = 0; i < len; i += n) {
		n = min_t(u32, len - i, sizeof(chunk));
		for (j = 0; j < n; j++)
			chunk[j] = mydevicefront_pattern(i + j, len);
		crc = crc32_le(crc, chunk, n);
	}
	return crc;
}

void mydevicefront_selftest_fill_buf(const struct mydevice_request *req,
				     u8 *buf, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		buf[i] = mydevicefront_pattern(i, len);
}

/*
 * The default handler sends back every byte inverted and puts
 * its crc32 in sum.
 */
bool mydevicefront_selftest_check_buf(const struct mydevice_request *req,
				      const struct mydevice_response *rsp,
				      const u8 *buf, u32 len, u32 got)
{
	u32 i;

	if (got != len)
		return false;
	for (i = 0; i < len; i++)
		if (buf[i] != ((u8)~mydevicefront_pattern(i, len)))
			return false;
	return rsp->sum == mydevicefront_pattern_sum(len);
}
