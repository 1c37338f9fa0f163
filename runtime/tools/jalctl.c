// SPDX-License-Identifier: MIT
/*
 * jalctl: list, inspect, watch and reset Jalapeño cards.
 *
 *   jalctl [--json] list
 *   jalctl [--json] info [-d SECONDS] [DEV]
 *   jalctl [--json] top [-n N] [-d SECONDS]
 *   jalctl [--json] reset [--method debugfs|pci] DEV
 *
 * DEV is a card index (as `jalctl list` numbers them), accelN,
 * /dev/accel/accelN or a PCI address. What a card is comes from three
 * places, each what it is best at: sysfs (PCI identity, the driver's
 * busy_ns and clock_mhz attributes, hwmon temperature and power; readable
 * by anyone), the device query ioctl through libjalrt (chip version,
 * capabilities, queues, contexts, device memory size; needs the node to
 * be openable), and the DRM fdinfo of every open accel file (per-process
 * engine time and memory, and by summing them the device memory in use).
 * debugfs adds the contexts in use and the reset count where it is
 * mounted and readable (root). Documentation/jalctl.rst has the details.
 *
 * Exit codes: 0 success, 1 other failure, 2 usage error, 3 no card or no
 * such card, 4 permission denied.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jalrt.h>

#define EXIT_USAGE	2
#define EXIT_NODEV	3
#define EXIT_PERM	4

#define MAX_CARDS	64
#define NUM_ENGINES	4

#define SYS_ACCEL	"/sys/class/accel"
#define DEBUGFS_ACCEL	"/sys/kernel/debug/accel"

/* drm-engine-<name> keys of jalapeno.ko, in hardware queue order. */
static const char *const engine_names[NUM_ENGINES] = { "low", "normal", "high", "realtime" };

static const char *const cap_names[] = {
	"dma", "compute_f32", "timestamp", "msix", "vram", "llm",
	"fault_inject", "telemetry", "q4",
};

struct card {
	unsigned int index;		/* position in `jalctl list` */
	unsigned int minor;
	char name[32];			/* accelN */
	char node[64];			/* /dev/accel/accelN */
	char pci[32];			/* 0000:00:02.0 */
	char sysdev[PATH_MAX];		/* the PCI device's sysfs directory */
	char hwmon[PATH_MAX];		/* its hwmon directory, "" if none */
	unsigned int vendor, device, revision, subvendor, subdevice;

	/* from the query ioctl */
	bool have_query;
	int query_err;
	struct jalrt_device_info info;

	/* telemetry (sysfs, hwmon) */
	bool have_busy, have_clock, have_temp, have_power;
	uint64_t busy_ns, clock_mhz;
	long long temp_mc, power_uw;
	double util;			/* busy fraction over the sample, <0 unknown */

	/* debugfs, -1 when not readable */
	long long contexts_in_use, device_resets;

	/* summed over the open files jalctl can see */
	unsigned int clients;
	uint64_t vram_used, host_used;
};

/* One open accel file of a process (fdinfo). */
struct client {
	int pid;
	char comm[32];
	int card;			/* index into cards[] */
	unsigned long long id;		/* drm-client-id */
	uint64_t engine_ns[NUM_ENGINES];
	uint64_t host_total, host_resident, vram_total, vram_resident;
};

/* A process's files on one card, added up. */
struct proc_row {
	int pid;
	char comm[32];
	int card;
	unsigned int clients;
	uint64_t engine_ns[NUM_ENGINES];
	uint64_t engine_total;
	uint64_t host_bytes, vram_bytes;
	double util;			/* <0: no earlier sample */
};

static bool json;
static struct card cards[MAX_CARDS];
static unsigned int ncards;

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("jalctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fputs("usage: jalctl [--json] COMMAND [OPTIONS] [DEV]\n"
	      "\n"
	      "  list                       every card, one line each\n"
	      "  info [-d SEC] [DEV]        everything about a card (all cards without DEV);\n"
	      "                             utilization is sampled over SEC (default 0.25)\n"
	      "  top [-n N] [-d SEC]        live per-card and per-process view, N refreshes\n"
	      "                             (default: until interrupted) every SEC (default 1)\n"
	      "  reset [--method M] DEV     reset the whole card; M is debugfs (the driver's\n"
	      "                             reset_device, the default when debugfs is mounted)\n"
	      "                             or pci (the PCI function reset)\n"
	      "\n"
	      "  --json                     machine-readable output\n"
	      "  -h, --help                 this text\n"
	      "\n"
	      "DEV: a card index from `jalctl list`, accelN, /dev/accel/accelN or a PCI address.\n"
	      "Exit codes: 0 ok, 1 failure, 2 usage error, 3 no (such) card, 4 permission denied.\n",
	      f);
}

/* ---- small file helpers ---------------------------------------------- */

/* Read a whole small file; returns its length or -errno. */
static int read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	close(fd);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

static int read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	int n = read_text(path, buf, sizeof(buf));

	if (n < 0)
		return n;
	errno = 0;
	*v = strtoull(buf, &end, 0);
	return errno || end == buf ? -EINVAL : 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- JSON output ------------------------------------------------------- */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* "key": for the members below; @first tracks the comma. */
static void json_key(bool *first, const char *key)
{
	if (!*first)
		putchar(',');
	*first = false;
	json_str(key);
	putchar(':');
}

static void json_kstr(bool *first, const char *key, const char *v)
{
	json_key(first, key);
	json_str(v);
}

static void json_ku64(bool *first, const char *key, uint64_t v)
{
	json_key(first, key);
	printf("%" PRIu64, v);
}

/* A number that may be unknown: null then. */
static void json_knum(bool *first, const char *key, bool have, double v)
{
	json_key(first, key);
	if (have)
		printf("%.9g", v);
	else
		fputs("null", stdout);
}

/* An integer that may be unknown: null then. */
static void json_kint(bool *first, const char *key, bool have, long long v)
{
	json_key(first, key);
	if (have)
		printf("%lld", v);
	else
		fputs("null", stdout);
}

/* ---- human output helpers -------------------------------------------- */

static const char *fmt_bytes(uint64_t v, char *buf, size_t size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	unsigned int u = 0;

	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", v);
	else
		snprintf(buf, size, "%.1f %s", d, unit[u]);
	return buf;
}

/* @v with @prec decimals and @unit, or "-" for a value the card does not report. */
static const char *fmt_opt(bool have, double v, int prec, const char *unit, char *buf, size_t size)
{
	if (!have)
		return "-";
	snprintf(buf, size, "%.*f%s", prec, v, unit);
	return buf;
}

/* ---- discovery ---------------------------------------------------------- */

static int cmp_minor(const void *a, const void *b)
{
	const struct card *x = a, *y = b;

	return (x->minor > y->minor) - (x->minor < y->minor);
}

static void find_hwmon(struct card *c)
{
	char dir[PATH_MAX + 8];
	struct dirent *de;
	DIR *d;

	c->hwmon[0] = '\0';
	snprintf(dir, sizeof(dir), "%s/hwmon", c->sysdev);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "hwmon", 5) && strlen(de->d_name) < 32 &&
		    strlen(dir) + 34 < sizeof(c->hwmon)) {
			snprintf(c->hwmon, sizeof(c->hwmon), "%.*s/%.31s",
				 (int)(sizeof(c->hwmon) - 34), dir, de->d_name);
			break;
		}
	}
	closedir(d);
}

/*
 * Every accel node whose PCI device is bound to jalapeno, in minor order
 * (the order libjalrt's jalrt_device_open() numbers them). Only sysfs is
 * read, so listing needs no permission on the nodes.
 */
static void discover(void)
{
	struct dirent *de;
	DIR *d = opendir(SYS_ACCEL);

	ncards = 0;
	if (!d)
		return;
	while ((de = readdir(d)) && ncards < MAX_CARDS) {
		struct card *c = &cards[ncards];
		char path[PATH_MAX], link[PATH_MAX];
		uint64_t v;
		ssize_t n;
		char *base;

		if (strncmp(de->d_name, "accel", 5) || !isdigit((unsigned char)de->d_name[5]) ||
		    strlen(de->d_name) > 16)
			continue;
		memset(c, 0, sizeof(*c));
		snprintf(path, sizeof(path), SYS_ACCEL "/%s/device/driver", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		base = strrchr(link, '/');
		if (strcmp(base ? base + 1 : link, "jalapeno"))
			continue;
		snprintf(path, sizeof(path), SYS_ACCEL "/%s/device", de->d_name);
		if (!realpath(path, c->sysdev))
			continue;
		base = strrchr(c->sysdev, '/');
		snprintf(c->pci, sizeof(c->pci), "%s", base ? base + 1 : c->sysdev);
		snprintf(c->name, sizeof(c->name), "%.16s", de->d_name);
		snprintf(c->node, sizeof(c->node), "/dev/accel/%.16s", de->d_name);
		c->minor = (unsigned int)strtoul(de->d_name + 5, NULL, 10);
#define PCI_ATTR(field, attr) \
		snprintf(path, sizeof(path), "%s/" attr, c->sysdev); \
		if (!read_u64(path, &v)) \
			c->field = (unsigned int)v;
		PCI_ATTR(vendor, "vendor");
		PCI_ATTR(device, "device");
		PCI_ATTR(revision, "revision");
		PCI_ATTR(subvendor, "subsystem_vendor");
		PCI_ATTR(subdevice, "subsystem_device");
#undef PCI_ATTR
		find_hwmon(c);
		c->contexts_in_use = -1;
		c->device_resets = -1;
		c->util = -1;
		ncards++;
	}
	closedir(d);
	qsort(cards, ncards, sizeof(cards[0]), cmp_minor);
	for (unsigned int i = 0; i < ncards; i++)
		cards[i].index = i;
}

/* DEV as the user wrote it; -1 with a message when there is no such card. */
static int find_card(const char *arg)
{
	char *end;
	unsigned long idx;

	if (ncards == 0) {
		err("no Jalapeño card found (is jalapeno.ko loaded? see `ls %s`)", SYS_ACCEL);
		return -1;
	}
	errno = 0;
	idx = strtoul(arg, &end, 10);
	if (*arg && !*end && !errno && isdigit((unsigned char)*arg)) {
		if (idx < ncards)
			return (int)idx;
		err("no card with index %s: there %s %u card%s (0..%u, see `jalctl list`)", arg,
		    ncards == 1 ? "is" : "are", ncards, ncards == 1 ? "" : "s", ncards - 1);
		return -1;
	}
	for (unsigned int i = 0; i < ncards; i++) {
		const char *pci = cards[i].pci;

		if (!strcmp(arg, cards[i].name) || !strcmp(arg, cards[i].node) ||
		    !strcmp(arg, pci) ||
		    /* a PCI address without its domain, as lspci prints it */
		    (!strncmp(pci, "0000:", 5) && !strcmp(arg, pci + 5)))
			return (int)i;
	}
	err("no Jalapeño card '%s' (expected an index, accelN, /dev/accel/accelN or a PCI address; see `jalctl list`)",
	    arg);
	return -1;
}

/* ---- per-card state ------------------------------------------------------ */

static void query_card(struct card *c)
{
	struct jalrt_device *dev = NULL;
	int ret = jalrt_device_open_path(c->node, &dev);

	if (!ret)
		ret = jalrt_device_query(dev, &c->info);
	jalrt_device_close(dev);
	c->query_err = ret;
	c->have_query = !ret;
}

static void read_busy(struct card *c)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/busy_ns", c->sysdev);
	c->have_busy = !read_u64(path, &c->busy_ns);
}

static void read_telemetry(struct card *c)
{
	char path[PATH_MAX + 32];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/clock_mhz", c->sysdev);
	c->have_clock = !read_u64(path, &c->clock_mhz);
	c->have_temp = c->have_power = false;
	if (c->hwmon[0]) {
		snprintf(path, sizeof(path), "%s/temp1_input", c->hwmon);
		if (!read_u64(path, &v)) {
			c->have_temp = true;
			c->temp_mc = (long long)v;
		}
		snprintf(path, sizeof(path), "%s/power1_input", c->hwmon);
		if (!read_u64(path, &v)) {
			c->have_power = true;
			c->power_uw = (long long)v;
		}
	}
}

static void read_debugfs(struct card *c)
{
	char path[PATH_MAX], buf[8192];
	char *line, *save;
	long long n = 0;

	c->contexts_in_use = -1;
	c->device_resets = -1;
	snprintf(path, sizeof(path), DEBUGFS_ACCEL "/%s/inject", c->pci);
	if (read_text(path, buf, sizeof(buf)) >= 0) {
		const char *p = strstr(buf, "device resets:");

		if (p)
			c->device_resets = strtoll(p + 14, NULL, 10);
	}
	/* One line per context slot in use, after a header line. */
	snprintf(path, sizeof(path), DEBUGFS_ACCEL "/%s/contexts", c->pci);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	line = strtok_r(buf, "\n", &save);
	while (line && (line = strtok_r(NULL, "\n", &save)))
		n++;
	c->contexts_in_use = n;
}

/* ---- fdinfo scan ------------------------------------------------------- */

/* "123 KiB" and the like, as drm_print_memory_stats() prints sizes. */
static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	while (*end == ' ' || *end == '\t')
		end++;
	if (!strncmp(end, "KiB", 3))
		v <<= 10;
	else if (!strncmp(end, "MiB", 3))
		v <<= 20;
	else if (!strncmp(end, "GiB", 3))
		v <<= 30;
	return v;
}

/* Parse one fdinfo file; false if it is not a jalapeno file of a known card. */
static bool parse_fdinfo(const char *path, struct client *cl)
{
	char buf[4096], *line, *save;
	bool ours = false;
	char pdev[32] = "";

	if (read_text(path, buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *val = strchr(line, ':');

		if (!val)
			continue;
		*val++ = '\0';
		while (*val == ' ' || *val == '\t')
			val++;
		if (!strcmp(line, "drm-driver")) {
			ours = !strcmp(val, "jalapeno");
		} else if (!strcmp(line, "drm-client-id")) {
			cl->id = strtoull(val, NULL, 10);
		} else if (!strcmp(line, "drm-pdev")) {
			snprintf(pdev, sizeof(pdev), "%s", val);
		} else if (!strncmp(line, "drm-engine-", 11)) {
			for (int e = 0; e < NUM_ENGINES; e++)
				if (!strcmp(line + 11, engine_names[e]))
					cl->engine_ns[e] = strtoull(val, NULL, 10);
		} else if (!strcmp(line, "drm-total-host")) {
			cl->host_total = parse_size(val);
		} else if (!strcmp(line, "drm-resident-host")) {
			cl->host_resident = parse_size(val);
		} else if (!strcmp(line, "drm-total-vram")) {
			cl->vram_total = parse_size(val);
		} else if (!strcmp(line, "drm-resident-vram")) {
			cl->vram_resident = parse_size(val);
		}
	}
	if (!ours)
		return false;
	for (unsigned int i = 0; i < ncards; i++) {
		if (!strcmp(pdev, cards[i].pci)) {
			cl->card = (int)i;
			return true;
		}
	}
	return false;
}

static bool seen_client(const struct client *v, size_t n, int pid, int card,
			unsigned long long id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].card == card && v[i].id == id && (pid < 0 || v[i].pid == pid))
			return true;
	return false;
}

/*
 * Every open jalapeno file of every process whose /proc/PID/fd jalctl may
 * read (all of them as root). A file shared by several descriptors or
 * processes has one drm-client-id: it is counted once per process in the
 * rows and once per card in the card totals. jalctl's own files (from the
 * query) are left out.
 */
static size_t scan_clients(struct client **out)
{
	struct client *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *pe;
	int self = getpid();
	DIR *proc = opendir("/proc");

	for (unsigned int i = 0; i < ncards; i++) {
		cards[i].clients = 0;
		cards[i].vram_used = cards[i].host_used = 0;
	}
	if (!proc) {
		*out = NULL;
		return 0;
	}
	while ((pe = readdir(proc))) {
		char fddir[64], comm[32] = "?", path[PATH_MAX];
		struct dirent *fe;
		int pid;
		DIR *fds;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		pid = atoi(pe->d_name);
		if (pid == self)
			continue;
		snprintf(fddir, sizeof(fddir), "/proc/%d/fd", pid);
		fds = opendir(fddir);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char target[PATH_MAX];
			struct client cl;
			ssize_t len;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", fddir, fe->d_name);
			len = readlink(path, target, sizeof(target) - 1);
			if (len <= 0)
				continue;
			target[len] = '\0';
			if (strncmp(target, "/dev/accel/accel", 16))
				continue;
			memset(&cl, 0, sizeof(cl));
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fe->d_name);
			if (!parse_fdinfo(path, &cl))
				continue;
			if (seen_client(v, n, pid, cl.card, cl.id))
				continue;
			if (!strcmp(comm, "?")) {
				snprintf(path, sizeof(path), "/proc/%d/comm", pid);
				if (read_text(path, comm, sizeof(comm)) < 0)
					snprintf(comm, sizeof(comm), "?");
			}
			cl.pid = pid;
			snprintf(cl.comm, sizeof(cl.comm), "%s", comm);
			if (!seen_client(v, n, -1, cl.card, cl.id)) {
				struct card *c = &cards[cl.card];

				c->clients++;
				c->vram_used += cl.vram_total;
				c->host_used += cl.host_total;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				v = realloc(v, cap * sizeof(*v));
				if (!v) {
					err("out of memory");
					exit(1);
				}
			}
			v[n++] = cl;
		}
		closedir(fds);
	}
	closedir(proc);
	*out = v;
	return n;
}

/* Fold clients into one row per (process, card). */
static size_t make_rows(const struct client *cl, size_t n, struct proc_row *rows)
{
	size_t nrows = 0;

	for (size_t i = 0; i < n; i++) {
		struct proc_row *r = NULL;

		for (size_t j = 0; j < nrows; j++)
			if (rows[j].pid == cl[i].pid && rows[j].card == cl[i].card)
				r = &rows[j];
		if (!r) {
			r = &rows[nrows++];
			memset(r, 0, sizeof(*r));
			r->pid = cl[i].pid;
			r->card = cl[i].card;
			r->util = -1;
			snprintf(r->comm, sizeof(r->comm), "%s", cl[i].comm);
		}
		r->clients++;
		for (int e = 0; e < NUM_ENGINES; e++) {
			r->engine_ns[e] += cl[i].engine_ns[e];
			r->engine_total += cl[i].engine_ns[e];
		}
		r->host_bytes += cl[i].host_total;
		r->vram_bytes += cl[i].vram_total;
	}
	return nrows;
}

/* ---- card output ------------------------------------------------------- */

static void caps_string(uint32_t caps, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int b = 0; b < 32; b++) {
		if (!(caps & (1u << b)))
			continue;
		if (b < sizeof(cap_names) / sizeof(cap_names[0]))
			off += snprintf(buf + off, size - off, "%s%s", off ? " " : "", cap_names[b]);
		else
			off += snprintf(buf + off, size - off, "%sbit%u", off ? " " : "", b);
		if (off >= size)
			break;
	}
}

static void print_card_json(const struct card *c, bool full)
{
	bool f = true;
	char buf[256];

	putchar('{');
	json_ku64(&f, "index", c->index);
	json_kstr(&f, "node", c->node);
	json_kstr(&f, "pci_address", c->pci);
	snprintf(buf, sizeof(buf), "%04x", c->vendor);
	json_kstr(&f, "vendor_id", buf);
	snprintf(buf, sizeof(buf), "%04x", c->device);
	json_kstr(&f, "device_id", buf);
	json_ku64(&f, "revision", c->revision);
	snprintf(buf, sizeof(buf), "%04x", c->subvendor);
	json_kstr(&f, "subsystem_vendor_id", buf);
	snprintf(buf, sizeof(buf), "%04x", c->subdevice);
	json_kstr(&f, "subsystem_device_id", buf);
	json_key(&f, "query_error");
	if (c->have_query)
		fputs("null", stdout);
	else
		json_str(strerror(-c->query_err));
	if (c->have_query) {
		const struct jalrt_device_info *in = &c->info;

		json_kstr(&f, "driver", in->driver_name);
		snprintf(buf, sizeof(buf), "%u.%u.%u", in->driver_version >> 16,
			 (in->driver_version >> 8) & 0xff, in->driver_version & 0xff);
		json_kstr(&f, "driver_version", buf);
		snprintf(buf, sizeof(buf), "%u.%u", in->hw_version >> 16, in->hw_version & 0xffff);
		json_kstr(&f, "chip_version", buf);
		json_ku64(&f, "caps", in->caps);
		caps_string(in->caps, buf, sizeof(buf));
		json_key(&f, "capabilities");
		putchar('[');
		for (char *s = buf, *tok, *save = NULL; (tok = strtok_r(s, " ", &save)); s = NULL) {
			if (s == NULL)
				putchar(',');
			json_str(tok);
		}
		putchar(']');
		json_ku64(&f, "queues", in->num_queues);
		json_ku64(&f, "contexts", in->num_contexts);
		json_ku64(&f, "va_start", in->va_start);
		json_ku64(&f, "va_end", in->va_end);
		json_ku64(&f, "page_size", in->page_size);
		json_ku64(&f, "vram_total_bytes", in->vram_size);
	}
	if (!full) {
		putchar('}');
		return;
	}
	json_kint(&f, "contexts_in_use", c->contexts_in_use >= 0, c->contexts_in_use);
	json_kint(&f, "device_resets", c->device_resets >= 0, c->device_resets);
	json_ku64(&f, "clients", c->clients);
	json_ku64(&f, "vram_used_bytes", c->vram_used);
	json_kint(&f, "vram_free_bytes", c->have_query,
		  c->have_query && c->info.vram_size > c->vram_used ?
		  (long long)(c->info.vram_size - c->vram_used) : 0);
	json_ku64(&f, "host_used_bytes", c->host_used);
	json_kint(&f, "busy_ns", c->have_busy, (long long)c->busy_ns);
	json_knum(&f, "utilization", c->util >= 0, c->util);
	json_kint(&f, "clock_mhz", c->have_clock, (long long)c->clock_mhz);
	json_knum(&f, "temperature_c", c->have_temp, c->temp_mc / 1000.0);
	json_knum(&f, "power_w", c->have_power, c->power_uw / 1e6);
	putchar('}');
}

static void print_card_human(const struct card *c)
{
	char b1[64], b2[64], b3[64], caps[256];

	printf("card %u: %s (PCI %s)\n", c->index, c->node, c->pci);
	printf("  PCI IDs:         %04x:%04x rev %u, subsystem %04x:%04x\n", c->vendor, c->device,
	       c->revision, c->subvendor, c->subdevice);
	if (c->have_query) {
		const struct jalrt_device_info *in = &c->info;

		caps_string(in->caps, caps, sizeof(caps));
		printf("  driver:          %s %u.%u.%u\n", in->driver_name, in->driver_version >> 16,
		       (in->driver_version >> 8) & 0xff, in->driver_version & 0xff);
		printf("  chip version:    %u.%u\n", in->hw_version >> 16, in->hw_version & 0xffff);
		printf("  capabilities:    0x%x (%s)\n", in->caps, caps);
		printf("  queues:          %u\n", in->num_queues);
		if (c->contexts_in_use >= 0)
			printf("  contexts:        %u (%lld in use)\n", in->num_contexts,
			       c->contexts_in_use);
		else
			printf("  contexts:        %u\n", in->num_contexts);
		printf("  device VA:       [0x%" PRIx64 ", 0x%" PRIx64 "), page %u bytes\n",
		       in->va_start, in->va_end, in->page_size);
		printf("  device memory:   %s total, %s used, %s free\n",
		       fmt_bytes(in->vram_size, b1, sizeof(b1)),
		       fmt_bytes(c->vram_used, b2, sizeof(b2)),
		       fmt_bytes(in->vram_size > c->vram_used ? in->vram_size - c->vram_used : 0,
				 b3, sizeof(b3)));
	} else {
		printf("  (cannot query %s: %s)\n", c->node, strerror(-c->query_err));
		printf("  device memory:   %s used\n", fmt_bytes(c->vram_used, b2, sizeof(b2)));
	}
	printf("  host memory:     %s in BOs\n", fmt_bytes(c->host_used, b1, sizeof(b1)));
	printf("  clients:         %u open file%s\n", c->clients, c->clients == 1 ? "" : "s");
	printf("  utilization:     %s\n", fmt_opt(c->util >= 0, c->util * 100, 1, "%", b1, sizeof(b1)));
	printf("  busy time:       %s\n", fmt_opt(c->have_busy, c->busy_ns / 1e9, 6, " s", b1, sizeof(b1)));
	printf("  clock:           %s\n", fmt_opt(c->have_clock, (double)c->clock_mhz, 0, " MHz", b1, sizeof(b1)));
	printf("  temperature:     %s\n", fmt_opt(c->have_temp, c->temp_mc / 1000.0, 1, " °C", b1, sizeof(b1)));
	printf("  power:           %s\n", fmt_opt(c->have_power, c->power_uw / 1e6, 3, " W", b1, sizeof(b1)));
	if (c->device_resets >= 0)
		printf("  device resets:   %lld\n", c->device_resets);
}

/* EACCES/EPERM from the query: say what to do about it. */
static int query_exit(const struct card *c)
{
	if (c->have_query)
		return 0;
	if (c->query_err == -EACCES || c->query_err == -EPERM) {
		err("%s: permission denied: be root or in the group the node belongs to (the udev rule gives it to 'render')",
		    c->node);
		return EXIT_PERM;
	}
	err("%s: cannot query the device: %s", c->node, strerror(-c->query_err));
	return 1;
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_list(void)
{
	int rc = 0;

	for (unsigned int i = 0; i < ncards; i++) {
		query_card(&cards[i]);
		if (!rc)
			rc = query_exit(&cards[i]);
	}
	if (json) {
		fputs("{\"cards\":[", stdout);
		for (unsigned int i = 0; i < ncards; i++) {
			if (i)
				putchar(',');
			print_card_json(&cards[i], false);
		}
		fputs("]}\n", stdout);
	} else {
		for (unsigned int i = 0; i < ncards; i++) {
			const struct card *c = &cards[i];
			char mem[32];

			printf("%u  %-18s %s  %04x:%04x rev %u", c->index, c->node, c->pci, c->vendor,
			       c->device, c->revision);
			if (c->have_query)
				printf("  chip %u.%u, %u queues, %u contexts, %s device memory",
				       c->info.hw_version >> 16, c->info.hw_version & 0xffff,
				       c->info.num_queues, c->info.num_contexts,
				       fmt_bytes(c->info.vram_size, mem, sizeof(mem)));
			putchar('\n');
		}
	}
	if (ncards == 0) {
		err("no Jalapeño card found (is jalapeno.ko loaded?)");
		return EXIT_NODEV;
	}
	return rc;
}

static int cmd_info(int which, double interval)
{
	unsigned int first = which < 0 ? 0 : (unsigned int)which;
	unsigned int last = which < 0 ? ncards : (unsigned int)which + 1;
	double t0, t1;
	uint64_t busy0[MAX_CARDS];
	struct client *cl;
	int rc = 0;

	if (ncards == 0) {
		err("no Jalapeño card found (is jalapeno.ko loaded?)");
		return EXIT_NODEV;
	}
	/* Utilization: busy time over a short window of wall time. */
	t0 = now_s();
	for (unsigned int i = first; i < last; i++) {
		read_busy(&cards[i]);
		busy0[i] = cards[i].busy_ns;
	}
	sleep_s(interval);
	t1 = now_s();
	for (unsigned int i = first; i < last; i++) {
		struct card *c = &cards[i];
		bool had = c->have_busy;

		read_busy(c);
		if (had && c->have_busy && t1 > t0 && c->busy_ns >= busy0[i])
			c->util = (c->busy_ns - busy0[i]) / 1e9 / (t1 - t0);
		read_telemetry(c);
		read_debugfs(c);
		query_card(c);
		if (!rc)
			rc = query_exit(c);
	}
	scan_clients(&cl);
	free(cl);
	if (json) {
		fputs("{\"cards\":[", stdout);
		for (unsigned int i = first; i < last; i++) {
			if (i != first)
				putchar(',');
			print_card_json(&cards[i], true);
		}
		fputs("]}\n", stdout);
	} else {
		for (unsigned int i = first; i < last; i++) {
			if (i != first)
				putchar('\n');
			print_card_human(&cards[i]);
		}
	}
	return rc;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;

	if (x->util != y->util)
		return x->util < y->util ? 1 : -1;
	return x->pid - y->pid;
}

/* Earlier engine totals per (pid, card), for per-process utilization. */
struct prev_row {
	int pid, card;
	uint64_t engine_total;
};

static int cmd_top(long iterations, double interval)
{
	bool tty = isatty(STDOUT_FILENO);
	struct prev_row *prev = NULL;
	size_t nprev = 0;
	uint64_t busy_prev[MAX_CARDS];
	bool busy_prev_ok[MAX_CARDS];
	double t_prev;

	if (ncards == 0) {
		err("no Jalapeño card found (is jalapeno.ko loaded?)");
		return EXIT_NODEV;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	for (unsigned int i = 0; i < ncards; i++) {
		query_card(&cards[i]);
		read_busy(&cards[i]);
		busy_prev[i] = cards[i].busy_ns;
		busy_prev_ok[i] = cards[i].have_busy;
	}
	/* A first sample of the processes, so that frame 1 has rates too. */
	{
		struct client *cl;
		size_t n = scan_clients(&cl);
		struct proc_row *rows = calloc(n ? n : 1, sizeof(*rows));
		size_t nr = make_rows(cl, n, rows);

		prev = calloc(nr ? nr : 1, sizeof(*prev));
		for (size_t i = 0; i < nr; i++)
			prev[i] = (struct prev_row){ rows[i].pid, rows[i].card, rows[i].engine_total };
		nprev = nr;
		free(rows);
		free(cl);
	}
	t_prev = now_s();

	for (long it = 1; iterations <= 0 || it <= iterations; it++) {
		struct client *cl;
		struct proc_row *rows;
		size_t n, nr;
		double t, dt;
		time_t wall;
		char stamp[32];

		sleep_s(interval);
		t = now_s();
		dt = t - t_prev;
		for (unsigned int i = 0; i < ncards; i++) {
			struct card *c = &cards[i];

			read_busy(c);
			c->util = -1;
			if (c->have_busy && busy_prev_ok[i] && dt > 0 && c->busy_ns >= busy_prev[i])
				c->util = (c->busy_ns - busy_prev[i]) / 1e9 / dt;
			busy_prev[i] = c->busy_ns;
			busy_prev_ok[i] = c->have_busy;
			read_telemetry(c);
			read_debugfs(c);
		}
		n = scan_clients(&cl);
		rows = calloc(n ? n : 1, sizeof(*rows));
		nr = make_rows(cl, n, rows);
		for (size_t i = 0; i < nr; i++) {
			for (size_t j = 0; j < nprev; j++) {
				if (prev[j].pid == rows[i].pid && prev[j].card == rows[i].card &&
				    rows[i].engine_total >= prev[j].engine_total && dt > 0)
					rows[i].util = (rows[i].engine_total - prev[j].engine_total) /
						       1e9 / dt;
			}
		}
		qsort(rows, nr, sizeof(*rows), cmp_rows);
		free(prev);
		prev = calloc(nr ? nr : 1, sizeof(*prev));
		for (size_t i = 0; i < nr; i++)
			prev[i] = (struct prev_row){ rows[i].pid, rows[i].card, rows[i].engine_total };
		nprev = nr;
		t_prev = t;

		wall = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&wall));
		if (json) {
			bool f = true;

			putchar('{');
			json_ku64(&f, "sample", (uint64_t)it);
			json_kstr(&f, "time", stamp);
			json_knum(&f, "interval_s", true, dt);
			json_key(&f, "cards");
			putchar('[');
			for (unsigned int i = 0; i < ncards; i++) {
				if (i)
					putchar(',');
				print_card_json(&cards[i], true);
			}
			fputs("],", stdout);
			json_str("processes");
			fputs(":[", stdout);
			for (size_t i = 0; i < nr; i++) {
				const struct proc_row *r = &rows[i];
				bool g = true;

				if (i)
					putchar(',');
				putchar('{');
				json_ku64(&g, "pid", (uint64_t)r->pid);
				json_kstr(&g, "comm", r->comm);
				json_ku64(&g, "card", (uint64_t)r->card);
				json_kstr(&g, "node", cards[r->card].node);
				json_ku64(&g, "clients", r->clients);
				json_key(&g, "engine_ns");
				putchar('{');
				{
					bool h = true;

					for (int e = 0; e < NUM_ENGINES; e++)
						json_ku64(&h, engine_names[e], r->engine_ns[e]);
				}
				putchar('}');
				json_ku64(&g, "engine_ns_total", r->engine_total);
				json_knum(&g, "utilization", r->util >= 0, r->util);
				json_ku64(&g, "host_bytes", r->host_bytes);
				json_ku64(&g, "vram_bytes", r->vram_bytes);
				putchar('}');
			}
			fputs("]}\n", stdout);
		} else {
			char b1[32], b2[32], b3[32], b4[32], b5[32];

			/* In place on a terminal; successive snapshots otherwise. */
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (it > 1)
				putchar('\n');
			printf("jalctl top  %s  sample %ld, over %.2f s\n\n", stamp, it, dt);
			printf("CARD NODE               PCI           UTIL    CLOCK     TEMP      POWER     "
			       "VRAM USED/TOTAL       CLIENTS\n");
			for (unsigned int i = 0; i < ncards; i++) {
				const struct card *c = &cards[i];
				char mem[64];

				snprintf(mem, sizeof(mem), "%s / %s",
					 fmt_bytes(c->vram_used, b4, sizeof(b4)),
					 c->have_query ? fmt_bytes(c->info.vram_size, b5, sizeof(b5)) : "?");
				printf("%-4u %-18s %-13s %-7s %-9s %-9s %-9s %-21s %u\n", c->index,
				       c->node, c->pci,
				       fmt_opt(c->util >= 0, c->util * 100, 1, "%", b1, sizeof(b1)),
				       fmt_opt(c->have_clock, (double)c->clock_mhz, 0, " MHz", b2, sizeof(b2)),
				       fmt_opt(c->have_temp, c->temp_mc / 1000.0, 1, " C", b3, sizeof(b3)),
				       fmt_opt(c->have_power, c->power_uw / 1e6, 3, " W", b5, sizeof(b5)),
				       mem, c->clients);
			}
			printf("\n%7s %-16s %-4s %14s %7s %11s %11s\n", "PID", "COMM", "CARD",
			       "ENGINE-TIME", "UTIL", "HOST-MEM", "VRAM");
			for (size_t i = 0; i < nr; i++) {
				const struct proc_row *r = &rows[i];

				printf("%7d %-16s %-4d %12.6f s %7s %11s %11s\n", r->pid, r->comm, r->card,
				       r->engine_total / 1e9,
				       fmt_opt(r->util >= 0, r->util * 100, 1, "%", b1, sizeof(b1)),
				       fmt_bytes(r->host_bytes, b2, sizeof(b2)),
				       fmt_bytes(r->vram_bytes, b3, sizeof(b3)));
			}
			if (nr == 0)
				printf("%7s (no process has a card open%s)\n", "",
				       geteuid() ? " that jalctl may look at; root sees all" : "");
		}
		fflush(stdout);
		free(rows);
		free(cl);
	}
	free(prev);
	return 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int reset_error(const char *path, int e)
{
	if (e == -EACCES || e == -EPERM) {
		err("%s: permission denied: resetting a card needs root", path);
		return EXIT_PERM;
	}
	err("%s: %s", path, strerror(-e));
	return 1;
}

static int cmd_reset(int which, const char *method)
{
	struct card *c = &cards[which];
	char dbg[PATH_MAX], pci[PATH_MAX + 16];
	bool have_dbg;
	int e;

	snprintf(dbg, sizeof(dbg), DEBUGFS_ACCEL "/%s/reset_device", c->pci);
	snprintf(pci, sizeof(pci), "%s/reset", c->sysdev);
	have_dbg = access(dbg, F_OK) == 0;
	if (!method)
		method = have_dbg ? "debugfs" : "pci";

	if (!strcmp(method, "debugfs")) {
		long long before;
		double deadline;

		if (!have_dbg) {
			if (access(DEBUGFS_ACCEL, F_OK) && errno == EACCES)
				return reset_error(DEBUGFS_ACCEL, -EACCES);
			err("%s not found: is debugfs mounted (mount -t debugfs none /sys/kernel/debug)? "
			    "--method pci needs no debugfs", dbg);
			return 1;
		}
		/*
		 * The driver queues the recovery and returns: wait until its
		 * reset counter moves, so that the card is usable when jalctl
		 * returns. The deadline only bounds a driver that never does.
		 */
		read_debugfs(c);
		before = c->device_resets;
		e = write_file(dbg, "1\n");
		if (e)
			return reset_error(dbg, e);
		deadline = now_s() + 60;
		for (;;) {
			read_debugfs(c);
			if (before < 0 || c->device_resets > before)
				break;
			if (now_s() > deadline) {
				err("%s: the driver did not report a device reset within 60 s", c->pci);
				return 1;
			}
			sleep_s(0.01);
		}
	} else if (!strcmp(method, "pci")) {
		/* Synchronous: the PCI core calls the driver's reset_prepare and reset_done. */
		e = write_file(pci, "1\n");
		if (e)
			return reset_error(pci, e);
		read_debugfs(c);
	} else {
		err("unknown reset method '%s' (debugfs or pci)", method);
		return EXIT_USAGE;
	}

	if (json) {
		bool f = true;

		putchar('{');
		json_ku64(&f, "index", c->index);
		json_kstr(&f, "node", c->node);
		json_kstr(&f, "pci_address", c->pci);
		json_kstr(&f, "method", method);
		json_kstr(&f, "path", !strcmp(method, "pci") ? pci : dbg);
		json_kint(&f, "device_resets", c->device_resets >= 0, c->device_resets);
		fputs("}\n", stdout);
	} else {
		printf("card %u (%s, %s): reset through %s\n", c->index, c->node, c->pci,
		       !strcmp(method, "pci") ? pci : dbg);
	}
	return 0;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 86400)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "method", required_argument, NULL, 'm' },
		{ "interval", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = NULL, *devarg = NULL, *method = NULL;
	double interval = -1;
	long iterations = 0;
	bool have_n = false;
	int opt, which = -1;

	/* getopt permutes argv, so options may also follow the command and DEV. */
	while ((opt = getopt_long(argc, argv, "hjd:n:m:", opts, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'm':
			method = optarg;
			break;
		case 'd':
			if (!parse_seconds(optarg, &interval)) {
				err("bad interval '%s': seconds, e.g. 0.5", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			errno = 0;
			iterations = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || iterations < 1) {
				err("bad count '%s': a positive number of refreshes", optarg);
				return EXIT_USAGE;
			}
			have_n = true;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		cmd = argv[optind++];
	if (optind < argc)
		devarg = argv[optind++];
	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}

	if (!strcmp(cmd, "list") || !strcmp(cmd, "top")) {
		if (devarg) {
			err("'%s' takes no device argument", cmd);
			return EXIT_USAGE;
		}
	} else if (!strcmp(cmd, "reset")) {
		if (!devarg) {
			err("reset needs a device: jalctl reset DEV (see `jalctl list`)");
			return EXIT_USAGE;
		}
		if (method && strcmp(method, "debugfs") && strcmp(method, "pci")) {
			err("unknown reset method '%s' (debugfs or pci)", method);
			return EXIT_USAGE;
		}
	} else if (strcmp(cmd, "info")) {
		err("unknown command '%s' (list, info, top, reset; --help)", cmd);
		return EXIT_USAGE;
	}
	if ((have_n && strcmp(cmd, "top")) || (method && strcmp(cmd, "reset")) ||
	    (interval >= 0 && strcmp(cmd, "top") && strcmp(cmd, "info"))) {
		err("option not valid for '%s' (--help)", cmd);
		return EXIT_USAGE;
	}

	discover();
	if (devarg) {
		which = find_card(devarg);
		if (which < 0)
			return EXIT_NODEV;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list();
	if (!strcmp(cmd, "info"))
		return cmd_info(which, interval >= 0 ? interval : 0.25);
	if (!strcmp(cmd, "top"))
		return cmd_top(have_n ? iterations : 0, interval >= 0 ? interval : 1.0);
	return cmd_reset(which, method);
}
