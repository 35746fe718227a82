/*
 * password.c - argon2id hashing and constant-cost verification (password.h).
 */
#include "password.h"

#include <string.h>

#include "log.h"

/* libsodium's "interactive" limits (2 passes, 64 MiB): the recommended cost
 * for online logins; each concurrent login holds 64 MiB while hashing. */
#define OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

static char dummy_hash[PASSWORD_HASH_LEN];

int password_init(void)
{
    if (sodium_init() < 0)
        return -1;
    char random_pw[33];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(random_pw, sizeof random_pw, raw, sizeof raw);
    return password_hash(random_pw, strlen(random_pw), dummy_hash);
}

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_LEN])
{
    if (crypto_pwhash_str(out, pw, len, OPS, MEM) != 0) {
        log_error("argon2id", "crypto_pwhash_str failed (out of memory)");
        return -1;
    }
    return 0;
}

int password_verify(const char *stored, const char *pw, size_t len)
{
    if (!stored) {
        /* Same work as a real check; the outcome is irrelevant. */
        volatile int sink = crypto_pwhash_str_verify(dummy_hash, pw, len);
        (void)sink;
        return 0;
    }
    return crypto_pwhash_str_verify(stored, pw, len) == 0;
}
