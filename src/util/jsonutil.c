#include <sodium.h>

#include "util/common.h"
#include "util/jsonutil.h"

char *cairn_json_canonical(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (!s)
		BUG("json_dumps failed");
	return s;
}

void cairn_hash_bytes(const void *data, size_t len, char out[CAIRN_HASH_LEN])
{
	unsigned char h[16];

	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	memcpy(out, "b2:", 3);
	sodium_bin2hex(out + 3, CAIRN_HASH_LEN - 3, h, sizeof(h));
}

void cairn_json_hash(const json_t *v, char out[CAIRN_HASH_LEN])
{
	char *s = cairn_json_canonical(v);

	cairn_hash_bytes(s, strlen(s), out);
	free(s);
}

const char *cairn_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}
