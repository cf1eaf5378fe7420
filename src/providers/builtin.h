/*
 * builtin.h - the provider types compiled into cairn.
 *
 * Each built-in type is one static table, defined in <type>-schema.c, and
 * exposes exactly that one symbol.  cairn_schema_init() (registry.c)
 * registers them in the order of this list; nothing else refers to them by
 * name.  A new built-in type adds its table here and to registry.c's list.
 *
 * In part 1 a type is its field tables only; the provider vtables
 * (create, read, update, delete...) come with the implementations.
 */
#ifndef CAIRN_PROVIDERS_BUILTIN_H
#define CAIRN_PROVIDERS_BUILTIN_H

#include "cairn/schema.h"

extern const struct cairn_type_schema cairn_libvirt_schema;  /* libvirt-schema.c */
extern const struct cairn_type_schema cairn_lxc_schema;      /* lxc-schema.c */
extern const struct cairn_type_schema cairn_static_schema;   /* static-schema.c */
extern const struct cairn_type_schema cairn_process_schema;  /* process-schema.c */
extern const struct cairn_type_schema cairn_plugin_schema;   /* plugin-schema.c */
extern const struct cairn_type_schema cairn_test_schema;     /* test-schema.c */

#endif
