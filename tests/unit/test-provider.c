/*
 * Unit tests for the provider layer (src/providers): the driver registry, the
 * dispatch functions, plugin lookup, and the exec driver against the fake
 * plugins of tests/plugins/fake/ (Python scripts, each misbehaving in one
 * way), found through CAIRN_PLUGIN_PATH under $CAIRN_SRCDIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "providers/provider.h"
#include "util/clock.h"

static char *fake_dir;

/* ---- helpers ----------------------------------------------------------------- */

#define OK(call, errp)                                                       \
	do {                                                                 \
		if ((call) < 0)                                              \
			fail_msg("%s failed: %s", #call, (errp)->message);   \
	} while (0)

static void assert_contains(const char *s, const char *sub)
{
	if (!s || !strstr(s, sub))
		fail_msg("'%s' does not contain '%s'", s ? s : "(null)", sub);
}

static struct cairn_provider *open_type(const char *type, const char *config_json,
					struct cairn_error *err)
{
	json_t *config = json_loads(config_json ? config_json : "{}", 0, NULL);
	struct cairn_provider_config cfg = {
		.stack = "demo", .name = "local", .type = type, .config = config,
		.state_dir = NULL,
	};
	struct cairn_provider *p = NULL;

	assert_non_null(config);
	if (cairn_provider_open(&cfg, &p, err) < 0)
		assert_null(p);
	json_decref(config);
	return p;
}

static struct cairn_provider *open_ok(const char *type, const char *config_json)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_type(type, config_json, &err);

	if (!p)
		fail_msg("cannot open provider of type '%s': %s", type, err.message);
	return p;
}

static struct cairn_provider_req req_for(const char *cairn_id, const char *address,
					 const json_t *desired, const json_t *observed)
{
	return (struct cairn_provider_req){
		.stack = "demo", .address = address, .kind = CAIRN_KIND_NODE,
		.cairn_id = cairn_id, .desired = desired, .observed = observed,
	};
}

/* No child of ours is left, running or a zombie. */
static void assert_no_children(void)
{
	pid_t r = waitpid(-1, NULL, WNOHANG);

	if (r != -1 || errno != ECHILD)
		fail_msg("a child process is left behind (waitpid: %d)", (int)r);
}

/* A list call that must work: the plugin is (again) in working order. */
static void assert_list_works(struct cairn_provider *p)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *objects = NULL;

	OK(cairn_provider_list(p, "demo", &objects, &err), &err);
	assert_true(json_is_array(objects));
	json_decref(objects);
}

/* ---- an in-process driver, for the registry and the dispatch layer ------------ */

static int mini_open(const struct cairn_provider_config *cfg, void **priv, struct cairn_error *err)
{
	(void)cfg;
	(void)err;
	*priv = xstrdup("mini");
	return 0;
}

static void mini_close(void *priv)
{
	free(priv);
}

/* Behaviour by cairn id: "ok", "silent" (fails without an error), "noobj"
 * (succeeds without an object), "gone" (not found), "busy" (retryable). */
static int mini_create(void *priv, const struct cairn_provider_req *req, json_t **observed,
		       struct cairn_error *err)
{
	(void)priv;
	if (!strcmp(req->cairn_id, "silent"))
		return -1;
	if (!strcmp(req->cairn_id, "noobj"))
		return 0;
	if (!strcmp(req->cairn_id, "busy"))
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "the world is busy");
	*observed = json_pack("{s:s}", "id", req->cairn_id);
	return 0;
}

static int mini_delete(void *priv, const struct cairn_provider_req *req, struct cairn_error *err)
{
	(void)priv;
	if (!strcmp(req->cairn_id, "gone"))
		return cairn_error_set(err, CAIRN_E_NOTFOUND, "no such thing");
	if (!strcmp(req->cairn_id, "busy"))
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "the world is busy");
	return 0;
}

static int mini_list(void *priv, const char *stack, json_t **objects, struct cairn_error *err)
{
	(void)priv;
	(void)err;
	if (!strcmp(stack, "bad"))
		*objects = json_pack("[{s:s}]", "address", "node.a");
	else
		*objects = json_pack("[{s:s}]", "cairn_id", "c1");
	return 0;
}

static const struct cairn_provider_driver mini_driver = {
	.name = "unit-mini",
	.open = mini_open,
	.close = mini_close,
	.create = mini_create,
	.read = mini_create,
	.delete = mini_delete,
	.list = mini_list,
};

static void test_registry(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider_driver no_create = mini_driver, no_name = mini_driver;
	static struct cairn_provider_driver exec_again;

	(void)state;
	OK(cairn_provider_driver_register(&mini_driver, &err), &err);
	assert_ptr_equal(cairn_provider_driver_lookup("unit-mini"), &mini_driver);

	assert_int_equal(cairn_provider_driver_register(&mini_driver, &err), -1);
	assert_int_equal(err.code, CAIRN_E_EXISTS);
	assert_string_equal(err.message, "provider driver 'unit-mini' is already registered");
	cairn_error_release(&err);

	/* The built-in exec driver is there, and cannot be registered twice. */
	assert_non_null(cairn_provider_driver_lookup("exec"));
	exec_again = *cairn_provider_driver_lookup("exec");
	assert_int_equal(cairn_provider_driver_register(&exec_again, &err), -1);
	assert_int_equal(err.code, CAIRN_E_EXISTS);
	cairn_error_release(&err);

	no_create.name = "unit-incomplete";
	no_create.create = NULL;
	assert_int_equal(cairn_provider_driver_register(&no_create, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	assert_string_equal(err.message, "cannot register provider driver 'unit-incomplete': it has no 'create' operation");
	cairn_error_release(&err);
	assert_null(cairn_provider_driver_lookup("unit-incomplete"));

	no_create.create = mini_create;
	no_create.list = NULL;
	assert_int_equal(cairn_provider_driver_register(&no_create, &err), -1);
	assert_string_equal(err.message, "cannot register provider driver 'unit-incomplete': it has no 'list' operation");
	cairn_error_release(&err);

	no_name.name = NULL;
	assert_int_equal(cairn_provider_driver_register(&no_name, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	cairn_error_release(&err);

	/* A type with no driver resolves to a plugin, or to nothing. */
	assert_ptr_equal(cairn_provider_driver_lookup("fake-mem"), cairn_provider_driver_lookup("exec"));
	assert_null(cairn_provider_driver_lookup("no-such-type"));
	assert_null(cairn_provider_driver_lookup(""));
	assert_null(cairn_provider_driver_lookup(NULL));
}

static void test_dispatch(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p;
	json_t *desired = json_pack("{s:i}", "cpus", 2), *observed = NULL, *objects = NULL;
	struct cairn_provider_req req;

	(void)state;
	if (!cairn_provider_driver_lookup("unit-mini"))
		OK(cairn_provider_driver_register(&mini_driver, &err), &err);
	p = open_ok("unit-mini", NULL);
	assert_string_equal(cairn_provider_name(p), "local");
	assert_false(cairn_provider_can_update(p));

	req = req_for("ok", "node.web[2]", desired, NULL);
	OK(cairn_provider_create(p, &req, &observed, &err), &err);
	assert_string_equal(json_string_value(json_object_get(observed, "id")), "ok");
	json_decref(observed);

	/* No update slot: unsupported, uniformly, with context. */
	assert_int_equal(cairn_provider_update(p, &req, &observed, &err), -1);
	assert_null(observed);
	assert_int_equal(err.code, CAIRN_E_UNSUPPORTED);
	assert_string_equal(err.message, "provider 'local' of type 'unit-mini' cannot change a resource in place");
	assert_string_equal(err.context, "while updating node.web[2] with provider 'local'");
	cairn_error_release(&err);

	/* A driver's error gets one line of context. */
	req = req_for("busy", "node.web[2]", desired, NULL);
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_RETRYABLE);
	assert_string_equal(err.message, "the world is busy");
	assert_string_equal(err.context, "while creating node.web[2] with provider 'local'");
	cairn_error_release(&err);
	assert_int_equal(cairn_provider_delete(p, &req, &err), -1);
	assert_string_equal(err.context, "while deleting node.web[2] with provider 'local'");
	cairn_error_release(&err);

	/* A failure without an error, a success without an object. */
	req = req_for("silent", "node.a", desired, NULL);
	assert_int_equal(cairn_provider_read(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INTERNAL);
	assert_string_equal(err.message, "provider 'local' failed 'read' without saying why");
	assert_string_equal(err.context, "while reading node.a with provider 'local'");
	cairn_error_release(&err);
	req = req_for("noobj", "node.a", desired, NULL);
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_null(observed);
	cairn_error_release(&err);

	/* Deleting what is gone is success. */
	req = req_for("gone", "node.a", NULL, NULL);
	OK(cairn_provider_delete(p, &req, &err), &err);
	assert_false(cairn_error_isset(&err));

	/* Arguments are checked before the driver sees them. */
	req = req_for("", "node.a", desired, NULL);
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INTERNAL);
	assert_string_equal(err.message, "provider call 'create' without the cairn id");
	cairn_error_release(&err);
	req = req_for("ok", "node.a", NULL, NULL);
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_string_equal(err.message, "provider call 'create' without the desired object");
	cairn_error_release(&err);

	/* What list hands back is checked. */
	OK(cairn_provider_list(p, "demo", &objects, &err), &err);
	assert_int_equal(json_array_size(objects), 1);
	json_decref(objects);
	assert_int_equal(cairn_provider_list(p, "bad", &objects, &err), -1);
	assert_null(objects);
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_string_equal(err.message, "provider 'local' answered 'list' with a list element without a string 'cairn_id'");
	cairn_error_release(&err);

	cairn_provider_close(p);
	cairn_provider_close(NULL);

	/* An unknown type. */
	assert_null(open_type("no-such-type", NULL, &err));
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	assert_string_equal(err.message, "no provider of type 'no-such-type': no driver and no plugin 'cairn-provider-no-such-type'");
	cairn_error_release(&err);
	json_decref(desired);
}

static void test_plugin_find(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *path = cairn_plugin_find("fake-mem"), *want, *tmp;
	const char *tmpdir = getenv("TMPDIR");
	int fd;

	(void)state;
	want = xasprintf("%s/cairn-provider-fake-mem", fake_dir);
	assert_non_null(path);
	assert_string_equal(path, want);
	free(path);

	assert_null(cairn_plugin_find("no-such-type"));
	assert_null(cairn_plugin_find("../fake/cairn-provider-fake-mem"));
	assert_null(cairn_plugin_find("Fake-Mem"));
	assert_null(cairn_plugin_find(""));

	/* A registered path wins over the search path, and can be forgotten. */
	OK(cairn_plugin_set_path("fake-mem", "/opt/elsewhere/plugin", &err), &err);
	path = cairn_plugin_find("fake-mem");
	assert_string_equal(path, "/opt/elsewhere/plugin");
	free(path);
	OK(cairn_plugin_set_path("fake-mem", NULL, &err), &err);
	path = cairn_plugin_find("fake-mem");
	assert_string_equal(path, want);
	free(path);
	free(want);
	assert_int_equal(cairn_plugin_set_path("../etc", "/bin/sh", &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	cairn_error_release(&err);

	/* A registered file that cannot be run: a permanent error at open. */
	tmp = xasprintf("%s/cairn-test-provider-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a program\n", 14), 14);
	close(fd);
	chmod(tmp, 0644);
	OK(cairn_plugin_set_path("unit-noexec", tmp, &err), &err);
	assert_null(open_type("unit-noexec", NULL, &err));
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_contains(err.message, "cannot run plugin '");
	assert_contains(err.message, "Permission denied");
	assert_string_equal(err.context, "while opening provider 'local' of type 'unit-noexec'");
	cairn_error_release(&err);
	OK(cairn_plugin_set_path("unit-noexec", NULL, &err), &err);
	unlink(tmp);
	free(tmp);
	assert_no_children();
}

/* ---- the exec driver against the fake plugins --------------------------------- */

static void test_crud_cycle(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_ok("fake-mem", NULL);
	json_t *desired = json_pack("{s:s, s:i}", "command", "sleep 100", "cpus", 1);
	json_t *desired2 = json_pack("{s:s, s:i}", "command", "sleep 100", "cpus", 2);
	json_t *observed = NULL, *again = NULL, *objects = NULL;
	struct cairn_provider_req req = req_for("7d1c7c0e-2b7e-4e8f-9a51-6c9b7f1e0001", "node.web[0]",
						desired, NULL);

	(void)state;
	assert_true(cairn_provider_can_update(p));

	OK(cairn_provider_create(p, &req, &observed, &err), &err);
	assert_string_equal(json_string_value(json_object_get(observed, "state")), "running");
	assert_true(json_equal(json_object_get(observed, "desired"), desired));

	/* Idempotent: the same cairn id gives the same object. */
	OK(cairn_provider_create(p, &req, &again, &err), &err);
	assert_true(json_equal(observed, again));
	json_decref(again);

	req.observed = observed;
	OK(cairn_provider_read(p, &req, &again, &err), &err);
	assert_true(json_equal(observed, again));
	json_decref(again);

	req.desired = desired2;
	OK(cairn_provider_update(p, &req, &again, &err), &err);
	assert_true(json_equal(json_object_get(again, "desired"), desired2));
	assert_true(json_is_true(json_object_get(again, "updated")));
	json_decref(observed);
	observed = again;
	req.observed = observed;

	OK(cairn_provider_list(p, "demo", &objects, &err), &err);
	assert_int_equal(json_array_size(objects), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(objects, 0), "cairn_id")),
			    "7d1c7c0e-2b7e-4e8f-9a51-6c9b7f1e0001");
	assert_string_equal(json_string_value(json_object_get(json_array_get(objects, 0), "address")),
			    "node.web[0]");
	json_decref(objects);
	OK(cairn_provider_list(p, "other-stack", &objects, &err), &err);
	assert_int_equal(json_array_size(objects), 0);
	json_decref(objects);

	OK(cairn_provider_delete(p, &req, &err), &err);
	assert_int_equal(cairn_provider_read(p, &req, &again, &err), -1);
	assert_null(again);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	assert_string_equal(err.message, "no object with cairn id '7d1c7c0e-2b7e-4e8f-9a51-6c9b7f1e0001'");
	assert_string_equal(err.context, "while reading node.web[0] with provider 'local'");
	cairn_error_release(&err);
	/* The plugin answers notfound; the caller sees success. */
	OK(cairn_provider_delete(p, &req, &err), &err);
	req.desired = desired;
	assert_int_equal(cairn_provider_update(p, &req, &again, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);

	cairn_provider_close(p);
	json_decref(observed);
	json_decref(desired);
	json_decref(desired2);
	assert_no_children();

	/* A plugin that says it offers no update is never sent one. */
	p = open_ok("fake-mem", "{\"args\": [\"--no-update\"]}");
	assert_false(cairn_provider_can_update(p));
	req = req_for("c2", "node.x", desired2 = json_object(), NULL);
	assert_int_equal(cairn_provider_update(p, &req, &again, &err), -1);
	assert_int_equal(err.code, CAIRN_E_UNSUPPORTED);
	assert_string_equal(err.message, "provider 'local' of type 'fake-mem' cannot change a resource in place");
	cairn_error_release(&err);
	json_decref(desired2);
	cairn_provider_close(p);
	assert_no_children();
}

struct worker {
	struct cairn_provider *p;
	int n;          /* which thread */
	int calls;      /* how many it made */
	int failures;
	char failure[512];
};

#define THREADS 8
#define CALLS_PER_THREAD 50

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < CALLS_PER_THREAD; i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		char id[64], address[64];
		json_t *desired = json_pack("{s:i, s:i}", "thread", w->n, "call", i), *observed = NULL;
		struct cairn_provider_req req;
		int ret;

		snprintf(id, sizeof(id), "id-%d-%d", w->n, i);
		snprintf(address, sizeof(address), "node.n%d[%d]", w->n, i);
		req = req_for(id, address, desired, NULL);
		ret = i % 2 ? cairn_provider_create(w->p, &req, &observed, &err)
			    : (cairn_provider_create(w->p, &req, &observed, &err) < 0
				       ? -1
				       : (json_decref(observed), observed = NULL,
					  cairn_provider_read(w->p, &req, &observed, &err)));
		w->calls++;
		if (ret < 0 || !json_equal(json_object_get(observed, "desired"), desired)) {
			if (!w->failures++)
				snprintf(w->failure, sizeof(w->failure), "%s: %s", id,
					 ret < 0 ? err.message : "the answer of another call");
		}
		cairn_error_release(&err);
		json_decref(observed);
		json_decref(desired);
	}
	return NULL;
}

static void test_concurrent_out_of_order(void **state)
{
	struct cairn_provider *p = open_ok("fake-shuffle", NULL);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *objects = NULL;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .p = p, .n = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].calls, CALLS_PER_THREAD);
		if (w[i].failures)
			fail_msg("thread %d: %d failures, first %s", i, w[i].failures, w[i].failure);
	}
	OK(cairn_provider_list(p, "demo", &objects, &err), &err);
	assert_int_equal(json_array_size(objects), THREADS * CALLS_PER_THREAD);
	json_decref(objects);
	cairn_provider_close(p);
	assert_no_children();
}

static void test_handshake_mismatch(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	assert_null(open_type("fake-version", NULL, &err));
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-version' speaks protocol 2, 3, cairn speaks 1");
	assert_string_equal(err.context, "while opening provider 'local' of type 'fake-version'");
	cairn_error_release(&err);

	assert_null(open_type("fake-version", "{\"args\": [\"--result\"]}", &err));
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-version' speaks protocol 2, cairn speaks 1");
	cairn_error_release(&err);
	assert_no_children();
}

static void test_crash(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_ok("fake-crash", NULL);
	json_t *desired = json_object(), *observed = NULL;
	struct cairn_provider_req req = req_for("c1", "node.web[2]", desired, NULL);

	(void)state;
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_null(observed);
	assert_int_equal(err.code, CAIRN_E_RETRYABLE);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-crash' exited with status 3; its stderr ends: fake-crash: handling create of node.web[2] | fake-crash: out of cheese");
	assert_string_equal(err.context, "while creating node.web[2] with provider 'local'");
	cairn_error_release(&err);

	/* A new process serves the next call. */
	assert_list_works(p);
	assert_int_equal(cairn_provider_read(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);
	cairn_provider_close(p);
	json_decref(desired);
	assert_no_children();
}

struct crasher {
	struct cairn_provider *p;
	int n, failures, unexpected;
	char unexpected_msg[512];
};

static void *crasher_main(void *arg)
{
	struct crasher *c = arg;

	for (int i = 0; i < 4; i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		char id[32];
		json_t *desired = json_object(), *observed = NULL;
		struct cairn_provider_req req;

		snprintf(id, sizeof(id), "crash-%d-%d", c->n, i);
		req = req_for(id, "node.crash", desired, NULL);
		if (cairn_provider_create(c->p, &req, &observed, &err) < 0) {
			c->failures++;
			/* its own crash, or (under load) the crashes of the others'
			 * calls twice before its own was sent: both retryable */
			if ((err.code != CAIRN_E_RETRYABLE ||
			     (!strstr(err.message, "exited with status 3") &&
			      !strstr(err.message, "keeps stopping before calls reach it"))) &&
			    !c->unexpected++)
				snprintf(c->unexpected_msg, sizeof(c->unexpected_msg), "%s", err.message);
		}
		cairn_error_release(&err);
		json_decref(observed);
		json_decref(desired);
	}
	return NULL;
}

/* Several threads crash it at once, again and again: every call fails with
 * the exit status, none hangs, and it still works afterwards. */
static void test_crash_concurrent(void **state)
{
	struct cairn_provider *p = open_ok("fake-crash", "{\"timeout\": 20000}");
	struct crasher c[4];
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		c[i] = (struct crasher){ .p = p, .n = i };
		assert_int_equal(pthread_create(&t[i], NULL, crasher_main, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].failures, 4);
		if (c[i].unexpected)
			fail_msg("thread %d: unexpected error: %s", i, c[i].unexpected_msg);
	}
	assert_list_works(p);
	cairn_provider_close(p);
	assert_no_children();
}

/* A plugin that stopped reading: the write fails with EPIPE, and SIGPIPE
 * (default disposition here) must not kill us. */
static void test_deaf_plugin(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_ok("fake-crash", "{\"args\": [\"--deaf\"], \"timeout\": 5000}");
	void (*old)(int) = signal(SIGPIPE, SIG_DFL);
	json_t *objects = NULL;

	(void)state;
	usleep(100 * 1000);     /* time to close its stdin */
	assert_int_equal(cairn_provider_list(p, "demo", &objects, &err), -1);
	assert_int_equal(err.code, CAIRN_E_RETRYABLE);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-crash' was killed by SIGTERM");
	cairn_error_release(&err);
	cairn_provider_close(p);
	signal(SIGPIPE, old);
	assert_no_children();
}

static void test_hang(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_ok("fake-hang", "{\"timeout\": 300}");
	json_t *desired = json_object(), *observed = NULL;
	struct cairn_provider_req req = req_for("h1", "node.web[2]", desired, NULL);
	int64_t t0 = cairn_now_ms(), took;

	(void)state;
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	took = cairn_now_ms() - t0;
	assert_int_equal(err.code, CAIRN_E_RETRYABLE);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-hang' did not answer 'create' within 300ms");
	if (took < 300 || took > 1000)
		fail_msg("the call took %lld ms for a timeout of 300 ms", (long long)took);
	cairn_error_release(&err);

	/* The hung process is stopped; the next call runs on a new one. */
	assert_list_works(p);
	cairn_provider_close(p);
	assert_no_children();

	/* One that ignores SIGTERM is killed all the same. */
	p = open_ok("fake-hang", "{\"timeout\": 300, \"args\": [\"--stubborn\"]}");
	t0 = cairn_now_ms();
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_RETRYABLE);
	assert_true(cairn_now_ms() - t0 < 1000);
	cairn_error_release(&err);
	assert_list_works(p);
	cairn_provider_close(p);    /* waits for the SIGKILL */
	assert_no_children();
	json_decref(desired);
}

static void garbage_case(struct cairn_provider *p, const char *kind, enum cairn_errcode code,
			 const char *message)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *desired = json_pack("{s:s}", "garbage", kind), *observed = NULL;
	struct cairn_provider_req req = req_for("g1", "node.web[2]", desired, NULL);

	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_null(observed);
	assert_int_equal(err.code, code);
	assert_string_equal(err.message, message);
	assert_string_equal(err.context, "while creating node.web[2] with provider 'local'");
	cairn_error_release(&err);
	assert_list_works(p);
	json_decref(desired);
}

static void test_garbage(void **state)
{
	struct cairn_provider *p = open_ok("fake-garbage", "{\"timeout\": 5000}");

	(void)state;
	garbage_case(p, "text", CAIRN_E_PERMANENT,
		     "plugin 'cairn-provider-fake-garbage' wrote a line that is not a JSON object: 'this is not json, it is a plugin having a bad day'");
	garbage_case(p, "unknown-id", CAIRN_E_PERMANENT,
		     "plugin 'cairn-provider-fake-garbage' answered request 999999, which is not waiting for an answer");
	garbage_case(p, "both", CAIRN_E_PERMANENT,
		     "plugin 'cairn-provider-fake-garbage' answered 'create' with both of 'result' and 'error'");
	garbage_case(p, "noid", CAIRN_E_PERMANENT,
		     "plugin 'cairn-provider-fake-garbage' wrote an answer without an integer 'id'");
	garbage_case(p, "no-observed", CAIRN_E_PERMANENT,
		     "plugin 'cairn-provider-fake-garbage' answered 'create' without an 'observed' object");
	cairn_provider_close(p);
	assert_no_children();
}

static void test_oversized(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = open_ok("fake-huge", "{\"timeout\": 10000}");
	json_t *desired = json_object(), *observed = NULL;
	struct cairn_provider_req req = req_for("o1", "node.big", desired, NULL);

	(void)state;
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_string_equal(err.message, "plugin 'cairn-provider-fake-huge' wrote a line longer than 4 MiB");
	cairn_error_release(&err);
	assert_list_works(p);

	/* cairn's own requests are held to the same limit. */
	json_decref(desired);
	desired = json_object();
	{
		char *big = xmalloc((5u << 20) + 1);

		memset(big, 'y', 5u << 20);
		big[5u << 20] = '\0';
		json_object_set_new(desired, "blob", json_string(big));
		free(big);
	}
	req.desired = desired;
	assert_int_equal(cairn_provider_create(p, &req, &observed, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	assert_string_equal(err.message, "the 'create' request to plugin 'cairn-provider-fake-huge' is longer than the 4 MiB a protocol line may hold");
	cairn_error_release(&err);
	assert_list_works(p);
	json_decref(desired);
	cairn_provider_close(p);
	assert_no_children();
}

static void test_no_zombies(void **state)
{
	(void)state;
	assert_no_children();
}

int main(void)
{
	const char *srcdir = getenv("CAIRN_SRCDIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_plugin_find),
		cmocka_unit_test(test_crud_cycle),
		cmocka_unit_test(test_concurrent_out_of_order),
		cmocka_unit_test(test_handshake_mismatch),
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_crash_concurrent),
		cmocka_unit_test(test_deaf_plugin),
		cmocka_unit_test(test_hang),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_no_zombies),
	};
	int ret;

	fake_dir = xasprintf("%s/tests/plugins/fake", srcdir && *srcdir ? srcdir : ".");
	setenv("CAIRN_PLUGIN_PATH", fake_dir, 1);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	free(fake_dir);
	return ret;
}
