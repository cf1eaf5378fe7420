/*
 * cairn-provider-test - the fault-injecting provider of the test suite
 * (docs/plugins.md, "The test plugin").
 *
 * It serves nodes, networks and volumes that exist only as records in a
 * directory (provider config `dir`, else the handshake's state_dir), so
 * they outlive the plugin and cairn: crash tests count them afterwards.  It
 * appends every call to DIR/calls.log, and misbehaves as a scenario file
 * (provider config `scenario`) says: latency, retryable and permanent
 * errors, hangs, crashes, lost responses, garbage and oversized lines.  The
 * scenario is looked at again on every call, so a test can change it while
 * cairn runs.
 *
 * The store: DIR/objects.json is a snapshot, DIR/objects.journal the
 * changes since, one JSON line each ({"put": record} or {"del": id}).  Every
 * access holds flock() on DIR/objects.lock, since a plugin killed by cairn
 * and its successor may overlap; each process keeps the objects in memory
 * and reads only what other processes appended since it last looked, so a
 * call costs the same with ten objects or ten thousand.  When the journal
 * outgrows the snapshot it is folded in: a new snapshot written to a
 * temporary file and renamed over, then the journal emptied.  Replaying a
 * journal over a snapshot that already holds it changes nothing, so a crash
 * between the two steps is harmless.  Nothing is fsync()ed: the tests kill
 * processes, not machines.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sdk/plugin.h"
#include "util/xalloc.h"

#define MAX_SCENARIO (1u << 20)
#define COMPACT_MIN (1u << 20)      /* journal bytes before folding is considered */

/* What a call does besides its work. */
enum fault_kind {
	F_NONE, F_RETRYABLE, F_PERMANENT, F_HANG, F_CRASH, F_LOST, F_GARBAGE, F_OVERSIZED,
};

static const char *const fault_names[] = {
	[F_NONE] = "none", [F_RETRYABLE] = "retryable", [F_PERMANENT] = "permanent",
	[F_HANG] = "hang", [F_CRASH] = "crash", [F_LOST] = "lost", [F_GARBAGE] = "garbage",
	[F_OVERSIZED] = "oversized",
};

struct fault {
	enum fault_kind kind;
	bool after;                 /* the effect comes after the work */
	int index;                  /* in the scenario's "faults" */
};

/* File identity, to notice that another process replaced or grew a file. */
struct sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

static struct {
	/* Set by the handshake, read-only afterwards. */
	char *dir, *scenario_path, *stack, *provider;
	char *objects_path, *journal_path, *lock_path, *calls_path, *faults_path;
	unsigned long generation;   /* how many plugin processes started before this one */

	pthread_mutex_t lock;       /* the members below, and the flock */
	int lock_fd;
	json_t *objects;            /* cairn_id -> record */
	struct sig snapshot;
	int journal_fd;             /* O_APPEND */
	off_t journal_off;          /* how much of the journal objects holds */
	bool torn;                  /* the journal ends in a line a dead writer left unfinished */
	off_t snapshot_size;

	json_t *scenario;           /* the parsed scenario, NULL when there is none */
	struct sig scenario_sig;
	bool scenario_seen;         /* scenario_sig is meaningful */
	uint64_t scenario_hash;
	char scenario_error[512];
	json_t *calls;              /* "method cairn_id" -> calls seen by this process */
} t = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.lock_fd = -1,
	.journal_fd = -1,
};

static pid_t self;

static void sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static json_t *now_iso(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[48];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return json_string(buf);
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* A final mix, so that nearby inputs give unrelated outputs (splitmix64). */
static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int get_sig(const char *path, struct sig *s)
{
	struct stat st;

	if (stat(path, &st))
		return -1;
	*s = (struct sig){ st.st_dev, st.st_ino, st.st_size, st.st_mtim };
	return 0;
}

static bool same_sig(const struct sig *a, const struct sig *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Append one JSON value as a line, in one write() so lines never interleave. */
static int append_line(const char *path, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	size_t n;
	int fd, r = -1;

	if (!s)
		return -1;
	n = strlen(s);
	s[n] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		r = write_all(fd, s, n + 1);
		close(fd);
	}
	free(s);
	return r;
}

/* Write a whole file through a temporary one and rename() it into place. */
static int replace_file(const char *path, json_t *v)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)self);
	int r = json_dump_file(v, tmp, JSON_COMPACT);

	if (!r && rename(tmp, path))
		r = -1;
	if (r)
		unlink(tmp);
	free(tmp);
	return r;
}

static int mkdirs(const char *path)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *c = p + 1;; c++) {
		if (*c == '/' || !*c) {
			char was = *c;

			*c = '\0';
			if (mkdir(p, 0700) && errno != EEXIST) {
				r = -1;
				break;
			}
			*c = was;
			if (!was)
				break;
		}
	}
	free(p);
	return r;
}

/* ---- the store ------------------------------------------------------------ */

/* Set up the paths under dir, creating it, and open the lock and the journal. */
static int store_open(const char *dir, struct cairn_sdk_error *err)
{
	char **paths[] = { &t.objects_path, &t.journal_path, &t.lock_path, &t.calls_path,
			   &t.faults_path };

	/* Again after a failure: start from nothing. */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		free(*paths[i]);
		*paths[i] = NULL;
	}
	json_decref(t.calls);
	if (t.lock_fd >= 0)
		close(t.lock_fd);
	if (t.journal_fd >= 0)
		close(t.journal_fd);
	t.lock_fd = t.journal_fd = -1;
	if (mkdirs(dir))
		return cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "cannot create '%s': %s", dir,
				       strerror(errno));
	t.objects_path = xasprintf("%s/objects.json", dir);
	t.journal_path = xasprintf("%s/objects.journal", dir);
	t.lock_path = xasprintf("%s/objects.lock", dir);
	t.calls_path = xasprintf("%s/calls.log", dir);
	t.faults_path = xasprintf("%s/faults.json", dir);
	t.calls = json_object();
	self = getpid();
	t.lock_fd = open(t.lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (t.lock_fd < 0)
		return cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "cannot open '%s': %s", t.lock_path,
				       strerror(errno));
	t.journal_fd = open(t.journal_path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (t.journal_fd < 0)
		return cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "cannot open '%s': %s", t.journal_path,
				       strerror(errno));
	t.dir = xstrdup(dir);
	return 0;
}

/* Take t.lock and the flock. */
static int store_lock(struct cairn_sdk_error *err)
{
	pthread_mutex_lock(&t.lock);
	while (flock(t.lock_fd, LOCK_EX))
		if (errno != EINTR) {
			int e = errno;

			pthread_mutex_unlock(&t.lock);
			return cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot lock '%s': %s",
					       t.lock_path, strerror(e));
		}
	return 0;
}

static void store_unlock(void)
{
	flock(t.lock_fd, LOCK_UN);
	pthread_mutex_unlock(&t.lock);
}

static void apply_change(json_t *change)
{
	json_t *put = json_object_get(change, "put");
	const char *del = json_string_value(json_object_get(change, "del"));
	const char *id = json_string_value(json_object_get(put, "cairn_id"));

	if (id)
		json_object_set(t.objects, id, put);
	else if (del)
		json_object_del(t.objects, del);
}

/*
 * json_load_file() reads with getc(), a locked call per byte: 10,000 objects
 * (2.4 MB) took half a second.  Read the file whole, then parse it.
 */
static json_t *load_json(const char *path, json_error_t *jerr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	json_t *v = NULL;
	char *text;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st)) {
		if (jerr)
			snprintf(jerr->text, sizeof(jerr->text), "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	v = json_loadb(text, got, 0, jerr);
	free(text);
	return v;
}

/* Bring t.objects up to date with the files.  Called under store_lock(). */
static int store_sync(struct cairn_sdk_error *err)
{
	struct sig now = { 0 };
	struct stat st;

	if (get_sig(t.objects_path, &now) && errno != ENOENT)
		return cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot stat '%s': %s", t.objects_path,
				       strerror(errno));
	if (!t.objects || !same_sig(&now, &t.snapshot)) {
		json_t *snap = NULL;

		if (now.ino) {
			json_error_t jerr;

			snap = load_json(t.objects_path, &jerr);
			if (!json_is_object(json_object_get(snap, "objects"))) {
				json_decref(snap);
				return cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "'%s' is damaged: %s",
						       t.objects_path, jerr.text);
			}
		}
		json_decref(t.objects);
		t.objects = snap ? json_incref(json_object_get(snap, "objects")) : json_object();
		json_decref(snap);
		t.snapshot = now;
		t.snapshot_size = now.size;
		t.journal_off = 0;
	}

	if (fstat(t.journal_fd, &st))
		return cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot stat '%s': %s", t.journal_path,
				       strerror(errno));
	if (st.st_size < t.journal_off) {
		/* Folded into a snapshot we somehow did not notice: start over. */
		json_decref(t.objects);
		t.objects = NULL;
		return store_sync(err);
	}
	if (st.st_size > t.journal_off) {
		size_t n = (size_t)(st.st_size - t.journal_off), got = 0;
		char *buf = xmalloc(n + 1), *line, *nl;

		while (got < n) {
			ssize_t r = pread(t.journal_fd, buf + got, n - got, t.journal_off + (off_t)got);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		buf[got] = '\0';
		for (line = buf; (nl = memchr(line, '\n', got - (size_t)(line - buf))); line = nl + 1) {
			json_t *change = json_loadb(line, (size_t)(nl - line), 0, NULL);

			apply_change(change);
			json_decref(change);
		}
		t.journal_off += line - buf;
		/*
		 * Writers append whole lines under the lock we hold: a partial
		 * last line is what a writer killed mid-write left.  The next
		 * write ends it first, and it is skipped as a damaged line.
		 */
		t.torn = (size_t)(line - buf) < got;
		free(buf);
	}
	return 0;
}

/* Fold the journal into a new snapshot.  Called under store_lock(). */
static void store_compact(void)
{
	json_t *snap = json_pack("{sO}", "objects", t.objects);

	if (replace_file(t.objects_path, snap)) {
		cairn_sdk_log("cairn-provider-test: cannot write '%s': %s", t.objects_path, strerror(errno));
		json_decref(snap);
		return;
	}
	json_decref(snap);
	if (ftruncate(t.journal_fd, 0))
		cairn_sdk_log("cairn-provider-test: cannot empty '%s': %s", t.journal_path, strerror(errno));
	t.torn = false;
	get_sig(t.objects_path, &t.snapshot);
	t.snapshot_size = t.snapshot.size;
	t.journal_off = 0;
}

/*
 * Record a change: record is a whole object (put), or NULL to delete id.
 * Called under store_lock(), after store_sync(): the journal ends at
 * t.journal_off (but for a torn line).
 */
static int store_write(const char *id, json_t *record, struct cairn_sdk_error *err)
{
	json_t *change = record ? json_pack("{sO}", "put", record) : json_pack("{ss}", "del", id);
	char *s = json_dumps(change, JSON_COMPACT), *line;
	struct stat st;
	int r;

	line = xasprintf("%s%s\n", t.torn ? "\n" : "", s);
	free(s);
	r = write_all(t.journal_fd, line, strlen(line));
	free(line);
	if (r) {
		int e = errno;

		json_decref(change);
		return cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot write '%s': %s", t.journal_path,
				       strerror(e));
	}
	apply_change(change);
	json_decref(change);
	t.torn = false;
	if (!fstat(t.journal_fd, &st))
		t.journal_off = st.st_size;
	if (t.journal_off > COMPACT_MIN && t.journal_off > t.snapshot_size)
		store_compact();
	return 0;
}

/* ---- the scenario --------------------------------------------------------- */

static bool known_kind(const char *k, enum fault_kind *out)
{
	for (int i = F_RETRYABLE; i <= F_OVERSIZED; i++)
		if (k && !strcmp(k, fault_names[i])) {
			*out = (enum fault_kind)i;
			return true;
		}
	return false;
}

/*
 * Look at the scenario file again; reload it when it changed.  Called under
 * t.lock.  A scenario that does not parse is remembered as an error that
 * every call reports.
 */
static void scenario_refresh(void)
{
	struct sig now;
	char *text = NULL;
	json_t *sc = NULL, *faults;
	json_error_t jerr;
	size_t n = 0;
	FILE *f;

	if (!t.scenario_path)
		return;
	if (get_sig(t.scenario_path, &now)) {
		json_decref(t.scenario);
		t.scenario = NULL;
		t.scenario_seen = false;
		t.scenario_error[0] = '\0';
		return;
	}
	if (t.scenario_seen && same_sig(&now, &t.scenario_sig))
		return;
	t.scenario_seen = true;
	t.scenario_sig = now;
	json_decref(t.scenario);
	t.scenario = NULL;
	t.scenario_error[0] = '\0';

	f = fopen(t.scenario_path, "re");
	if (f) {
		text = xmalloc(MAX_SCENARIO + 1);
		n = fread(text, 1, MAX_SCENARIO, f);
		fclose(f);
	}
	if (!text) {
		snprintf(t.scenario_error, sizeof(t.scenario_error), "cannot read scenario '%s': %s",
			 t.scenario_path, strerror(errno));
		return;
	}
	t.scenario_hash = fnv(FNV_INIT, text, n);
	sc = json_loadb(text, n, 0, &jerr);
	free(text);
	if (!json_is_object(sc)) {
		snprintf(t.scenario_error, sizeof(t.scenario_error), "scenario '%s' line %d: %s",
			 t.scenario_path, jerr.line, sc ? "not an object" : jerr.text);
		json_decref(sc);
		return;
	}
	faults = json_object_get(sc, "faults");
	if (faults && !json_is_array(faults)) {
		snprintf(t.scenario_error, sizeof(t.scenario_error), "scenario '%s': 'faults' must be a list",
			 t.scenario_path);
		json_decref(sc);
		return;
	}
	for (size_t i = 0; i < json_array_size(faults); i++) {
		json_t *fl = json_array_get(faults, i);
		const char *k = json_string_value(json_object_get(fl, "kind"));
		enum fault_kind fk;

		if (!json_is_object(fl) || !known_kind(k, &fk)) {
			snprintf(t.scenario_error, sizeof(t.scenario_error),
				 "scenario '%s': fault %zu: unknown kind '%s'", t.scenario_path, i, k ? k : "");
			json_decref(sc);
			return;
		}
	}
	t.scenario = sc;
}

/*
 * How many matching calls fault i of the scenario whose text hashes to hash
 * has seen, across plugin processes, this one included; stored in
 * DIR/faults.json and started again when the scenario's text changes.
 */
static long long bump_count(int i, uint64_t hash)
{
	struct cairn_sdk_error err;
	json_t *st, *counts;
	char key[16], hex[20];
	const char *was;
	long long n;

	if (store_lock(&err)) {
		cairn_sdk_log("cairn-provider-test: %s", err.message);
		return 1;
	}
	st = json_load_file(t.faults_path, 0, NULL);
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)hash);
	snprintf(key, sizeof(key), "%d", i);
	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	counts = json_object_get(st, "counts");
	was = json_string_value(json_object_get(st, "scenario"));
	if (!json_is_object(counts) || !was || strcmp(hex, was)) {
		counts = json_object();
		json_object_set_new(st, "counts", counts);
		json_object_set_new(st, "scenario", json_string(hex));
	}
	n = json_integer_value(json_object_get(counts, key)) + 1;
	json_object_set_new(counts, key, json_integer(n));
	if (replace_file(t.faults_path, st))
		cairn_sdk_log("cairn-provider-test: cannot write '%s': %s", t.faults_path, strerror(errno));
	json_decref(st);
	store_unlock();
	return n;
}

/*
 * The fault for this call, if any: the first of the scenario's faults whose
 * method and address match, whose "times" is not used up and whose dice
 * roll (seed, plugin generation, fault, method, cairn id, call number) falls
 * under its probability.  Also returns the latency to add.
 */
static int choose_fault(const char *method, const char *address, const char *cairn_id,
			struct fault *out, long long *latency, struct cairn_sdk_error *err)
{
	json_t *sc, *faults;
	long long call;
	uint64_t seed, hash;

	*out = (struct fault){ F_NONE, false, -1 };
	*latency = 0;
	pthread_mutex_lock(&t.lock);
	scenario_refresh();
	if (t.scenario_error[0]) {
		cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "%s", t.scenario_error);
		pthread_mutex_unlock(&t.lock);
		return CAIRN_SDK_ERROR;
	}
	/* Our own reference: another call may load a new scenario meanwhile. */
	sc = json_incref(t.scenario);
	hash = t.scenario_hash;
	{
		char *key = xasprintf("%s %s", method, cairn_id ? cairn_id : "");

		call = json_integer_value(json_object_get(t.calls, key)) + 1;
		json_object_set_new(t.calls, key, json_integer(call));
		free(key);
	}
	pthread_mutex_unlock(&t.lock);
	if (!sc)
		return 0;

	*latency = json_integer_value(json_object_get(sc, "latency_ms"));
	seed = (uint64_t)json_integer_value(json_object_get(sc, "seed"));
	faults = json_object_get(sc, "faults");
	for (size_t i = 0; i < json_array_size(faults); i++) {
		json_t *fl = json_array_get(faults, i);
		const char *m = json_string_value(json_object_get(fl, "method"));
		const char *glob = json_string_value(json_object_get(fl, "match"));
		json_t *prob = json_object_get(fl, "probability");
		json_t *times = json_object_get(fl, "times");
		json_t *after = json_object_get(fl, "after");
		enum fault_kind kind = F_NONE;

		/* The handshake is hit only when named. */
		if (!strcmp(method, "handshake") ? !m || strcmp(m, method)
						 : m && fnmatch(m, method, 0))
			continue;
		if (glob && (!address || fnmatch(glob, address, 0)))
			continue;
		if (json_is_integer(times) && bump_count((int)i, hash) > json_integer_value(times))
			continue;
		if (json_is_number(prob)) {
			uint64_t h = fnv_str(fnv_str(fnv(FNV_INIT, &seed, sizeof(seed)), method), cairn_id);

			h = mix(h ^ mix(t.generation * 0x9e3779b97f4a7c15ull + i * 0x632be59bd9b4e019ull +
					(uint64_t)call));
			if ((double)(h >> 11) / 9007199254740992.0 >= json_number_value(prob))
				continue;
		}
		known_kind(json_string_value(json_object_get(fl, "kind")), &kind);
		out->kind = kind;
		out->index = (int)i;
		/* A lost answer is one whose work was done, unless told otherwise. */
		out->after = json_is_boolean(after) ? json_is_true(after) : kind == F_LOST;
		break;
	}
	json_decref(sc);
	return 0;
}

/* ---- calls ---------------------------------------------------------------- */

static void record_call(const struct cairn_sdk_call *call, const struct fault *f)
{
	json_t *line = json_pack("{so si ss}", "time", now_iso(), "pid", (int)self,
				 "method", call->method);
	const char *keys[] = { "cairn_id", "address", "kind", "stack" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(call->params, keys[i]);

		if (json_is_string(v))
			json_object_set(line, keys[i], v);
	}
	if (json_is_integer(json_object_get(call->params, "attempt")))
		json_object_set(line, "attempt", json_object_get(call->params, "attempt"));
	if (f->kind != F_NONE) {
		json_object_set_new(line, "fault", json_string(fault_names[f->kind]));
		json_object_set_new(line, "after", json_boolean(f->after));
	}
	if (append_line(t.calls_path, line))
		cairn_sdk_log("cairn-provider-test: cannot append to '%s': %s", t.calls_path,
			      strerror(errno));
	json_decref(line);
}

/*
 * Carry out a fault's effect.  Returns the status the call answers with;
 * result and err are set for it.  Never returns for crash.
 */
static int inflict(const struct cairn_sdk_call *call, const struct fault *f, json_t **result,
		   struct cairn_sdk_error *err)
{
	switch (f->kind) {
	case F_RETRYABLE:
	case F_PERMANENT:
		json_decref(*result);
		*result = NULL;
		return cairn_sdk_error(err, f->kind == F_RETRYABLE ? CAIRN_SDK_RETRYABLE : CAIRN_SDK_PERMANENT,
				       "injected %s fault (scenario fault %d) in '%s'", fault_names[f->kind],
				       f->index, call->method);
	case F_CRASH:
		cairn_sdk_log("cairn-provider-test: crashing in '%s' as the scenario says", call->method);
		_exit(3);
	case F_HANG:
		while (!cairn_sdk_stopping(call->sdk))
			sleep_ms(50);
		break;
	case F_GARBAGE: {
		static const char garbage[] = "this is not JSON {\"id\": ";

		cairn_sdk_write_line(call->sdk, garbage, sizeof(garbage) - 1);
		break;
	}
	case F_OVERSIZED: {
		size_t n = CAIRN_SDK_MAX_LINE + 64;
		char *s = xmalloc(n + 1);
		int head = snprintf(s, n, "{\"id\":%" JSON_INTEGER_FORMAT ",\"result\":{\"pad\":\"", call->id);

		memset(s + head, 'x', n - (size_t)head - 3);
		memcpy(s + n - 3, "\"}}", 3);
		cairn_sdk_write_line(call->sdk, s, n);
		free(s);
		break;
	}
	case F_LOST:
	case F_NONE:
		break;
	}
	json_decref(*result);
	*result = NULL;
	return CAIRN_SDK_NOREPLY;
}

typedef int op_fn(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err);

/* Every method: record, wait, maybe misbehave before or after the work. */
static int serve(const struct cairn_sdk_call *call, op_fn *op, json_t **result,
		 struct cairn_sdk_error *err)
{
	const char *address = json_string_value(json_object_get(call->params, "address"));
	const char *cairn_id = json_string_value(json_object_get(call->params, "cairn_id"));
	struct fault f;
	long long latency;
	int status;

	status = choose_fault(call->method, address, cairn_id, &f, &latency, err);
	record_call(call, &f);
	if (status)
		return status;
	sleep_ms(latency);
	if (f.kind != F_NONE && !f.after)
		return inflict(call, &f, result, err);
	status = op(call, result, err);
	if (f.kind != F_NONE)
		status = inflict(call, &f, result, err);
	return status;
}

static const char *const kinds[] = { "node", "network", "volume", NULL };

static int object_params(const struct cairn_sdk_call *call, const char **id, const char **address,
			 const char **kind, struct cairn_sdk_error *err)
{
	*id = cairn_sdk_str(call->params, "cairn_id");
	*address = cairn_sdk_str(call->params, "address");
	*kind = cairn_sdk_str(call->params, "kind");
	if (!*id || !**id)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'cairn_id' must be a non-empty string");
	if (!*address)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'address' must be a string");
	for (size_t i = 0; kinds[i]; i++)
		if (*kind && !strcmp(*kind, kinds[i]))
			return 0;
	return cairn_sdk_error(err, CAIRN_SDK_INVALID, "kind '%s' is not served by the test plugin",
			       *kind ? *kind : "");
}

static json_t *make_observed(const char *id, const char *kind)
{
	uint64_t h = mix(fnv_str(FNV_INIT, id));
	char pid[32], buf[32];
	json_t *o;

	snprintf(pid, sizeof(pid), "t-%.12s", id);
	o = json_pack("{ss ss si so}", "id", pid, "state",
		      !strcmp(kind, "node") ? "running" : !strcmp(kind, "network") ? "active" : "available",
		      "generation", 1, "created_at", now_iso());
	if (!strcmp(kind, "node")) {
		snprintf(buf, sizeof(buf), "10.%u.%u.%u", (unsigned)(h >> 8 & 0xff), (unsigned)(h >> 16 & 0xff),
			 (unsigned)(h >> 24 & 0xfd) + 2);
		json_object_set_new(o, "ip", json_string(buf));
		snprintf(buf, sizeof(buf), "52:54:00:%02x:%02x:%02x", (unsigned)(h >> 32 & 0xff),
			 (unsigned)(h >> 40 & 0xff), (unsigned)(h >> 48 & 0xff));
		json_object_set_new(o, "mac", json_string(buf));
	}
	return o;
}

static int op_create(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err)
{
	const char *id, *address, *kind, *stack = cairn_sdk_str(call->params, "stack");
	json_t *desired = json_object_get(call->params, "desired"), *rec;
	int status;

	if (object_params(call, &id, &address, &kind, err) || store_lock(err))
		return CAIRN_SDK_ERROR;
	status = store_sync(err);
	if (!status && !(rec = json_object_get(t.objects, id))) {
		rec = json_pack("{ss ss ss ss ss so so}", "cairn_id", id, "stack", stack ? stack : t.stack,
				"provider", t.provider, "address", address, "kind", kind,
				"desired", desired ? json_deep_copy(desired) : json_null(),
				"observed", make_observed(id, kind));
		status = store_write(id, rec, err);
		json_decref(rec);
		rec = json_object_get(t.objects, id);
	}
	if (!status)
		*result = json_pack("{sO}", "observed", json_object_get(rec, "observed"));
	store_unlock();
	return status;
}

static int op_read(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err)
{
	const char *id, *address, *kind;
	json_t *rec;
	int status;

	if (object_params(call, &id, &address, &kind, err) || store_lock(err))
		return CAIRN_SDK_ERROR;
	status = store_sync(err);
	rec = status ? NULL : json_object_get(t.objects, id);
	if (rec)
		*result = json_pack("{sO}", "observed", json_object_get(rec, "observed"));
	else if (!status)
		status = cairn_sdk_error(err, CAIRN_SDK_NOTFOUND, "no object with cairn id '%s'", id);
	store_unlock();
	return status;
}

static int op_update(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err)
{
	const char *id, *address, *kind;
	json_t *desired = json_object_get(call->params, "desired"), *rec;
	int status;

	if (object_params(call, &id, &address, &kind, err) || store_lock(err))
		return CAIRN_SDK_ERROR;
	status = store_sync(err);
	rec = status ? NULL : json_object_get(t.objects, id);
	if (rec) {
		json_t *obs;

		rec = json_deep_copy(rec);
		obs = json_object_get(rec, "observed");
		json_object_set_new(rec, "desired", desired ? json_deep_copy(desired) : json_null());
		json_object_set_new(rec, "address", json_string(address));
		json_object_set_new(obs, "generation",
				    json_integer(json_integer_value(json_object_get(obs, "generation")) + 1));
		json_object_set_new(obs, "updated_at", now_iso());
		status = store_write(id, rec, err);
		if (!status)
			*result = json_pack("{sO}", "observed", obs);
		json_decref(rec);
	} else if (!status) {
		status = cairn_sdk_error(err, CAIRN_SDK_NOTFOUND, "no object with cairn id '%s'", id);
	}
	store_unlock();
	return status;
}

static int op_delete(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err)
{
	const char *id, *address, *kind;
	int status;

	if (object_params(call, &id, &address, &kind, err) || store_lock(err))
		return CAIRN_SDK_ERROR;
	status = store_sync(err);
	if (!status && json_object_get(t.objects, id))
		status = store_write(id, NULL, err);
	if (!status)
		*result = json_object();
	store_unlock();
	return status;
}

static int op_list(const struct cairn_sdk_call *call, json_t **result, struct cairn_sdk_error *err)
{
	const char *stack = cairn_sdk_str(call->params, "stack"), *id;
	json_t *objects, *rec;
	int status;

	if (!stack)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'stack' must be a string");
	if (store_lock(err))
		return CAIRN_SDK_ERROR;
	status = store_sync(err);
	objects = json_array();
	if (!status)
		json_object_foreach(t.objects, id, rec) {
			const char *p = cairn_sdk_str(rec, "provider");

			const char *st = cairn_sdk_str(rec, "stack");

			if (!st || strcmp(st, stack) || (p && *t.provider && strcmp(p, t.provider)))
				continue;
			json_array_append_new(objects, json_pack("{sO sO sO sO}",
				"cairn_id", json_object_get(rec, "cairn_id"),
				"address", json_object_get(rec, "address"),
				"kind", json_object_get(rec, "kind"),
				"observed", json_object_get(rec, "observed")));
		}
	store_unlock();
	if (status) {
		json_decref(objects);
		return status;
	}
	*result = json_pack("{so}", "objects", objects);
	return CAIRN_SDK_OK;
}

#define METHOD(name)                                                                          \
	static int do_##name(void *data, const struct cairn_sdk_call *call, json_t **result,   \
			     struct cairn_sdk_error *err)                                      \
	{                                                                                      \
		(void)data;                                                                    \
		return serve(call, op_##name, result, err);                                    \
	}
METHOD(create)
METHOD(read)
METHOD(update)
METHOD(delete)
METHOD(list)

static int op_handshake(const struct cairn_sdk_call *call, json_t **result,
			struct cairn_sdk_error *err)
{
	json_t *protocols;

	(void)call;
	(void)result;
	pthread_mutex_lock(&t.lock);
	protocols = json_object_get(t.scenario, "protocols");
	if (json_is_array(protocols)) {
		bool one = false;
		size_t i;
		json_t *v;

		json_array_foreach(protocols, i, v)
			one = one || json_integer_value(v) == CAIRN_SDK_PROTOCOL;
		if (!one) {
			err->extra = json_pack("{sO}", "protocols", protocols);
			pthread_mutex_unlock(&t.lock);
			return cairn_sdk_error(err, CAIRN_SDK_INVALID,
					       "cairn-provider-test speaks protocol %" JSON_INTEGER_FORMAT ", not %d",
					       json_integer_value(json_array_get(protocols, 0)),
					       CAIRN_SDK_PROTOCOL);
		}
	}
	pthread_mutex_unlock(&t.lock);
	return CAIRN_SDK_OK;
}

static int do_handshake(void *data, const struct cairn_sdk_call *call, json_t **result,
			struct cairn_sdk_error *err)
{
	const json_t *config = json_object_get(call->params, "config");
	const char *dir = cairn_sdk_str(config, "dir");
	const char *scenario = cairn_sdk_str(config, "scenario");
	const char *stack = cairn_sdk_str(call->params, "stack");
	const char *provider = cairn_sdk_str(call->params, "provider");
	json_t *state;
	int status;

	(void)data;
	if (!t.dir) {
		/* Once: a refused handshake may be followed by another. */
		if (!dir)
			dir = cairn_sdk_str(call->params, "state_dir");
		if (!dir || !*dir)
			return cairn_sdk_error(err, CAIRN_SDK_INVALID,
					       "no directory for the objects: set the provider's 'dir' or pass 'state_dir'");
		if (store_open(dir, err))
			return CAIRN_SDK_ERROR;
		t.scenario_path = scenario && *scenario ? xstrdup(scenario) : NULL;
		t.stack = xstrdup(stack ? stack : "");
		t.provider = xstrdup(provider ? provider : "");

		/* This process's generation makes its dice differ from its predecessors'. */
		if (store_lock(err))
			return CAIRN_SDK_ERROR;
		state = json_load_file(t.faults_path, 0, NULL);
		if (!json_is_object(state)) {
			json_decref(state);
			state = json_object();
		}
		t.generation = (unsigned long)json_integer_value(json_object_get(state, "generation")) + 1;
		json_object_set_new(state, "generation", json_integer((json_int_t)t.generation));
		replace_file(t.faults_path, state);
		json_decref(state);
		store_unlock();
	}

	/* The handshake takes no latency, but faults named "handshake". */
	{
		struct fault f;
		long long latency;

		status = choose_fault("handshake", NULL, NULL, &f, &latency, err);
		record_call(call, &f);
		if (status)
			return status;
		if (f.kind != F_NONE && !f.after)
			return inflict(call, &f, result, err);
		status = op_handshake(call, result, err);
		if (f.kind != F_NONE)
			status = inflict(call, &f, result, err);
	}
	return status;
}

static const struct cairn_sdk_plugin plugin = {
	.name = "cairn-provider-test",
	.version = CAIRN_VERSION,
	.types = (const char *const[]){ "test", NULL },
	.kinds = kinds,
	.handshake = do_handshake,
	.create = do_create,
	.read = do_read,
	.update = do_update,
	.delete = do_delete,
	.list = do_list,
};

/*
 * --objects DIR: print the objects the plugin holds in DIR, one JSON record
 * a line ({"cairn_id", "stack", "provider", "address", "kind", "desired",
 * "observed"}), for tests that count orphans and duplicates.
 */
static int dump_objects(const char *dir)
{
	struct cairn_sdk_error err = { "", "", NULL };
	const char *id;
	json_t *rec;
	int status = 0;

	if (store_open(dir, &err) || store_lock(&err)) {
		fprintf(stderr, "cairn-provider-test: %s\n", err.message);
		return 1;
	}
	if (store_sync(&err)) {
		fprintf(stderr, "cairn-provider-test: %s\n", err.message);
		status = 1;
	} else {
		json_object_foreach(t.objects, id, rec) {
			char *line = json_dumps(rec, JSON_COMPACT);

			if (line)
				printf("%s\n", line);
			free(line);
		}
	}
	store_unlock();
	return fflush(stdout) ? 1 : status;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("%s %s (plugin protocol %d)\n", plugin.name, plugin.version, CAIRN_SDK_PROTOCOL);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--objects"))
		return dump_objects(argv[2]);
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--version | --objects DIR]\n"
			"(cairn starts it and talks to it on stdin and stdout)\n", argv[0]);
		return 2;
	}
	return cairn_sdk_run(&plugin, NULL);
}
