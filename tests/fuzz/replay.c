/*
 * replay.c - run the fuzz harness over files, without libFuzzer.
 *
 *   fuzz-replay PATH...
 *
 * Each PATH is a file or a directory (its regular files, in name order, not
 * recursively); each file is one input to LLVMFuzzerTestOneInput().  Used
 * by builds whose compiler has no libFuzzer (gcc), so that the seed corpus
 * and every saved crash still run under that build's sanitizers.  Exits 0
 * when every input ran, 1 when a file could not be read; a crash aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "fuzz-replay: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 65536;
			p = realloc(data, cap);
			if (!p) {
				fprintf(stderr, "fuzz-replay: out of memory reading '%s'\n", path);
				abort();
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "fuzz-replay: cannot read '%s'\n", path);
		fclose(f);
		free(data);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int run_dir(const char *dir, size_t *count)
{
	struct dirent **names;
	int n, failed = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "fuzz-replay: cannot list '%s': %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct stat st;
		char *path;
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;

		path = malloc(len);
		if (!path)
			abort();
		snprintf(path, len, "%s/%s", dir, names[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) < 0)
				failed = 1;
			else
				(*count)++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: fuzz-replay PATH...\n");
		return 2;
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (run_dir(argv[i], &count) < 0)
				failed = 1;
		} else if (run_file(argv[i]) < 0) {
			failed = 1;
		} else {
			count++;
		}
	}
	printf("fuzz-replay: %zu inputs ran\n", count);
	return failed;
}
