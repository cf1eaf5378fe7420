/*
 * cloudinit.c - NoCloud meta-data, user-data and the cidata ISO; which of a
 * node's configure steps a seed carries, and the node's own user_data merged
 * in as text.
 */
#include "util/common.h"

#include <errno.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/cloudinit.h"
#include "util/command.h"
#include "util/fileio.h"
#include "util/jsonutil.h"


CAIRN_LOG_INIT("providers.cloudinit");

/*
 * s as a YAML double-quoted scalar (the escapes YAML and JSON share, and \u).
 * Besides the C0 controls, what a YAML reader refuses raw or reads as a line
 * break is escaped: C1 controls (NEL among them), U+2028, U+2029, and the
 * non-characters U+FFFE, U+FFFF; U+FEFF too, which some take for a BOM.
 */
static void quoted(struct cairn_buf *b, const char *s)
{
	cairn_buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			cairn_buf_addf(b, "\\%c", *p);
		} else if (*p == '\n') {
			cairn_buf_addstr(b, "\\n");
		} else if (*p == '\t') {
			cairn_buf_addstr(b, "\\t");
		} else if (*p < 0x20 || *p == 0x7f) {
			cairn_buf_addf(b, "\\x%02x", *p);
		} else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			cairn_buf_addf(b, "\\x%02x", p[1]);             /* U+0080..U+009F */
			p++;
		} else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			cairn_buf_addf(b, "\\u%04x", 0x2028 + p[2] - 0xa8);
			p += 2;
		} else if (p[0] == 0xef && ((p[1] == 0xbb && p[2] == 0xbf) ||
					    (p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)))) {
			cairn_buf_addf(b, "\\u%04x", p[1] == 0xbb ? 0xfeff : 0xfffe + p[2] - 0xbe);
			p += 2;
		} else {
			cairn_buf_addch(b, *p);
		}
	}
	cairn_buf_addch(b, '"');
}

char *cairn_ci_meta_data(const struct cairn_ci_seed *s)
{
	struct cairn_buf b;

	cairn_buf_init(&b, 0);
	cairn_buf_addstr(&b, "instance-id: ");
	quoted(&b, s->instance_id);
	cairn_buf_addstr(&b, "\nlocal-hostname: ");
	quoted(&b, s->hostname);
	cairn_buf_addch(&b, '\n');
	return cairn_buf_detach(&b, NULL);
}

/* ---- user-data -------------------------------------------------------------------- */

/* cairn's three lists, their items at column col (the node's user_data may
 * have its own items of the same list at another one) */
static void put_keys(struct cairn_buf *b, const struct cairn_ci_seed *s, int col)
{
	for (size_t i = 0; i < s->nkeys; i++) {
		cairn_buf_addf(b, "%*s- ", col, "");
		quoted(b, s->keys[i]);
		cairn_buf_addch(b, '\n');
	}
}

static void put_files(struct cairn_buf *b, const struct cairn_ci_seed *s, int col)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct cairn_ci_file *f = &s->files[i];
		size_t n = sodium_base64_encoded_len(f->len, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = xmalloc(n);

		sodium_bin2base64(b64, n, f->content, f->len, sodium_base64_VARIANT_ORIGINAL);
		cairn_buf_addf(b, "%*s- path: ", col, "");
		quoted(b, f->path);
		cairn_buf_addf(b, "\n%*sencoding: b64\n%*scontent: ", col + 2, "", col + 2, "");
		quoted(b, b64);
		if (f->permissions) {
			cairn_buf_addf(b, "\n%*spermissions: ", col + 2, "");
			quoted(b, f->permissions);
		}
		if (f->owner) {
			cairn_buf_addf(b, "\n%*sowner: ", col + 2, "");
			quoted(b, f->owner);
		}
		cairn_buf_addch(b, '\n');
		free(b64);
	}
}

static void put_runcmd(struct cairn_buf *b, const struct cairn_ci_seed *s, int col)
{
	for (size_t i = 0; i < s->nrun; i++) {
		cairn_buf_addf(b, "%*s- ", col, "");
		quoted(b, s->runcmd[i]);
		cairn_buf_addch(b, '\n');
	}
}

static const struct ci_list {
	const char *key;
	void (*put)(struct cairn_buf *b, const struct cairn_ci_seed *s, int col);
} ci_lists[] = {
	{ "ssh_authorized_keys", put_keys },
	{ "write_files", put_files },
	{ "runcmd", put_runcmd },
};

#define NLISTS (sizeof(ci_lists) / sizeof(ci_lists[0]))

/* keys of cairn's the node's user_data may not set, and why */
static const char *const owned_keys[][2] = {
	{ "hostname", "the node's hostname sets it" },
	{ "fqdn", "the node's hostname sets it" },
	{ "disable_root", "cairn logs in as root" },
};

/*
 * One top-level key of the node's user_data: its line (the key at column 0,
 * plain), and the lines up to the next such line, which are its value's.
 * Nothing of YAML is parsed past that: each block is copied as written.
 */
struct ud_block {
	const char *start;          /* the key's line */
	const char *body;           /* the line after it */
	const char *end;            /* the next block's start, or the text's end */
	size_t keylen;
	int line;                   /* of the key, 1-based */
	bool inline_value;          /* more than a comment after the colon */
	int items;                  /* column of a block list's "-"; -1: no value
				     * line yet; -2: the value is no block list */
};

struct ud {
	struct ud_block *v;
	size_t n;
};

static bool blank_or_comment(const char *p, const char *eol)
{
	while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p == eol || *p == '#';
}

static bool is_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-' || c == '.';
}

/* Cut the node's user_data into its top-level blocks; -1 with err set when it
 * is not a #cloud-config block mapping with plain keys. */
static int ud_split(const char *text, struct ud *u, struct cairn_error *err)
{
	const char *p = text, *eol;
	struct ud_block *cur = NULL;
	int line = 1;

	if (!strncmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	if (strncmp(p, "#cloud-config", 13) || (p[13] && !strchr(" \t\r\n", p[13]))) {
		cairn_error_set(err, CAIRN_E_INVALID, "cannot merge user_data: it is not a #cloud-config document");
		cairn_error_hint(err, "start it with a line \"#cloud-config\"; a script can be a configure 'run' step");
		return -1;
	}
	/* at each turn p is on the '\n' that ends the line before */
	for (p += strcspn(p, "\n"); *p; p = eol) {
		p++;
		line++;
		eol = p + strcspn(p, "\n");
		if (blank_or_comment(p, eol))
			continue;
		if (*p == ' ' || (*p == '-' && (p + 1 == eol || p[1] == ' ' || p[1] == '\r'))) {
			const char *q = p;

			if (!cur)
				return cairn_error_set(err, CAIRN_E_INVALID,
						       "cannot merge user_data: line %d is not under a top-level key", line);
			while (*q == ' ')
				q++;
			if (cur->items == -1)
				cur->items = *q == '-' && (q[1] == ' ' || q + 1 == eol || q[1] == '\r') ?
					(int)(q - p) : -2;
			continue;
		}
		if (*p == '\t')
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "cannot merge user_data: line %d is indented with a tab", line);
		if (!strncmp(p, "---", 3) || !strncmp(p, "...", 3) || *p == '%')
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "cannot merge user_data: line %d: document markers and directives are not supported",
					       line);
		{
			const char *q = p, *r;

			while (q < eol && is_key_char((unsigned char)*q))
				q++;
			if (q == p || *q != ':' || (q + 1 < eol && q[1] != ' ' && q[1] != '\t' && q[1] != '\r'))
				return cairn_error_set(err, CAIRN_E_INVALID,
						       "cannot merge user_data: line %d is not a plain top-level key", line);
			for (r = q + 1; r < eol && (*r == ' ' || *r == '\t' || *r == '\r'); r++)
				;
			u->v = xreallocarray(u->v, u->n + 1, sizeof(*u->v));
			cur = &u->v[u->n++];
			*cur = (struct ud_block){ .start = p, .body = *eol ? eol + 1 : eol, .keylen = (size_t)(q - p),
						  .line = line, .inline_value = r < eol && *r != '#', .items = -1 };
			if (u->n > 1)
				u->v[u->n - 2].end = p;
		}
	}
	if (cur)
		cur->end = p;
	return 0;
}

static bool key_is(const struct ud_block *b, const char *key)
{
	return strlen(key) == b->keylen && !strncmp(key, b->start, b->keylen);
}

/* Check the node's user_data blocks against cairn's keys; counts[l]: how many
 * items cairn writes in ci_lists[l]. */
static int ud_check(const struct ud *u, const size_t counts[NLISTS], struct cairn_error *err)
{
	for (size_t i = 0; i < u->n; i++) {
		const struct ud_block *b = &u->v[i];

		for (size_t j = 0; j < i; j++)
			if (u->v[j].keylen == b->keylen && !strncmp(u->v[j].start, b->start, b->keylen))
				return cairn_error_set(err, CAIRN_E_INVALID,
						       "cannot merge user_data: line %d gives '%.*s' again (first on line %d)",
						       b->line, (int)b->keylen, b->start, u->v[j].line);
		for (size_t k = 0; k < sizeof(owned_keys) / sizeof(owned_keys[0]); k++)
			if (key_is(b, owned_keys[k][0])) {
				cairn_error_set(err, CAIRN_E_INVALID,
						"cannot merge user_data: line %d sets '%s', which cairn writes",
						b->line, owned_keys[k][0]);
				cairn_error_hint(err, "%s", owned_keys[k][1]);
				return -1;
			}
		for (size_t l = 0; l < NLISTS; l++) {
			if (!key_is(b, ci_lists[l].key) || !counts[l])
				continue;
			if (b->inline_value || b->items == -2) {
				cairn_error_set(err, CAIRN_E_INVALID,
						"cannot merge user_data: '%s' on line %d is not a block list, so cairn's items cannot join it",
						ci_lists[l].key, b->line);
				cairn_error_hint(err, "write its items as \"- ITEM\" lines under the key");
				return -1;
			}
		}
	}
	return 0;
}

char *cairn_ci_user_data(const struct cairn_ci_seed *s, struct cairn_error *err)
{
	const size_t counts[NLISTS] = { s->nkeys, s->nfiles, s->nrun };
	struct ud u = { 0 };
	struct cairn_buf b;
	bool theirs[NLISTS] = { false };

	if (s->user_data && s->user_data[strspn(s->user_data, " \t\r\n")] &&
	    (ud_split(s->user_data, &u, err) || ud_check(&u, counts, err))) {
		free(u.v);
		return NULL;
	}
	for (size_t i = 0; i < u.n; i++)
		for (size_t l = 0; l < NLISTS; l++)
			theirs[l] |= key_is(&u.v[i], ci_lists[l].key);
	cairn_buf_init(&b, 0);
	cairn_buf_addstr(&b, "#cloud-config\n# written by cairn\nhostname: ");
	quoted(&b, s->hostname);
	cairn_buf_addstr(&b, "\nfqdn: ");
	quoted(&b, s->hostname);
	cairn_buf_addstr(&b, "\ndisable_root: false\n");
	for (size_t l = 0; l < NLISTS; l++)
		if (counts[l] && !theirs[l]) {
			cairn_buf_addf(&b, "%s:\n", ci_lists[l].key);
			ci_lists[l].put(&b, s, 2);
		}
	if (u.n)
		cairn_buf_addstr(&b, "# the node's user_data\n");
	/* each block as written; cairn's items first in the lists they share */
	for (size_t i = 0; i < u.n; i++) {
		const struct ud_block *ub = &u.v[i];

		cairn_buf_add(&b, ub->start, (size_t)(ub->body - ub->start));
		if (ub->body > ub->start && ub->body[-1] != '\n')
			cairn_buf_addch(&b, '\n');
		for (size_t l = 0; l < NLISTS; l++)
			if (key_is(ub, ci_lists[l].key))
				ci_lists[l].put(&b, s, ub->items >= 0 ? ub->items : 2);
		cairn_buf_add(&b, ub->body, (size_t)(ub->end - ub->body));
		if (ub->end > ub->body && ub->end[-1] != '\n')
			cairn_buf_addch(&b, '\n');
	}
	free(u.v);
	return cairn_buf_detach(&b, NULL);
}

/* ---- configure steps ---------------------------------------------------------------- */

/* The ${self.ATTR} a seed can hold: known before the node exists. */
static bool self_known(const char *attr, size_t n)
{
	static const char *const known[] = { "name", "hostname", "address" };

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == n && !strncmp(known[i], attr, n))
			return true;
	return false;
}

/* Does text refer to an observed value of the node itself?  Scans as the
 * engine's resolver does (src/engine/resolve.c): "$${" is a literal. */
static bool text_refers_self(const char *text)
{
	const char *p = text;

	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			p += 3;
		} else if (p[0] == '$' && p[1] == '{') {
			const char *a = p + 2, *end = strchr(a, '}');

			if (!end)
				return false;
			while (*a == ' ' || *a == '\t')
				a++;
			if (!strncmp(a, "self.", 5) && !self_known(a + 5, strcspn(a + 5, " \t}")))
				return true;
			p = end + 1;
		} else {
			p++;
		}
	}
	return false;
}

static bool refers_self(const json_t *v)
{
	const char *key;
	const json_t *e;
	size_t i;

	if (json_is_string(v))
		return text_refers_self(json_string_value(v));
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (refers_self(e))
				return true;
	} else if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, e)
			if (refers_self(e))
				return true;
	}
	return false;
}

/* the length of a user or group name (or number) at s; 0: none */
static size_t owner_name(const char *s)
{
	size_t n = 0;

	while (is_key_char((unsigned char)s[n]))
		n++;
	return *s == '-' || n > 64 ? 0 : n;
}

/* "user" or "user:group" */
static bool owner_ok(const char *s)
{
	size_t n = owner_name(s), g;

	if (!n)
		return false;
	if (!s[n])
		return true;
	g = s[n] == ':' ? owner_name(s + n + 1) : 0;
	return g && !s[n + 1 + g];
}

/* Would cloud-init write this file step as the configurer does? */
static bool file_seedable(const json_t *f)
{
	const char *path = cairn_json_str(f, "path"), *mode = cairn_json_str(f, "mode");
	const json_t *content = json_object_get(f, "content"), *source = json_object_get(f, "source");
	const json_t *owner = json_object_get(f, "owner");
	size_t n;

	if (!json_is_object(f) || !path || path[0] != '/' || (content && source) ||
	    (content && !json_is_string(content)) ||
	    (source && (!json_is_string(source) || !*json_string_value(source))))
		return false;
	if (json_object_get(f, "mode")) {
		if (!mode)
			return false;
		n = strspn(mode, "01234567");
		if (mode[n] || n < 3 || n > 5)
			return false;
	}
	return !owner || (json_is_string(owner) && owner_ok(json_string_value(owner)));
}

/* 1: a file step, 2: a run step, 0: neither (template, ansible) */
static int step_kind(const json_t *step)
{
	const json_t *run = json_object_get(step, "run");

	if (json_object_get(step, "file"))
		return file_seedable(json_object_get(step, "file")) ? 1 : 0;
	return json_is_string(run) && *json_string_value(run) ? 2 : 0;
}

size_t cairn_ci_seed_prefix(const json_t *steps)
{
	size_t n = 0;
	int last = 1;

	for (; n < json_array_size(steps); n++) {
		const json_t *step = json_array_get(steps, n);
		int kind = step_kind(step);

		if (!kind || kind < last || refers_self(step))
			break;
		last = kind;
	}
	return n;
}

void cairn_ci_steps_release(struct cairn_ci_steps *st)
{
	for (size_t i = 0; i < st->nread; i++)
		free(st->read[i]);
	free(st->read);
	free(st->files);
	free(st->runcmd);
	*st = (struct cairn_ci_steps)CAIRN_CI_STEPS_INIT;
}

/* The content of a file step from its source: 0 and *out, 1 when it is
 * larger than cap (the step stays out of the seed), -1 with err set. */
static int read_source(const char *path, size_t cap, char **out, size_t *len, struct cairn_error *err)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error e = CAIRN_ERROR_INIT;
	struct stat sb;

	if (!stat(path, &sb) && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > cap)
		return 1;
	if (cairn_buf_read_file(&b, path, cap, &e)) {
		cairn_buf_release(&b);
		if (e.code == CAIRN_E_INVALID) {        /* it grew past cap while read */
			cairn_error_release(&e);
			return 1;
		}
		/* not "not found": a create reports what retrying will not fix */
		cairn_error_move(err, &e);
		err->code = CAIRN_E_PERMANENT;
		return -1;
	}
	*out = cairn_buf_detach(&b, len);
	return 0;
}

/* Add file step f (seedable) to st: 1 when its content would pass the
 * caps (it stays out, with the steps after it), -1 with err set. */
static int add_file(struct cairn_ci_steps *st, const json_t *f, size_t *total, struct cairn_error *err)
{
	struct cairn_ci_file *cf = &st->files[st->nfiles];
	const json_t *content = json_object_get(f, "content");
	const char *source = cairn_json_str(f, "source");
	size_t cap = CAIRN_CI_FILES_MAX - *total < CAIRN_CI_FILE_MAX ? CAIRN_CI_FILES_MAX - *total :
								      CAIRN_CI_FILE_MAX;
	char *data = NULL;
	int r;

	*cf = (struct cairn_ci_file){ .path = cairn_json_str(f, "path"), .content = "",
				      .permissions = cairn_json_str(f, "mode"), .owner = cairn_json_str(f, "owner") };
	if (content) {
		cf->content = json_string_value(content);
		cf->len = json_string_length(content);
		if (cf->len > cap)
			return 1;
	} else if (source) {
		if ((r = read_source(source, cap, &data, &cf->len, err)))
			return r;
		cf->content = st->read[st->nread++] = data;
	}
	*total += cf->len;
	st->nfiles++;
	return 0;
}

int cairn_ci_steps_read(struct cairn_ci_steps *st, const json_t *steps, size_t n,
			struct cairn_error *err)
{
	size_t total = 0;
	int last = 1, r;

	if (n > json_array_size(steps))
		return cairn_error_set(err, CAIRN_E_INTERNAL, "%zu configure steps asked for, there are %zu",
				       n, json_array_size(steps));
	st->files = xcalloc(n ? n : 1, sizeof(*st->files));
	st->runcmd = xcalloc(n ? n : 1, sizeof(*st->runcmd));
	st->read = xcalloc(n ? n : 1, sizeof(*st->read));
	for (size_t i = 0; i < n; i++) {
		const json_t *step = json_array_get(steps, i), *f = json_object_get(step, "file");
		int kind = step_kind(step);

		if (!kind || kind < last) {
			cairn_error_set(err, CAIRN_E_INTERNAL, "configure step %zu cannot go in a seed", i + 1);
			goto fail;
		}
		last = kind;
		if (kind == 2) {
			st->runcmd[st->nrun++] = json_string_value(json_object_get(step, "run"));
		} else if ((r = add_file(st, f, &total, err)) < 0) {
			cairn_error_context(err, "while reading the source of configure step %zu (file '%s')",
					    i + 1, cairn_json_str(f, "path"));
			if (cairn_json_str(f, "source")[0] != '/')
				cairn_error_hint(err, "a relative source is read from the directory cairn runs in");
			goto fail;
		} else if (r) {
			cairn_info("configure step %zu (file '%s') is too large for a seed: it and the steps after it are left for the configurer",
				   i + 1, cairn_json_str(f, "path"));
			break;
		}
		st->nsteps++;
	}
	return 0;
fail:
	cairn_ci_steps_release(st);
	return -1;
}

/* Run argv; 0 when it exits 0, else its output in the error. */
static int run(const char *const argv[], struct cairn_error *err)
{
	struct cairn_command c = { .argv = argv, .timeout_ms = 120000 };
	struct cairn_buf out;
	int status, ret;

	cairn_buf_init(&out, 4096);
	ret = cairn_command_run(&c, &out, &out, &status, err);
	if (!ret && status) {
		while (out.len && out.s[out.len - 1] == '\n')
			cairn_buf_truncate(&out, out.len - 1);
		ret = cairn_error_set(err, CAIRN_E_PERMANENT, "%s failed: %s", argv[0],
				      out.len ? out.s : "(no message)");
	} else if (ret && err->code == CAIRN_E_NOTFOUND) {
		err->code = CAIRN_E_PERMANENT;
	}
	cairn_buf_release(&out);
	return ret;
}

int cairn_ci_seed_iso(const struct cairn_ci_seed *s, const char *path, struct cairn_error *err)
{
	char dir[] = "/tmp/cairn-seed.XXXXXX";
	char *ud = NULL, *md = NULL, *udp = NULL, *mdp = NULL;
	int ret = -1;

	if (!(ud = cairn_ci_user_data(s, err)))
		return -1;
	if (!mkdtemp(dir)) {
		free(ud);
		return cairn_error_set(err, CAIRN_E_IO, "cannot make a directory for the seed: %s",
				       strerror(errno));
	}
	md = cairn_ci_meta_data(s);
	udp = xasprintf("%s/user-data", dir);
	mdp = xasprintf("%s/meta-data", dir);
	if (!cairn_write_file(udp, ud, err) && !cairn_write_file(mdp, md, err)) {
		const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-output", path,
				       "-volid", "cidata", "-joliet", "-rock", udp, mdp, NULL };

		ret = run(argv, err);
	}
	unlink(udp);
	unlink(mdp);
	rmdir(dir);
	free(ud);
	free(md);
	free(udp);
	free(mdp);
	return ret;
}
