/*
 * fuzz-spec.c - libFuzzer harness for the stack loader and what reads its
 * model.
 *
 * Each input is a stack file ("fuzz.yml").  It goes through the whole path a
 * `cairn validate` / `cairn plan` / `cairn graph` run takes, in process:
 *
 *   cairn_spec_load_string  -> model, or diagnostics
 *   diagnostics             -> sorted, rendered as text and as JSON
 *   model                   -> plan against an empty state, its human view,
 *                              its JSON and that JSON read back; the DOT graph
 *
 * Every output goes to /dev/null: the point is that nothing crashes, trips
 * ASan/UBSan or leaks (LeakSanitizer checks after every input).
 *
 * Includes in an input are read relative to the current directory, and an
 * input may name any path the process can read (read-only).  Run the fuzzer
 * from a scratch directory (tests/fuzz/run-fuzz.sh does); stdin is replaced
 * by /dev/null so that "include: -" cannot block.
 *
 * Built with -fsanitize=fuzzer under clang; under gcc, replay.c provides a
 * main() that feeds the seed corpus to LLVMFuzzerTestOneInput().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cairn/diag.h"
#include "cairn/error.h"
#include "cairn/plan.h"
#include "cairn/spec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);
const char *__ubsan_default_options(void);

#define FUZZ_MAX_BYTES (1u << 20)
/* A 20-byte range ("lb[0-99999]") makes 100,000 nodes, whose plan, render
 * and JSON round trip take seconds under ASan: linear work, but a libFuzzer
 * timeout.  The limit itself is what is exercised here; large stacks are
 * the benchmarks' business (bench/plan-scale). */
#define FUZZ_MAX_RESOURCES 2000

/*
 * One known leak is not cairn's: libfyaml 0.7.12 (Debian 12) loses the
 * chunk array of its atom iterator when it outgrows the inline slots, which
 * fy_token_get_text() on a single-quoted scalar with five '' escapes in a
 * row does (512 bytes; fixed upstream, see libfyaml issue #337).  It is
 * suppressed by the libfyaml function that makes the allocation, which only
 * the slow unwinder can see through libfyaml (built without frame pointers):
 * hence fast_unwind_on_malloc=0, with allocation stacks of 8 frames (the
 * suppressed frame is the fifth; 16 frames would cost two thirds of the
 * executions).  Any other leak, including one of a libfyaml object cairn
 * forgets to free, is still reported.  ASAN_OPTIONS / LSAN_OPTIONS override
 * these options.
 */
__attribute__((used)) const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0:malloc_context_size=8";
}

__attribute__((used)) const char *__lsan_default_suppressions(void)
{
	return "leak:fy_atom_format_text\n";
}

/* Undefined behaviour is a finding too, not a warning to scroll past. */
__attribute__((used)) const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull) {
		perror("fuzz-spec: /dev/null");
		abort();
	}
	if (!freopen("/dev/null", "r", stdin)) {
		perror("fuzz-spec: stdin");
		abort();
	}
	return 0;
}

static void exercise_plan(const struct cairn_model *m)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_plan *p = NULL, *back = NULL;
	char *summary;
	json_t *j;

	cairn_graph_dot(m, devnull);
	if (cairn_plan_build(m, NULL, 0, NULL, 0, &p, &err) < 0) {
		/* An empty state cannot be inconsistent. */
		fprintf(stderr, "fuzz-spec: plan against an empty state failed: %s\n",
			err.message ? err.message : "(no message)");
		abort();
	}
	cairn_plan_render(p, devnull, true, true);
	summary = cairn_plan_summary(p);
	free(summary);
	j = cairn_plan_to_json(p);
	if (!j)
		abort();
	if (cairn_plan_from_json(j, &back, &err) < 0) {
		/* Our own output must read back. */
		fprintf(stderr, "fuzz-spec: plan JSON does not read back: %s\n",
			err.message ? err.message : "(no message)");
		abort();
	}
	cairn_plan_render(back, devnull, false, true);
	cairn_plan_free(back);
	json_decref(j);
	cairn_plan_free(p);
	cairn_error_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cairn_spec_options opt = {
		.no_env = true, .max_bytes = FUZZ_MAX_BYTES, .max_resources = FUZZ_MAX_RESOURCES,
	};
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_diags diags = CAIRN_DIAGS_INIT;
	struct cairn_model *m = NULL;
	json_t *dj;
	int r;

	if (!devnull)
		LLVMFuzzerInitialize(NULL, NULL);

	r = cairn_spec_load_string("fuzz.yml", (const char *)data, size, &opt,
				   &sources, &diags, &m);
	if ((r == 0) != (m != NULL) || (r < 0 && diags.nerrors == 0)) {
		fprintf(stderr, "fuzz-spec: cairn_spec_load_string returned %d with model %p and %zu errors\n",
			r, (void *)m, diags.nerrors);
		abort();
	}

	cairn_diags_sort(&diags, &sources);
	cairn_diags_print(&diags, &sources, devnull, true);
	dj = cairn_diags_to_json(&diags);
	json_decref(dj);

	if (m)
		exercise_plan(m);

	cairn_model_free(m);
	cairn_diags_release(&diags);
	cairn_sources_release(&sources);
	return 0;
}
