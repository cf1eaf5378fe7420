/*
 * image.h - what a node boots: the images of a stack resolved to files.
 *
 * An image is one of (docs/stack.md, "Images"):
 *   {"disk": PATH}                              a disk image, qcow2 or raw
 *   {"kernel": PATH, "initrd": PATH, "cmdline": TEXT}   direct kernel boot
 *   {"builtin": "tiny"}                         built by `cairn image build`
 * A builtin image lives in cairn's image directory, one subdirectory per
 * image holding vmlinuz, initrd.img and cmdline (scripts/build-tiny-image.sh).
 */
#ifndef CAIRN_PROVIDERS_IMAGE_H
#define CAIRN_PROVIDERS_IMAGE_H

#include <jansson.h>

#include "cairn/error.h"

/* The builtin images cairn knows how to build. */
extern const char *const cairn_builtin_images[];

/* Where builtin images are kept: $CAIRN_IMAGE_DIR, else
 * $XDG_DATA_HOME/cairn/images, else ~/.local/share/cairn/images.
 * Caller frees. */
char *cairn_image_dir(void);

struct cairn_image {
	char *name;                 /* the stack's name for it, or NULL */
	char *disk;                 /* a disk image, or NULL */
	char *kernel, *initrd;      /* direct boot, or NULL */
	char *cmdline;              /* may be NULL */
};

/*
 * Resolve an image as the design holds it (desired "image" of a node) to
 * files, and check each is a readable regular file: CAIRN_E_PERMANENT
 * naming the file otherwise (with a hint to build a builtin one).
 */
int cairn_image_resolve(const json_t *image, struct cairn_image *out, struct cairn_error *err);
void cairn_image_release(struct cairn_image *img);

#endif
