#ifndef PUSHY_COPENSSL_SHIM_H
#define PUSHY_COPENSSL_SHIM_H
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

#endif
