/* Host check of aes_gcm.c against the published GCM test cases 13 and 14 (AES-256, zero key and IV). */
#include <stdio.h>
#include <string.h>
#include "aes_gcm.h"

static int check(const char *name, const u8 *got, const u8 *want, int n)
{
    if (memcmp(got, want, (size_t)n) != 0) {
        fprintf(stderr, "aes_gcm: %s differs\n", name);
        return 1;
    }
    return 0;
}

int main(void)
{
    u8 key[32] = { 0 }, iv[12] = { 0 }, tag[16], data[16] = { 0 };
    static const u8 tag13[16] = { 0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9, 0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b };
    static const u8 c14[16] = { 0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18 };
    static const u8 tag14[16] = { 0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19 };
    int bad = 0;
    aes256_gcm_encrypt(key, iv, 0, 0, data, 0, tag);
    bad |= check("test case 13 tag", tag, tag13, 16);
    aes256_gcm_encrypt(key, iv, 0, 0, data, 16, tag);
    bad |= check("test case 14 ciphertext", data, c14, 16);
    bad |= check("test case 14 tag", tag, tag14, 16);
    if (aes256_gcm_decrypt(key, iv, 0, 0, data, 16, tag) != 0 || data[0] != 0)
        bad |= check("test case 14 decrypt", data, (const u8 *)"\0", 1) | 1;
    if (!bad)
        printf("aes_gcm: GCM test cases 13 and 14 pass\n");
    return bad;
}
