/*
 * password.h - argon2id password hashing (libsodium crypto_pwhash_str).
 *
 * Login must take the same time whether or not the user exists, so a failed
 * lookup verifies against a dummy hash made with the same parameters.
 */
#ifndef API_PASSWORD_H
#define API_PASSWORD_H

#include <sodium.h>
#include <stddef.h>

#define PASSWORD_MIN_CHARS 10
#define PASSWORD_MAX_BYTES 1024 /* bounds the hashing input; far above any real password */
#define PASSWORD_HASH_LEN crypto_pwhash_STRBYTES

int password_init(void); /* sodium_init + dummy hash; 0 or -1 */

/* 0, or -1 (out of memory: argon2id allocates its memory cost). */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_LEN]);

/* 1 if pw matches stored; stored NULL means "unknown user": the dummy is
 * verified (same cost) and 0 returned. */
int password_verify(const char *stored, const char *pw, size_t len);

#endif
