/* SHA-384 (FIPS 180-4 §6.5: SHA-512's compression with its own initial value, truncated to 48 bytes). */
#ifndef LINUX_TDX_SHA384_H
#define LINUX_TDX_SHA384_H

#include "tdx.h"

#define SHA384_DIGEST 48

void sha384(const void *data, u64 length, u8 digest[SHA384_DIGEST]);

#endif
