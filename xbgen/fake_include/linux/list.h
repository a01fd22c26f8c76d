/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_LIST_H
#define _XBGEN_LINUX_LIST_H

#include <linux/stddef.h>
#include <linux/types.h>

struct list_head {
	struct list_head *next, *prev;
};

void INIT_LIST_HEAD(struct list_head *list);
void list_add(struct list_head *entry, struct list_head *head);
void list_del(struct list_head *entry);
int list_empty(const struct list_head *head);

/* The kernel's use typeof(); these take what they need from the arguments. */
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry_or_null(head, type, member) \
	(list_empty(head) ? (type *)0 : list_entry((head)->next, type, member))
#ifdef XBGEN_SIM
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = list_entry((head)->next, __typeof__(*pos), member), \
	     n = list_entry(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (head); \
	     pos = n, n = list_entry(n->member.next, __typeof__(*n), member))
#else
/* For the check, which knows no typeof: a loop over the same variables. */
void *__xbgen_list_first(const struct list_head *head);
#define list_for_each_entry_safe(pos, n, head, member) \
	for (pos = __xbgen_list_first(head), n = pos; pos; pos = n)
#endif

#endif
