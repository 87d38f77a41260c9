/* Host check of sha384.c against the FIPS 180-4 example vectors (NIST's "SHA384.pdf" examples): build.sh runs it. */
#include <stdio.h>
#include <string.h>
#include "sha384.h"

static int check(const char *message, const char *expected)
{
    u8 digest[SHA384_DIGEST];
    char hex[2 * SHA384_DIGEST + 1];
    sha384(message, strlen(message), digest);
    for (int i = 0; i < SHA384_DIGEST; i++)
        sprintf(hex + 2 * i, "%02x", digest[i]);
    if (strcmp(hex, expected) != 0) {
        fprintf(stderr, "sha384(\"%s\") = %s, expected %s\n", message, hex, expected);
        return 1;
    }
    return 0;
}

int main(void)
{
    int failed = 0;
    failed += check("abc", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    failed += check("", "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b");
    failed += check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                    "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039");
    /* 111 and 112 bytes of 'a': the padding's length field just fits in the block, and just does not (digests from
     * Python's hashlib.sha384). */
    failed += check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "3c37955051cb5c3026f94d551d5b5e2ac38d572ae4e07172085fed81f8466b8f90dc23a8ffcdea0b8d8e58e8fdacc80a");
    failed += check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "187d4e07cb306103c69967bf544d0dfbe9042577599c73c330abc0cb64c61236d5ed565ee19119d8c31779a38f791fcd");
    return failed != 0;
}
