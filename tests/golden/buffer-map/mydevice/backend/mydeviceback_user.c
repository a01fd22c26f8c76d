// SPDX-License-Identifier: GPL-2.0-only
/*
 * mydeviceback_user.c - your code in the "mydevice" backend.
 *
 * Yours to edit: xbgen wrote this file once and never overwrites it
 * (`xbgen render` keeps it as it is, even with --force).  mydeviceback.h
 * says what is expected.
 */
#include <linux/crc32.h>
#include <linux/string.h>

#include "mydeviceback.h"

/* The bytes the frontend's self-test expects. */
static inline u8 mydeviceback_pattern(u32 i, u32 len)
{
	return i ^ (i >> 8) ^ len;
}

/*
 * The default handler echoes every response field that has a request field
 * of the same name and type (value, data) and leaves
 * the rest zero.
 * It puts the crc32 of the buffer in sum and sends every byte back inverted.
 */
void mydeviceback_handle(struct mydeviceback_device *bdev,
			 const struct mydevice_request *req,
			 struct mydevice_response *rsp,
			 struct mydeviceback_buf *buf)
{
	u8 *data = buf->data;
	u32 i;

	rsp->value = req->value;
	memcpy(rsp->data, req->data, sizeof(rsp->data));
	rsp->sum = crc32_le(~0U, buf->data, buf->len);
	for (i = 0; i < buf->len; i++)
		data[i] = ~data[i];
	buf->out = buf->len;
}
