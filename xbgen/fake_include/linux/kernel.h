/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_KERNEL_H
#define _XBGEN_LINUX_KERNEL_H

#include <linux/types.h>
#include <linux/compiler.h>
#include <linux/stddef.h>
#include <linux/printk.h>
#include <linux/bug.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>

#if defined(XBGEN_SIM_HOST)
#include <stdarg.h>
#elif defined(XBGEN_SIM)
/* xbgen verify runs the code: the compiler's own variable arguments. */
typedef __builtin_va_list va_list;
#define va_start(ap, last)	__builtin_va_start(ap, last)
#define va_end(ap)		__builtin_va_end(ap)
#else
typedef char *va_list;
#define va_start(ap, last)	((void)((ap) = (char *)&(last)))
#define va_end(ap)		((void)(ap))
#endif

#define ARRAY_SIZE(arr) (sizeof(arr) / sizeof((arr)[0]))

int snprintf(char *buf, size_t size, const char *fmt, ...);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
int sscanf(const char *buf, const char *fmt, ...);

#endif
