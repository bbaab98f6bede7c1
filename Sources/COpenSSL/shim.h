#ifndef PUSHY_COPENSSL_SHIM_H
#define PUSHY_COPENSSL_SHIM_H
/* SHA256_Init/Update/Final (below) are deprecated in OpenSSL 3.0 but kept; see pushy_hmac_sha256. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#include <openssl/x509.h>

/* Thin helpers around OpenSSL 3's non-deprecated EVP API, so Swift only sees
   plain pointer + length calls. Each returns 1 on success and 0 on failure,
   and clears OpenSSL's per-thread error queue on failure. */

/* Parse a DER RSA private key (PKCS#1 or PKCS#8). Caller frees with EVP_PKEY_free. */
static inline EVP_PKEY *pushy_rsa_private_key_from_der(const unsigned char *der, long length) {
    const unsigned char *cursor = der;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &cursor, length);
    if (key == NULL) { ERR_clear_error(); return NULL; }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) { EVP_PKEY_free(key); return NULL; }
    return key;
}

/* Parse a DER SubjectPublicKeyInfo RSA public key. Caller frees with EVP_PKEY_free. */
static inline EVP_PKEY *pushy_rsa_public_key_from_der(const unsigned char *der, long length) {
    const unsigned char *cursor = der;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &cursor, length);
    if (key == NULL) { ERR_clear_error(); return NULL; }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) { EVP_PKEY_free(key); return NULL; }
    return key;
}

/* Size of the RSA modulus in bytes (the size of every raw signature). */
static inline int pushy_rsa_size(const EVP_PKEY *key) {
    return EVP_PKEY_get_size(key);
}

/* PKCS#1 v1.5 type-1 "private encrypt" of `in` with no DigestInfo (what Chef
   request signing v1.0/1.1 and the rsa2048_sha1 heartbeat use). `out` must hold
   pushy_rsa_size(key) bytes; *out_length receives the written length. */
static inline int pushy_rsa_private_encrypt_raw(EVP_PKEY *key,
                                                const unsigned char *in, size_t in_length,
                                                unsigned char *out, size_t *out_length) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    int ok = ctx != NULL
        && EVP_PKEY_sign_init(ctx) == 1
        && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
        && EVP_PKEY_sign(ctx, out, out_length, in, in_length) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) ERR_clear_error();
    return ok;
}

/* Inverse of pushy_rsa_private_encrypt_raw: recover the padded payload with the
   public key. `out` must hold pushy_rsa_size(key) bytes. */
static inline int pushy_rsa_public_decrypt_raw(EVP_PKEY *key,
                                               const unsigned char *in, size_t in_length,
                                               unsigned char *out, size_t *out_length) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    int ok = ctx != NULL
        && EVP_PKEY_verify_recover_init(ctx) == 1
        && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1
        && EVP_PKEY_verify_recover(ctx, out, out_length, in, in_length) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) ERR_clear_error();
    return ok;
}

/* HMAC-SHA256 (RFC 2104) keyed once: the SHA-256 states after the inner and outer padded key.
   A message then costs the hash of its bytes and two copies of a plain struct, with no
   allocation: the session MAC of every agent message (issue 16). OpenSSL's EVP interface, the
   non-deprecated one, allocates a context for every copy of a keyed state; the SHA256_* calls
   run the same hash code without that. */
typedef struct { SHA256_CTX inner; SHA256_CTX outer; } pushy_hmac_sha256_key;

static inline void pushy_hmac_sha256_key_init(pushy_hmac_sha256_key *k, const unsigned char *key, size_t length) {
    unsigned char block[SHA256_CBLOCK], pad[SHA256_CBLOCK];
    memset(block, 0, sizeof block);
    if (length > SHA256_CBLOCK) SHA256(key, length, block);
    else if (length > 0) memcpy(block, key, length);
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, sizeof pad);
    for (int i = 0; i < SHA256_CBLOCK; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, sizeof pad);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
}

/* The 32-byte HMAC of `data` into `out`. */
static inline void pushy_hmac_sha256(const pushy_hmac_sha256_key *k, const void *data, size_t length, unsigned char *out) {
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = k->inner;
    SHA256_Update(&c, data, length);
    SHA256_Final(inner, &c);
    c = k->outer;
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

/* 1 when `signature`, standard padded base64 of 32 bytes (44 characters), is the HMAC of
   `data`; compared in constant time. 0 for any other signature. */
static inline int pushy_hmac_sha256_verify(const pushy_hmac_sha256_key *k, const void *data, size_t length,
                                           const unsigned char *signature, size_t signature_length) {
    unsigned char given[33], expected[SHA256_DIGEST_LENGTH];
    if (signature_length != 44 || signature[43] != '=') return 0;
    /* EVP_DecodeBlock reads '=' anywhere as zero bits: only the last character may be one. */
    if (memchr(signature, '=', 43) != NULL) return 0;
    if (EVP_DecodeBlock(given, signature, 44) != 33) return 0;
    pushy_hmac_sha256(k, data, length, expected);
    return CRYPTO_memcmp(given, expected, sizeof expected) == 0;
}

#endif
