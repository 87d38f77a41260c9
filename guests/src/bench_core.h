/*
 * bench: the workload shared by the guest images and the host program that
 * computes the expected output.
 */
#ifndef BENCH_CORE_H
#define BENCH_CORE_H

#include <stdint.h>
#include <stddef.h>

#ifndef BENCH_BYTES
#define BENCH_BYTES (1u << 20)          /* 1 MiB (CI size); 16 MiB for bench16m */
#endif
#if BENCH_BYTES % 64 != 0
#error "BENCH_BYTES must be a multiple of 64"
#endif
#define BENCH_KEYS (BENCH_BYTES / 64)   /* heap-sorted uint32 keys: 256 Ki for 16 MiB */

struct bench_result {
    uint32_t crc32;             /* CRC-32 (IEEE, reflected) of the filled buffer */
    uint8_t sha256[32];         /* SHA-256 of the filled buffer */
    uint32_t sorted_crc32;      /* CRC-32 of the first BENCH_KEYS keys after sorting */
    int sorted;                 /* 1 if the keys came out in non-decreasing order */
};

/* Provided by the caller: write a NUL-terminated string. */
void bench_out(const char *s);

/*
 * Fill buf (BENCH_BYTES bytes, 8-aligned) with xorshift64*, hash it, sort
 * its first BENCH_KEYS uint32 keys and print one result per line.
 * Returns 1 if the keys are sorted.
 */
int bench_run(uint64_t *buf, struct bench_result *r);

/* "0123abcd": n bytes as lower-case hex, NUL-terminated (2n + 1 bytes). */
void bench_hex(char *out, const uint8_t *p, size_t n);

#endif
