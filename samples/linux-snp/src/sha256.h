/* SHA-256 (FIPS 180-4) for the firmware's blob verification (freestanding; also built for the host to check it). */
#ifndef LINUX_SNP_SHA256_H
#define LINUX_SNP_SHA256_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

/* Hashes n bytes in one pass: the blobs are whole in private memory when they are verified. */
void sha256(const u8 *data, u64 n, u8 digest[32]);

#endif
