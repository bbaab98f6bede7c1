#ifndef PUSHY_COPENSSL_SHIM_H
#define PUSHY_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/err.h>
#endif
