/*
 * configure.c - a node's configure steps, run over SSH after the node is
 * created and again when a step changes (docs/internals/configure.md).
 *
 * Each step is first reduced to what it does: the command of a run step;
 * the path, mode, owner and bytes of a file (a template rendered); the
 * playbook of an ansible step with its variables.  That is hashed.  A step
 * that succeeded leaves a fact "step.N" on the node ({kind, hash, status,
 * exit, output, ms, cairn_id, at}); next time a step whose hash and cairn id
 * match is skipped, so a second configure does nothing and a changed step
 * runs only where it changed.  A replaced node has a new cairn id and runs
 * everything again.
 *
 * Steps a provider put in the node's cloud-init seed (observed
 * "seeded_steps") ran at first boot: they are recorded as "seeded", after
 * a look at what cloud-init reported (/run/cloud-init/result.json), and
 * are not run again unless they change.
 *
 * One SSH session per node carries all its steps, through the node's
 * bastion; steps run in order and the first failure stops the node.  What
 * went wrong stays in the step's fact and in the node's observed
 * "configured" ({status, steps, failed_step, error, at}), which the planner
 * reads: a node whose configuration did not finish is planned for an
 * update that runs it again.
 */
#include "util/common.h"

#include <sodium.h>
#include <time.h>

#include "engine/engine-priv.h"
#include "ssh/ssh.h"
#include "util/clock.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("engine.configure");

#define MAX_FILE ((size_t)64 << 20)         /* a file or template source */
#define OUTPUT_MAX ((size_t)1 << 20)        /* output kept while a step runs */
#define OUTPUT_TAIL 8192                    /* output kept in the fact */
#define STEP_TIMEOUT_MS (30 * 60 * 1000)    /* one step */
#define SEED_WAIT_S 300                     /* for cloud-init's result */

struct step {
	int index;
	const char *kind;                   /* "run", "file", "template", "ansible" */
	char hash[CAIRN_HASH_LEN];
	char *command;                      /* run */
	char *path, *mode, *owner;          /* file, template */
	struct cairn_buf content;           /* file, template */
	json_t *ansible;                    /* ansible: the step, resolved */
	char *error;                        /* could not be prepared: why */
	char *source;                       /* the local file it read (absolute), or NULL */
	char source_hash[CAIRN_HASH_LEN];   /* of that file's bytes */
};

static void step_release(struct step *s)
{
	free(s->source);
	free(s->command);
	free(s->path);
	free(s->mode);
	free(s->owner);
	cairn_buf_release(&s->content);
	json_decref(s->ansible);
	free(s->error);
}

static json_t *resolved(const struct eng_refs *refs, const json_t *v,
			const struct cairn_resource_record *self)
{
	json_t *out;

	if (refs->mu)
		pthread_mutex_lock(refs->mu);
	out = cairn_engine_resolve_with(v, refs->lookup, refs->ctx, self);
	if (refs->mu)
		pthread_mutex_unlock(refs->mu);
	return out;
}

static int render(const struct eng_refs *refs, const struct cairn_buf *text,
		  const struct cairn_resource_record *self, struct cairn_buf *out,
		  struct cairn_error *err)
{
	int ret;

	if (refs->mu)
		pthread_mutex_lock(refs->mu);
	ret = cairn_engine_render(text->s, text->len, refs->lookup, refs->ctx, self, refs->vars, out, err);
	if (refs->mu)
		pthread_mutex_unlock(refs->mu);
	return ret;
}

/* The hash of what a step does: its kind and a JSON of its effect. */
static void hash_step(struct step *s, json_t *what)
{
	json_t *o = json_pack("{s:s, s:o}", "kind", s->kind, "what", what);

	cairn_json_hash(o, s->hash);
	json_decref(o);
}

static void file_hash(struct step *s)
{
	char content[CAIRN_HASH_LEN];

	cairn_hash_bytes(s->content.s, s->content.len, content);
	hash_step(s, json_pack("{s:s, s:s, s:s?, s:s}", "path", s->path, "mode", s->mode,
			       "owner", s->owner, "content", content));
}

/* The local file a step read, for the planner to notice when it changes
 * (cairn_engine_check_sources()). */
static void remember_source(struct step *s, const char *path, const struct cairn_buf *bytes)
{
	free(s->source);
	s->source = xstrdup(path);
	cairn_hash_bytes(bytes->s, bytes->len, s->source_hash);
}

/* Reduce step i (as written) of node self to what it does. */
static void prepare(const struct eng *e, const struct eng_refs *refs,
		    const struct cairn_resource_record *self, const json_t *written, int i,
		    struct step *s)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *step = resolved(refs, written, self), *body;
	const char *kind;
	void *iter = json_object_iter(step);

	memset(s, 0, sizeof(*s));
	s->index = i;
	cairn_buf_init(&s->content, MAX_FILE);
	kind = iter ? json_object_iter_key(iter) : "";
	body = iter ? json_object_iter_value(iter) : NULL;
	if (!strcmp(kind, "run")) {
		s->kind = "run";
		s->command = xstrdup(json_string_value(body) ? json_string_value(body) : "");
		hash_step(s, json_string(s->command));
	} else if (!strcmp(kind, "file") || !strcmp(kind, "template")) {
		char *source = eng_path(e, cairn_json_str(body, "source"));

		s->kind = !strcmp(kind, "file") ? "file" : "template";
		s->path = xstrdup(cairn_json_str(body, "path") ? cairn_json_str(body, "path") : "");
		s->mode = xstrdup(cairn_json_str(body, "mode") ? cairn_json_str(body, "mode") : "0644");
		s->owner = cairn_json_str(body, "owner") ? xstrdup(cairn_json_str(body, "owner")) : NULL;
		if (source && s->kind[0] == 't') {
			struct cairn_buf text = CAIRN_BUF_INIT;

			if (!cairn_buf_read_file(&text, source, MAX_FILE, &err)) {
				remember_source(s, source, &text);
				render(refs, &text, self, &s->content, &err);
			}
			if (cairn_error_isset(&err))
				s->error = xasprintf("template '%s': %s", source, err.message);
			cairn_buf_release(&text);
		} else if (source) {
			if (cairn_buf_read_file(&s->content, source, MAX_FILE, &err))
				s->error = xstrdup(err.message);
			else
				remember_source(s, source, &s->content);
		} else {
			cairn_buf_addstr(&s->content, cairn_json_str(body, "content") ?
						      cairn_json_str(body, "content") : "");
		}
		if (!s->error)
			file_hash(s);
		free(source);
	} else if (!strcmp(kind, "ansible")) {
		char *playbook = eng_path(e, cairn_json_str(body, "playbook"));
		struct cairn_buf text = CAIRN_BUF_INIT;
		char h[CAIRN_HASH_LEN];

		s->kind = "ansible";
		s->ansible = json_deep_copy(body);
		if (playbook)
			json_object_set_new(s->ansible, "playbook", json_string(playbook));
		if (!playbook || cairn_buf_read_file(&text, playbook, MAX_FILE, &err)) {
			s->error = xasprintf("playbook: %s", playbook ? err.message : "none given");
		} else {
			remember_source(s, playbook, &text);
			cairn_hash_bytes(text.s, text.len, h);
			hash_step(s, json_pack("{s:O, s:s}", "step", body, "playbook", h));
		}
		cairn_buf_release(&text);
		free(playbook);
	} else {
		s->kind = "unknown";
		s->error = xasprintf("step %d is not run, file, template or ansible", i + 1);
	}
	if (s->error)
		hash_step(s, json_string(s->error));
	cairn_error_release(&err);
	json_decref(step);
}

/* ---- running one step over SSH -------------------------------------------------- */

static void keep_tail(struct cairn_buf *out, const struct cairn_buf *from)
{
	size_t skip = from->len > OUTPUT_TAIL ? from->len - OUTPUT_TAIL : 0;

	cairn_buf_add(out, from->s + skip, from->len - skip);
}

/* Run command on s with input; 0 when it ran (whatever its exit status). */
static int run_command(struct cairn_ssh_session *s, const char *command, const void *in, size_t in_len,
		       struct cairn_buf *output, int *exit_status, struct cairn_error *err)
{
	struct cairn_buf out, errout;
	int ret;

	cairn_buf_init(&out, OUTPUT_MAX);
	cairn_buf_init(&errout, OUTPUT_MAX);
	ret = cairn_ssh_run(s, command, in, in_len, &out, &errout, exit_status, STEP_TIMEOUT_MS, err);
	keep_tail(output, &out);
	if (out.len && errout.len && output->s[output->len - 1] != '\n')
		cairn_buf_addch(output, '\n');
	keep_tail(output, &errout);
	cairn_buf_release(&out);
	cairn_buf_release(&errout);
	return ret;
}

/*
 * A file: written to a temporary file beside it and renamed into place, so
 * that a reader sees the old file or the new one, never half of one; its
 * directory is made when missing, as cloud-init's write_files does.  One
 * command, the content on its standard input.
 */
static int put_file(struct cairn_ssh_session *s, const struct step *st, struct cairn_buf *output,
		    int *exit_status, struct cairn_error *err)
{
	struct cairn_buf cmd = CAIRN_BUF_INIT;
	int ret;

	cairn_buf_addstr(&cmd, "set -e; p=");
	cairn_buf_add_sh_quoted(&cmd, st->path);
	cairn_buf_addstr(&cmd, "; d=$(dirname -- \"$p\"); mkdir -p -- \"$d\"; t=\"$d/.cairn.$$\";"
			       " trap 'rm -f -- \"$t\"' EXIT; (umask 077; cat > \"$t\"); chmod ");
	cairn_buf_add_sh_quoted(&cmd, st->mode);
	cairn_buf_addstr(&cmd, " \"$t\"; ");
	if (st->owner) {
		cairn_buf_addstr(&cmd, "chown ");
		cairn_buf_add_sh_quoted(&cmd, st->owner);
		cairn_buf_addstr(&cmd, " \"$t\"; ");
	}
	cairn_buf_addstr(&cmd, "mv -f -- \"$t\" \"$p\"");
	ret = run_command(s, cmd.s, st->content.s, st->content.len, output, exit_status, err);
	cairn_buf_release(&cmd);
	return ret;
}

/* ---- the node ------------------------------------------------------------------- */

struct node_run {
	struct eng *e;
	struct cairn_resource_record *rec;
	const struct cairn_resource_record *bastion;
	struct cairn_ssh_session *ssh;
	json_t *facts;                      /* "step.N" -> value, as stored */
};

static void emit_step(struct eng *e, const char *address, const struct step *s, const char *status,
		      int64_t ms, const char *error)
{
	json_t *ev;

	if (!e->opts->event)
		return;
	ev = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "event", "step", "address", address,
		       "op", "configure", "index", s->index, "kind", s->kind, "status", status);
	json_object_set_new(ev, "elapsed_ms", json_integer(ms));
	if (error)
		json_object_set_new(ev, "error", json_string(error));
	eng_emit(e, ev);
	json_decref(ev);
}

static int put_fact(struct eng *e, const char *address, const char *name, const json_t *value,
		    struct cairn_error *err)
{
	int ret;

	pthread_mutex_lock(&e->store_mu);
	ret = cairn_store_fact_put(e->st, e->stack, address, name, value, err);
	pthread_mutex_unlock(&e->store_mu);
	return ret;
}

static int record_step(struct node_run *nr, const struct step *s, const char *status, int exit_status,
		       const char *output, int64_t ms, struct cairn_error *err)
{
	char name[32], now[21];
	json_t *v;
	int ret;

	snprintf(name, sizeof(name), "step.%d", s->index);
	cairn_timestamp(now);
	v = json_pack("{s:s, s:s, s:s, s:i, s:s?, s:I, s:s?, s:s}", "kind", s->kind, "hash", s->hash,
		      "status", status, "exit", exit_status, "output", output, "ms", (json_int_t)ms,
		      "cairn_id", nr->rec->cairn_id, "at", now);
	ret = put_fact(nr->e, nr->rec->address, name, v, err);
	json_decref(v);
	return ret;
}

static bool done_before(const struct node_run *nr, const struct step *s)
{
	char name[32];
	const json_t *f;
	const char *status;

	snprintf(name, sizeof(name), "step.%d", s->index);
	f = json_object_get(nr->facts, name);
	status = cairn_json_str(f, "status");
	return f && status && (!strcmp(status, "ok") || !strcmp(status, "seeded")) &&
	       !strcmp(cairn_json_str(f, "hash") ? cairn_json_str(f, "hash") : "", s->hash) &&
	       nr->rec->cairn_id && cairn_json_str(f, "cairn_id") &&
	       !strcmp(cairn_json_str(f, "cairn_id"), nr->rec->cairn_id);
}

/* whether step s of this node (this cairn id) left a fact, whatever its outcome */
static bool recorded(const struct node_run *nr, const struct step *s)
{
	char name[32];
	const char *id;

	snprintf(name, sizeof(name), "step.%d", s->index);
	id = cairn_json_str(json_object_get(nr->facts, name), "cairn_id");
	return id && nr->rec->cairn_id && !strcmp(id, nr->rec->cairn_id);
}

/*
 * The node's session, made on first use.  A connection that fails in a way
 * worth retrying (refused, dropped during the key exchange: a bastion's
 * sshd sheds connections past its MaxStartups when many nodes are
 * configured at once) is tried again, up to CONNECT_ATTEMPTS times with a
 * back-off.
 */
#define CONNECT_ATTEMPTS 5
static int open_session(struct node_run *nr, struct cairn_error *err)
{
	int64_t backoff = 200;

	if (nr->ssh)
		return 0;
	for (int attempt = 1;; attempt++) {
		nr->ssh = eng_ssh_connect(nr->e, nr->rec, nr->bastion, err);
		if (nr->ssh || err->code != CAIRN_E_RETRYABLE || attempt == CONNECT_ATTEMPTS)
			break;
		cairn_debug("%s: connecting again in %lld ms: %s", nr->rec->address, (long long)backoff,
			    err->message);
		cairn_error_release(err);
		{
			int64_t ms = backoff / 2 + (int64_t)randombytes_uniform((uint32_t)backoff / 2 + 1);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		if (backoff < 3200)
			backoff *= 2;
	}
	if (!nr->ssh)
		return -1;
	/* first contact: the key it showed is pinned from now on */
	if (!cairn_json_str(nr->rec->observed, "host_key"))
		json_object_set_new(nr->rec->observed, "host_key", json_string(cairn_ssh_host_key(nr->ssh)));
	return 0;
}

/*
 * What cloud-init made of the seeded steps: NULL when they went well (or
 * nothing says otherwise), else the errors it reported.
 */
static char *seed_errors(struct node_run *nr, struct cairn_error *err)
{
	struct cairn_buf out = CAIRN_BUF_INIT;
	json_t *result, *errors;
	char *why = NULL, cmd[256];
	int status = -1;

	snprintf(cmd, sizeof(cmd),
		 "i=0; while [ ! -e /run/cloud-init/result.json ] && [ $i -lt %d ]; do sleep 1;"
		 " i=$((i+1)); done; cat /run/cloud-init/result.json 2>/dev/null", SEED_WAIT_S);
	if (open_session(nr, err) || run_command(nr->ssh, cmd, NULL, 0, &out, &status, err)) {
		why = xasprintf("cannot read cloud-init's result: %s", err->message);
		cairn_error_release(err);
		cairn_buf_release(&out);
		return why;
	}
	result = json_loadb(out.s, out.len, 0, NULL);
	errors = json_object_get(json_object_get(result, "v1"), "errors");
	if (json_array_size(errors)) {
		struct cairn_buf b = CAIRN_BUF_INIT;
		size_t i;
		json_t *e;

		json_array_foreach(errors, i, e)
			cairn_buf_addf(&b, "%s%s", i ? "; " : "", json_is_string(e) ? json_string_value(e) : "?");
		why = xasprintf("cloud-init reported: %s", b.s);
		cairn_buf_release(&b);
	}
	json_decref(result);
	cairn_buf_release(&out);
	return why;
}

/* Run one step that must run; 0 when it succeeded. */
static int run_step(struct node_run *nr, struct step *s, struct cairn_error *err)
{
	struct cairn_buf output = CAIRN_BUF_INIT;
	int64_t t0 = cairn_now_ms();
	int exit_status = -1, ret;

	if (s->error) {
		ret = cairn_error_set(err, CAIRN_E_PERMANENT, "%s", s->error);
	} else if (!strcmp(s->kind, "ansible")) {
		ret = eng_ansible_step(nr->e, nr->rec, nr->bastion, s->ansible, &output, &exit_status, err);
	} else if (open_session(nr, err)) {
		ret = -1;
	} else if (!strcmp(s->kind, "run")) {
		ret = run_command(nr->ssh, s->command, NULL, 0, &output, &exit_status, err);
	} else {
		ret = put_file(nr->ssh, s, &output, &exit_status, err);
	}
	if (!ret && exit_status != 0) {
		/* the message ends with the last line of output, which usually says why */
		size_t end = output.len, start;

		while (end && (output.s[end - 1] == '\n' || output.s[end - 1] == '\r'))
			end--;
		for (start = end; start && output.s[start - 1] != '\n'; start--)
			;
		ret = cairn_error_set(err, CAIRN_E_PERMANENT, "step %d (%s) exited with status %d%s%.*s",
				      s->index + 1, s->kind, exit_status, end > start ? ": " : "",
				      (int)(end - start), output.s + start);
	} else if (ret) {
		cairn_error_context(err, "step %d (%s)", s->index + 1, s->kind);
	}
	{
		struct cairn_error ferr = CAIRN_ERROR_INIT;

		if (record_step(nr, s, ret ? "failed" : "ok", exit_status,
				ret && !output.len ? err->message : output.s, cairn_now_ms() - t0, &ferr)) {
			cairn_warn("%s: cannot record step %d: %s", nr->rec->address, s->index + 1, ferr.message);
			cairn_error_release(&ferr);
		}
	}
	emit_step(nr->e, nr->rec->address, s, ret ? "failed" : "ok", cairn_now_ms() - t0,
		  ret ? err->message : NULL);
	cairn_buf_release(&output);
	return ret;
}

static void set_configured(struct cairn_resource_record *rec, const struct step *steps, size_t nsteps,
			   int failed_step, const char *error)
{
	json_t *sources = json_object();
	char now[21];
	json_t *c;

	for (size_t i = 0; i < nsteps; i++)
		if (steps[i].source)
			json_object_set_new(sources, steps[i].source, json_string(steps[i].source_hash));
	cairn_timestamp(now);
	c = json_pack("{s:s, s:I, s:s}", "status", error ? "failed" : "ok", "steps", (json_int_t)nsteps,
		      "at", now);
	if (json_object_size(sources))
		json_object_set(c, "sources", sources);
	json_decref(sources);
	if (error) {
		json_object_set_new(c, "failed_step", json_integer(failed_step + 1));
		json_object_set_new(c, "error", json_string(error));
	}
	json_object_set_new(rec->observed, "configured", c);
}

int eng_configure(struct eng *e, struct cairn_resource_record *rec,
		  const struct cairn_resource_record *bastion, const struct eng_refs *refs,
		  struct eng_configure_stats *stats, struct cairn_error *err)
{
	const json_t *written = json_object_get(rec->desired, "configure");
	size_t n = json_array_size(written);
	json_int_t seeded = json_integer_value(json_object_get(rec->observed, "seeded_steps"));
	struct node_run nr = { .e = e, .rec = rec, .bastion = bastion };
	struct step *steps = xcalloc(n ? n : 1, sizeof(*steps));
	struct cairn_resource_record self = *rec;
	json_t *rows = NULL, *row;
	char *seed_err = NULL;
	bool seed_checked = false;
	int failed = -1, ret = 0;
	size_t i;

	if (!rec->observed)
		rec->observed = json_object();
	self.observed = rec->observed;
	/* what was done before */
	pthread_mutex_lock(&e->store_mu);
	ret = cairn_store_fact_list(e->st, e->stack, rec->address, "step.", &rows, err);
	pthread_mutex_unlock(&e->store_mu);
	if (ret)
		goto out;
	nr.facts = json_object();
	json_array_foreach(rows, i, row)
		json_object_set(nr.facts, cairn_json_str(row, "name"), json_object_get(row, "value"));

	for (i = 0; i < n; i++)
		prepare(e, refs, &self, json_array_get(written, i), (int)i, &steps[i]);
	for (i = 0; i < n && !ret; i++) {
		struct step *s = &steps[i];

		if (!e->opts->force_steps && done_before(&nr, s)) {
			if (stats)
				stats->skipped++;
			emit_step(e, rec->address, s, "skipped", 0, NULL);
			continue;
		}
		if ((json_int_t)i < seeded && !s->error && !recorded(&nr, s) && !e->opts->force_steps) {
			/* never recorded: it ran at first boot, from the seed;
			 * cloud-init says how that went (asked once) */
			if (!seed_checked) {
				seed_err = seed_errors(&nr, err);
				seed_checked = true;
			}
			if (seed_err) {
				record_step(&nr, s, "failed", -1, seed_err, 0, err);
				cairn_error_release(err);
				ret = cairn_error_set(err, CAIRN_E_PERMANENT,
						      "step %d (%s), from the seed: %s", s->index + 1,
						      s->kind, seed_err);
				emit_step(e, rec->address, s, "failed", 0, err->message);
				failed = (int)i;
				if (stats)
					stats->failed++;
				break;
			}
			if (record_step(&nr, s, "seeded", 0, NULL, 0, err)) {
				ret = -1;
				break;
			}
			if (stats)
				stats->seeded++;
			emit_step(e, rec->address, s, "seeded", 0, NULL);
			continue;
		}
		if (stats)
			stats->ran++;
		if (run_step(&nr, s, err)) {
			failed = (int)i;
			ret = -1;
			if (stats)
				stats->failed++;
		}
	}
	/* steps beyond the list are forgotten */
	if (!ret) {
		pthread_mutex_lock(&e->store_mu);
		json_array_foreach(rows, i, row) {
			const char *name = cairn_json_str(row, "name");

			if (name && strtol(name + 5, NULL, 10) >= (long)n &&
			    cairn_store_fact_delete(e->st, e->stack, rec->address, name, err)) {
				ret = -1;
				break;
			}
		}
		pthread_mutex_unlock(&e->store_mu);
	}
	if (n)
		set_configured(rec, steps, n, failed, ret ? err->message : NULL);
	else
		json_object_del(rec->observed, "configured");
out:
	for (i = 0; i < n; i++)
		step_release(&steps[i]);
	free(steps);
	free(seed_err);
	json_decref(rows);
	json_decref(nr.facts);
	cairn_ssh_close(nr.ssh);
	return ret;
}

int cairn_engine_check_sources(struct cairn_resource_record *recs, size_t n)
{
	/* path -> its hash now, or null when unreadable: nodes of one
	 * declaration share their files, each is read once */
	json_t *now = json_object();
	int changed = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *c = json_object_get(recs[i].observed, "configured");
		const char *path, *status = cairn_json_str(c, "status");
		json_t *h;

		if (!status || strcmp(status, "ok"))
			continue;
		json_object_foreach(json_object_get(c, "sources"), path, h) {
			json_t *cur = json_object_get(now, path);

			if (!cur) {
				struct cairn_buf bytes = CAIRN_BUF_INIT;
				char hash[CAIRN_HASH_LEN];

				if (cairn_buf_read_file(&bytes, path, MAX_FILE, NULL)) {
					cur = json_null();
				} else {
					cairn_hash_bytes(bytes.s, bytes.len, hash);
					cur = json_string(hash);
				}
				cairn_buf_release(&bytes);
				json_object_set_new(now, path, cur);
			}
			if (json_equal(cur, h))
				continue;
			json_object_set_new(c, "status", json_string("changed"));
			json_object_set_new(c, "error", json_sprintf("'%s' changed since it was last applied", path));
			changed++;
			break;
		}
	}
	json_decref(now);
	return changed;
}
