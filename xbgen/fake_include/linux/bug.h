/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_BUG_H
#define _XBGEN_LINUX_BUG_H

/* BUG() never returns: the checker treats it like `break;`. */
void __xbgen_noreturn_bug(void);
#define BUG() __xbgen_noreturn_bug()
#define BUG_ON(cond) ((cond) ? __xbgen_noreturn_bug() : (void)0)

int __xbgen_warn(int condition, const char *fmt, ...);
#define WARN(condition, fmt, ...) __xbgen_warn(!!(condition), fmt, ##__VA_ARGS__)
#define WARN_ON(condition) __xbgen_warn(!!(condition), "")
#define WARN_ON_ONCE(condition) __xbgen_warn(!!(condition), "")

#endif
