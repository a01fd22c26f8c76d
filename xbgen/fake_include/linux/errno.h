/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_ERRNO_H
#define _XBGEN_LINUX_ERRNO_H

#define EPERM		1
#define ENOENT		2
#define EINTR		4
#define EIO		5
#define EAGAIN		11
#define ENOMEM		12
#define EBUSY		16
#define ENODEV		19
#define EINVAL		22
#define ENOSPC		28
#define EFAULT		14
#define EPROTO		71
#define ERESTARTSYS	512
#define EOPNOTSUPP	95
#define ECONNRESET	104
#define EBADMSG		74
#define ECONNRESET	104
#define ENOTCONN	107
#define ETIMEDOUT	110
#define ECANCELED	125

#define EMSGSIZE	90

#endif
