/*
 * cmd-ssh.c - `cairn ssh STACK NODE [-- COMMAND...]`: a shell on a node, or
 * one command, as cairn reaches it (the stack's key, its bastion, the host
 * key pinned when the node was created); `cairn ssh-key STACK`: the stack's
 * public key, to install on machines cairn did not make.
 */
#include "util/common.h"

#include <unistd.h>

#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "ssh/ssh.h"
#include "util/units.h"

static char *join(int argc, char **argv)
{
	struct cairn_buf b;

	cairn_buf_init(&b, 0);
	for (int i = 0; i < argc; i++) {
		if (i)
			cairn_buf_addch(&b, ' ');
		cairn_buf_addstr(&b, argv[i]);
	}
	return cairn_buf_detach(&b, NULL);
}

int cmd_ssh(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_ssh_session *s = NULL;
	struct cairn_store *st;
	char *kek = NULL, *command = NULL;
	int status = cli_operands(cli, argc, argv, 2, INT32_MAX, "ssh needs a stack and a node");
	int code = -1;

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	kek = cli_kek_path(cli);
	if (cairn_engine_ssh_open(st, kek, argv[optind], argv[optind + 1], &s, &err))
		goto out;
	if (optind + 2 < argc) {
		struct cairn_buf o, e;

		command = join(argc - optind - 2, argv + optind + 2);
		cairn_buf_init(&o, 0);
		cairn_buf_init(&e, 0);
		if (!cairn_ssh_run(s, command, NULL, 0, &o, &e, &code, 0, &err)) {
			fwrite(o.s, 1, o.len, stdout);
			fwrite(e.s, 1, e.len, stderr);
		}
		cairn_buf_release(&o);
		cairn_buf_release(&e);
	} else {
		cairn_ssh_shell(s, STDIN_FILENO, STDOUT_FILENO, &code, &err);
	}
	if (!cairn_error_isset(&err))
		status = code < 0 ? CLI_EXIT_FAIL : code;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_ssh_close(s);
	free(kek);
	free(command);
	cairn_error_release(&err);
	return status;
}

int cmd_ssh_key(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_store *st;
	char *kek = NULL, *priv = NULL, *pub = NULL;
	int status = cli_operands(cli, argc, argv, 1, 1, "ssh-key needs a stack");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	kek = cli_kek_path(cli);
	/* a stack not applied yet gets its (empty) place in the state now */
	{
		struct cairn_stack_record rec = { 0 };
		const char *why = NULL;

		if (!cairn_name_valid(argv[optind], &why)) {
			status = cli_fail(cli, CAIRN_E_INVALID, "'%s' is not a stack name: %s", argv[optind],
					  why ? why : "invalid");
			goto out;
		}
		if (cairn_store_stack_ensure(st, argv[optind], &rec, &err))
			goto out;
		cairn_stack_record_release(&rec);
	}
	if (cairn_engine_stack_key(st, kek, argv[optind], true, &priv, &pub, &err))
		goto out;
	printf("%s\n", pub);
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_engine_key_free(priv);
	free(pub);
	free(kek);
	cairn_error_release(&err);
	return status;
}
