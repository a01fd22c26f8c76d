// SPDX-License-Identifier: GPL-2.0-only
/*
 * xbgen verify: printk() (kernel/printk/printk.c), dev_err() and friends
 * (drivers/base/core.c), BUG() and WARN() (kernel/panic.c): each line goes
 * to the trace of a replay.
 */
#include "../sim_internal.h"

int printk(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	const char *text = buf;
	struct thread *mt = cur ? &cur->th[TH_MAIN] : NULL;

	api_call();
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (text[0] == '\001' && text[1])
		text += 2;
	buf[strcspn(buf, "\n")] = '\0';
	trace("%s printk: %s", cur ? cur->name : "?", text);
	if (cur && cur->dev && strstr(text, "connected as well") &&
	    (cur->dev->xb.state != XenbusStateConnected || cur_t != mt ||
	     mt->told != XenbusStateConnected))
		violate(PROP_LOG, "the %s printed \"%s\" while it is %s and was told the other end is %s",
			cur->side, text, xenbus_strstate(cur->dev->xb.state),
			cur_t == mt && mt->act == ACT_WATCH ? xenbus_strstate(mt->told) : "nothing");
	return (int)strlen(text);
}

static void dev_print(const struct device *dev, const char *level, const char *fmt, va_list ap)
{
	char buf[400];

	(void)dev;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	trace("%s dev_%s: %s", cur ? cur->name : "?", level, buf);
}

void _dev_err(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "err", fmt, ap);
	va_end(ap);
}

void _dev_warn(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "warn", fmt, ap);
	va_end(ap);
}

void _dev_info(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "info", fmt, ap);
	va_end(ap);
}

/* The model prints every line: the limit only matters to a real console. */
void __xbgen_dev_info_ratelimited(const struct device *dev, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_print(dev, "info", fmt, ap);
	va_end(ap);
}

void __xbgen_fallthrough(void)
{
}

void __xbgen_noreturn_bug(void)
{
	violate(PROP_SAFE, "BUG() in the %s: the kernel of the domain running it crashes",
		cur ? cur->side : "?");
	/* violate() does not return inside a callback; outside, stop anyway */
	abort();
}

int __xbgen_warn(int condition, const char *fmt, ...)
{
	if (condition)
		violate(PROP_SAFE, "WARN in the %s (%s)", cur ? cur->side : "?", fmt);
	return condition;
}
