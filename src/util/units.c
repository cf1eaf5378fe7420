#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sys/socket.h>

#include "util/common.h"
#include "util/units.h"

struct unit {
	const char *name;
	double factor;
};

static const struct unit size_units[] = {
	{ "B", 1.0 },
	{ "K", 1024.0 }, { "KiB", 1024.0 }, { "KB", 1e3 },
	{ "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
	{ "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
	{ "T", 1099511627776.0 }, { "TiB", 1099511627776.0 }, { "TB", 1e12 },
	{ "P", 1125899906842624.0 }, { "PiB", 1125899906842624.0 }, { "PB", 1e15 },
};

/* Parse the leading decimal number of s (digits with at most one '.'). */
static const char *parse_number(const char *s, double *v)
{
	const char *p = s;
	int digits = 0, dots = 0;

	while (*p && (isdigit((unsigned char)*p) || *p == '.')) {
		if (*p == '.')
			dots++;
		else
			digits++;
		p++;
	}
	if (!digits || dots > 1 || p - s > 30)
		return NULL;
	*v = strtod(s, NULL);
	return p;
}

int cairn_parse_size(const char *s, uint64_t *bytes, struct cairn_error *err)
{
	const char *unit;
	double v;

	unit = parse_number(s, &v);
	if (!unit)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid size '%s': expected a number and a unit such as 512MiB", s);
	if (!*unit) {
		if (v == 0.0) {
			*bytes = 0;
			return 0;
		}
		cairn_error_set(err, CAIRN_E_INVALID, "size '%s' has no unit", s);
		cairn_error_hint(err, "write %sMiB, %sGiB or %sB", s, s, s);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(size_units); i++) {
		if (strcmp(unit, size_units[i].name))
			continue;
		v *= size_units[i].factor;
		if (v >= 18446744073709551616.0)
			return cairn_error_set(err, CAIRN_E_INVALID, "size '%s' is too large", s);
		if (v != floor(v))
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "size '%s' is not a whole number of bytes", s);
		*bytes = (uint64_t)v;
		return 0;
	}
	if (*unit == ' ') {
		cairn_error_set(err, CAIRN_E_INVALID, "invalid size '%s': no space is allowed before the unit", s);
		cairn_error_hint(err, "write %.*s%s", (int)(unit - s), s, unit + strspn(unit, " "));
		return -1;
	}
	cairn_error_set(err, CAIRN_E_INVALID, "invalid size '%s': unknown unit '%s'", s, unit);
	{
		const char *names[ARRAY_SIZE(size_units) + 1];
		const char *m;

		for (size_t i = 0; i < ARRAY_SIZE(size_units); i++)
			names[i] = size_units[i].name;
		names[ARRAY_SIZE(size_units)] = NULL;
		m = cairn_did_you_mean(unit, names);
		if (m)
			cairn_error_hint(err, "did you mean '%s'?", m);
		else
			cairn_error_hint(err, "units are B, KiB, MiB, GiB, TiB (or K, M, G, T) and KB, MB, GB, TB");
	}
	return -1;
}

void cairn_format_size(uint64_t bytes, char *out, size_t outsz)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	size_t i = 0;

	while (i + 1 < ARRAY_SIZE(names) && bytes && bytes % 1024 == 0) {
		bytes /= 1024;
		i++;
	}
	snprintf(out, outsz, "%llu%s", (unsigned long long)bytes, names[i]);
}

static const struct unit duration_units[] = {
	{ "ms", 1.0 }, { "s", 1e3 }, { "m", 60e3 }, { "h", 3600e3 }, { "d", 86400e3 },
};

int cairn_parse_duration(const char *s, int64_t *ms, struct cairn_error *err)
{
	const char *p = s;
	double total = 0;

	if (!*s)
		return cairn_error_set(err, CAIRN_E_INVALID, "invalid duration '': expected e.g. 30s, 10m or 1h");
	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		const char *u;
		size_t ulen = 0;
		double v;
		bool found = false;

		u = parse_number(p, &v);
		if (!u)
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "invalid duration '%s': expected e.g. 30s, 10m or 1h", s);
		while (isalpha((unsigned char)u[ulen]))
			ulen++;
		if (!ulen) {
			cairn_error_set(err, CAIRN_E_INVALID, "duration '%s' has no unit", s);
			cairn_error_hint(err, "write %ss for seconds or %sm for minutes", s, s);
			return -1;
		}
		for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
			if (strlen(duration_units[i].name) == ulen &&
			    !strncmp(u, duration_units[i].name, ulen)) {
				total += v * duration_units[i].factor;
				found = true;
				break;
			}
		}
		if (!found) {
			cairn_error_set(err, CAIRN_E_INVALID,
					"invalid duration '%s': unknown unit '%.*s'", s, (int)ulen, u);
			cairn_error_hint(err, "units are ms, s, m, h and d");
			return -1;
		}
		p = u + ulen;
	}
	if (total > 9.2e18)
		return cairn_error_set(err, CAIRN_E_INVALID, "duration '%s' is too long", s);
	*ms = (int64_t)llround(total);
	return 0;
}

void cairn_format_duration(int64_t ms, char *out, size_t outsz)
{
	if (ms % 86400000 == 0 && ms)
		snprintf(out, outsz, "%lldd", (long long)(ms / 86400000));
	else if (ms % 3600000 == 0 && ms)
		snprintf(out, outsz, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(out, outsz, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(out, outsz, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, outsz, "%lldms", (long long)ms);
}

int cairn_parse_cidr(const char *s, struct cairn_cidr *out, struct cairn_error *err)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen;
	char *end;
	long prefix;
	int bits;

	memset(out, 0, sizeof(*out));
	if (!slash) {
		unsigned char probe[16];

		cairn_error_set(err, CAIRN_E_INVALID, "invalid CIDR '%s': missing '/PREFIX'", s);
		if (inet_pton(AF_INET, s, probe) == 1)
			cairn_error_hint(err, "write e.g. %s/24", s);
		else if (inet_pton(AF_INET6, s, probe) == 1)
			cairn_error_hint(err, "write e.g. %s/64", s);
		else
			cairn_error_hint(err, "a CIDR is an address and a prefix length, e.g. 10.0.0.0/24");
		return -1;
	}
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(addr))
		return cairn_error_set(err, CAIRN_E_INVALID, "invalid CIDR '%s'", s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		bits = 128;
	} else {
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid CIDR '%s': '%s' is not an IP address", s, addr);
	}
	errno = 0;
	if (!isdigit((unsigned char)slash[1]))
		return cairn_error_set(err, CAIRN_E_INVALID, "invalid CIDR '%s': bad prefix length", s);
	prefix = strtol(slash + 1, &end, 10);
	if (*end || errno || prefix < 0 || prefix > bits)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid CIDR '%s': prefix length must be 0 to %d", s, bits);
	out->prefix = (int)prefix;
	for (int i = out->prefix; i < bits; i++) {
		if (out->addr[i / 8] & (0x80 >> (i % 8))) {
			char fixed[INET6_ADDRSTRLEN];

			for (int j = out->prefix; j < bits; j++)
				out->addr[j / 8] &= (unsigned char)~(0x80 >> (j % 8));
			inet_ntop(out->family, out->addr, fixed, sizeof(fixed));
			cairn_error_set(err, CAIRN_E_INVALID,
					"invalid CIDR '%s': host bits are set", s);
			cairn_error_hint(err, "did you mean '%s/%d'?", fixed, out->prefix);
			return -1;
		}
	}
	return 0;
}

bool cairn_cidr_overlap(const struct cairn_cidr *a, const struct cairn_cidr *b)
{
	int prefix = a->prefix < b->prefix ? a->prefix : b->prefix;

	if (a->family != b->family)
		return false;
	for (int i = 0; i < prefix; i++) {
		int m = 0x80 >> (i % 8);

		if ((a->addr[i / 8] & m) != (b->addr[i / 8] & m))
			return false;
	}
	return true;
}

uint64_t cairn_cidr_size(const struct cairn_cidr *c)
{
	int host = (c->family == AF_INET ? 32 : 128) - c->prefix;

	return host >= 64 ? UINT64_MAX : (uint64_t)1 << host;
}

bool cairn_name_valid(const char *s, const char **why)
{
	size_t n = strlen(s);
	const char *dummy;

	if (!why)
		why = &dummy;
	if (n == 0) {
		*why = "names may not be empty";
		return false;
	}
	if (n > 63) {
		*why = "names are at most 63 characters";
		return false;
	}
	if (!(s[0] >= 'a' && s[0] <= 'z')) {
		*why = "names start with a lowercase letter";
		return false;
	}
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			*why = "names hold only lowercase letters, digits and '-'";
			return false;
		}
	}
	if (s[n - 1] == '-') {
		*why = "names may not end with '-'";
		return false;
	}
	return true;
}

size_t cairn_edit_distance(const char *a, const char *b)
{
	/* Damerau-Levenshtein (optimal string alignment), two rows and one back. */
	size_t la = strlen(a), lb = strlen(b);
	size_t *prev2, *prev, *cur, d;

	if (la > 256 || lb > 256)
		return (size_t)-1;
	prev2 = xcalloc(lb + 1, sizeof(*prev2));
	prev = xcalloc(lb + 1, sizeof(*prev));
	cur = xcalloc(lb + 1, sizeof(*cur));
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

const char *cairn_did_you_mean(const char *word, const char *const *candidates)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, limit;

	limit = strlen(word) / 3 + 1;
	if (limit > 3)
		limit = 3;
	for (const char *const *c = candidates; *c; c++) {
		size_t d = cairn_edit_distance(word, *c);

		if (d < best_d) {
			best_d = d;
			best = *c;
		}
	}
	return best_d <= limit ? best : NULL;
}
