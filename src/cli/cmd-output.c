#include "util/common.h"

#include "cairn/store.h"
#include "cli/cli.h"

/* A value on one line: compact JSON (strings quoted). */
static char *value_text(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

	if (!s)
		BUG("cannot encode an output value");
	return s;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of an object (borrowed keys); caller frees the array. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
	const char **keys = xcalloc(json_object_size(o) + 1, sizeof(*keys));
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)o, k, v)
		keys[(*n)++] = k;
	qsort(keys, *n, sizeof(*keys), cmp_key);
	return keys;
}

/* The value alone, as `terraform output -raw` would: a string as is, the
 * rest as JSON (pretty when it is a collection). */
static void print_raw(const json_t *v)
{
	if (json_is_string(v)) {
		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
		fputc('\n', stdout);
	} else if (json_is_object(v) || json_is_array(v)) {
		cli_json_print(json_incref((json_t *)v), stdout);
	} else {
		char *s = value_text(v);

		printf("%s\n", s);
		free(s);
	}
}

int cmd_output(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s = { 0 };
	struct cairn_store *st;
	const char *stack, *name = NULL;
	json_t *outputs = NULL;
	int status = cli_operands(cli, argc, argv, 1, 2, "no stack given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	stack = argv[optind];
	if (optind + 1 < argc)
		name = argv[optind + 1];
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (cairn_store_stack_get(st, stack, &s, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' not found in state %s",
					  stack, cli_state_path(cli));
		}
		goto out;
	}
	if (cairn_store_outputs_get(st, stack, &outputs, &err) < 0) {
		/* A stack never applied has no outputs yet. */
		if (err.code != CAIRN_E_NOTFOUND)
			goto out;
		cairn_error_release(&err);
	}
	if (!outputs || json_is_null(outputs)) {
		json_decref(outputs);
		outputs = json_object();
	}
	if (!json_is_object(outputs)) {
		cairn_error_set(&err, CAIRN_E_STATE, "the outputs of stack '%s' are not a JSON object",
				stack);
		goto out;
	}

	if (name) {
		json_t *v = json_object_get(outputs, name);

		if (!v) {
			struct cairn_error e = CAIRN_ERROR_INIT;

			cairn_error_set(&e, CAIRN_E_NOTFOUND, "output '%s' not found in stack '%s'",
					name, stack);
			if (json_object_size(outputs) == 0)
				cairn_error_hint(&e, "the stack has no outputs; they are set by 'cairn apply'");
			status = cli_error(cli, &e, NULL);
			cairn_error_release(&e);
			goto out;
		}
		if (cli->json)
			cli_json_print(json_incref(v), stdout);
		else
			print_raw(v);
	} else if (cli->json) {
		cli_json_print(json_incref(outputs), stdout);
	} else if (json_object_size(outputs) == 0) {
		if (!cli->quiet)
			fprintf(stderr, "cairn: stack '%s' has no outputs\n", stack);
	} else {
		size_t n, width = 0;
		const char **keys = sorted_keys(outputs, &n);

		for (size_t i = 0; i < n; i++)
			if (strlen(keys[i]) > width)
				width = strlen(keys[i]);
		for (size_t i = 0; i < n; i++) {
			char *v = value_text(json_object_get(outputs, keys[i]));

			printf("%-*s = %s\n", (int)width, keys[i], v);
			free(v);
		}
		free(keys);
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(outputs);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}
