/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _XBGEN_LINUX_STRING_H
#define _XBGEN_LINUX_STRING_H

#include <linux/types.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *dest, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr_inv(const void *s, int c, size_t n);
size_t strlen(const char *s);
char *strrchr(const char *s, int c);
ssize_t strscpy(char *dest, const char *src, size_t count);

#endif
