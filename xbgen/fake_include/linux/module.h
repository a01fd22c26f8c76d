/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_MODULE_H
#define _XBGEN_LINUX_MODULE_H

#include <linux/kernel.h>

struct module;
extern struct module __this_module;
#define THIS_MODULE (&__this_module)

#define __init
#define __exit

#define EXPORT_SYMBOL_GPL(sym)	extern int __xbgen_exported_##sym
#define EXPORT_SYMBOL(sym)	extern int __xbgen_exported_##sym

#define __XBGEN_CAT2(a, b) a##b
#define __XBGEN_CAT(a, b) __XBGEN_CAT2(a, b)
#define __XBGEN_UNIQUE(prefix) __XBGEN_CAT(prefix, __COUNTER__)

#ifdef XBGEN_SIM
/* `xbgen verify` links both modules into one program: name the hooks by role. */
#define module_init(fn) \
	int (*__XBGEN_CAT(xbgen_sim_init_, XBGEN_SIM_ROLE))(void) = fn
#define module_exit(fn) \
	void (*__XBGEN_CAT(xbgen_sim_exit_, XBGEN_SIM_ROLE))(void) = fn
#else
#define module_init(fn) \
	static int (*__XBGEN_UNIQUE(__xbgen_initcall_))(void) = fn
#define module_exit(fn) \
	static void (*__XBGEN_UNIQUE(__xbgen_exitcall_))(void) = fn
#endif

#define __XBGEN_MODINFO(tag, info) \
	static const char __XBGEN_UNIQUE(__xbgen_modinfo_)[] = tag "=" info
#define MODULE_LICENSE(x)	__XBGEN_MODINFO("license", x)
#define MODULE_AUTHOR(x)	__XBGEN_MODINFO("author", x)
#define MODULE_DESCRIPTION(x)	__XBGEN_MODINFO("description", x)
#define MODULE_ALIAS(x)		__XBGEN_MODINFO("alias", x)

#endif
