/* Host check of src/sha256.c against FIPS 180-2's examples ("abc", the two-block message) and, given a file, the
 * digest sha256sum prints for it (build.sh passes the vendored kernel: a multi-megabyte blob, as the firmware sees). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sha256.h"

static int check(const char *what, const u8 *data, u64 n, const char *expected)
{
    u8 d[32];
    char hex[65];
    sha256(data, n, d);
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", d[i]);
    if (strcmp(hex, expected) != 0) {
        fprintf(stderr, "sha256: %s: %s, expected %s\n", what, hex, expected);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    int bad = check("abc", (const u8 *)"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        | check("two-block message", (const u8 *)two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    if (argc == 3) {
        FILE *f = fopen(argv[1], "rb");
        if (!f)
            return 2;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        u8 *buf = malloc(n ? n : 1);
        if (fread(buf, 1, n, f) != (size_t)n)
            return 2;
        bad |= check(argv[1], buf, n, argv[2]);
    }
    if (bad)
        return 1;
    printf("sha256: FIPS 180-2 examples%s pass\n", argc == 3 ? " and the kernel" : "");
    return 0;
}
