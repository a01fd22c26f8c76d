// SPDX-License-Identifier: GPL-2.0-only
/*
 * mydeviceback_user.c - your code in the "mydevice" backend.
 *
 * Yours to edit: xbgen wrote this file once and never overwrites it
 * (`xbgen render` keeps it as it is, even with --force).  mydeviceback.h
 * says what is expected.
 */
#include <linux/string.h>

#include "mydeviceback.h"

/*
 * The default handler echoes every response field that has a request field
 * of the same name and type (value, data) and leaves
 * the rest zero.
 */
void mydeviceback_handle(struct mydeviceback_device *bdev,
			 const struct mydevice_request *req,
			 struct mydevice_response *rsp)
{
	rsp->value = req->value;
	memcpy(rsp->data, req->data, sizeof(rsp->data));
}
