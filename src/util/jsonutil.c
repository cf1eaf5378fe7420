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

static int feed_hash(const char *buf, size_t size, void *data)
{
	crypto_generichash_update(data, (const unsigned char *)buf, size);
	return 0;
}

/* The same bytes as hashing cairn_json_canonical(v), streamed into the hash
 * instead of built as one string: planning hashes every resource. */
void cairn_json_hash(const json_t *v, char out[CAIRN_HASH_LEN])
{
	crypto_generichash_state st;
	unsigned char h[16];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	if (json_dump_callback(v, feed_hash, &st, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY))
		BUG("json_dump_callback failed");
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, "b2:", 3);
	sodium_bin2hex(out + 3, CAIRN_HASH_LEN - 3, h, sizeof(h));
}

const char *cairn_json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}
