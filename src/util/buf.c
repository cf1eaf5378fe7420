#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/xalloc.h"

char cairn_buf_empty[1];

void cairn_buf_init(struct cairn_buf *b, size_t max)
{
	*b = (struct cairn_buf)CAIRN_BUF_INIT;
	b->max = max;
}

void cairn_buf_release(struct cairn_buf *b)
{
	size_t max = b->max;

	if (b->alloc)
		free(b->s);
	cairn_buf_init(b, max);
}

char *cairn_buf_detach(struct cairn_buf *b, size_t *len)
{
	char *s = b->alloc ? b->s : xstrdup("");

	if (len)
		*len = b->len;
	cairn_buf_init(b, b->max);
	return s;
}

void cairn_buf_reset(struct cairn_buf *b)
{
	cairn_buf_truncate(b, 0);
}

void cairn_buf_truncate(struct cairn_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->s[len] = '\0';
}

static int grow(struct cairn_buf *b, size_t extra)
{
	size_t want;

	if (extra > ((size_t)-1) / 2 - b->len)
		return -1;
	if (b->max && b->len + extra > b->max)
		return -1;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (!b->alloc) {
		b->s = NULL;
	}
	if (want < b->alloc * 3 / 2)
		want = b->alloc * 3 / 2;
	if (want < 64)
		want = 64;
	b->s = xrealloc(b->s, want);
	if (!b->alloc)
		b->s[0] = '\0';
	b->alloc = want;
	return 0;
}

int cairn_buf_add(struct cairn_buf *b, const void *data, size_t n)
{
	if (grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int cairn_buf_addstr(struct cairn_buf *b, const char *s)
{
	return cairn_buf_add(b, s, strlen(s));
}

int cairn_buf_addch(struct cairn_buf *b, int c)
{
	char ch = (char)c;

	return cairn_buf_add(b, &ch, 1);
}

int cairn_buf_vaddf(struct cairn_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || grow(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int cairn_buf_addf(struct cairn_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cairn_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return r;
}

int cairn_buf_read_file(struct cairn_buf *b, const char *path, size_t max,
			struct cairn_error *err)
{
	char chunk[65536];
	struct stat st;
	int fd, close_fd = 1;
	ssize_t n;

	if (!strcmp(path, "-")) {
		fd = STDIN_FILENO;
		close_fd = 0;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return cairn_error_set(err, errno == ENOENT ? CAIRN_E_NOTFOUND : CAIRN_E_IO,
				       "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			if (close_fd)
				close(fd);
			return cairn_error_set(err, CAIRN_E_IO,
					       "cannot read '%s': is a directory", path);
		}
		if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
			if (close_fd)
				close(fd);
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "'%s' is too large (%lld bytes; the limit is %zu)",
					       path, (long long)st.st_size, max);
		}
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			if (close_fd)
				close(fd);
			return cairn_error_set(err, CAIRN_E_IO, "cannot read '%s': %s",
					       path, strerror(e));
		}
		if (n == 0)
			break;
		if (b->len + (size_t)n > max || cairn_buf_add(b, chunk, (size_t)n) < 0) {
			if (close_fd)
				close(fd);
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "'%s' is too large (the limit is %zu bytes)",
					       path, max);
		}
	}
	if (close_fd)
		close(fd);
	return 0;
}

int cairn_buf_add_sh_quoted(struct cairn_buf *b, const char *s)
{
	int r = cairn_buf_addch(b, '\'');

	for (; *s && !r; s++)
		r = *s == '\'' ? cairn_buf_addstr(b, "'\\''") : cairn_buf_addch(b, *s);
	return r ? r : cairn_buf_addch(b, '\'');
}
