/*
 * AES-256 (FIPS 197) in GCM (NIST SP 800-38D), small rather than fast: the S-box is computed at first use from
 * its definition (the inverse in GF(2^8), then the affine map) instead of being typed in, and GHASH multiplies
 * bit by bit. A guest message is a few kilobytes, so speed does not matter here.
 */
#include "aes_gcm.h"

static u8 sbox[256];
static int sbox_ready;

static u8 gmul(u8 a, u8 b)
{
    u8 p = 0;
    while (b) {
        if (b & 1)
            p ^= a;
        a = (u8)((a << 1) ^ ((a & 0x80) ? 0x1B : 0));
        b >>= 1;
    }
    return p;
}

static u8 rotl8(u8 x, int n) { return (u8)((x << n) | (x >> (8 - n))); }

static void init_sbox(void)
{
    for (int x = 0; x < 256; x++) {
        u8 inv = 0;
        for (int y = 1; x && y < 256; y++) {
            if (gmul((u8)x, (u8)y) == 1) {
                inv = (u8)y;
                break;
            }
        }
        sbox[x] = (u8)(inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63);
    }
    sbox_ready = 1;
}

/* The 15 round keys of AES-256 (FIPS 197 §5.2). */
static void expand(const u8 key[32], u8 rk[240])
{
    static const u8 rcon[7] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40 };
    if (!sbox_ready)
        init_sbox();
    for (int i = 0; i < 32; i++)
        rk[i] = key[i];
    for (int i = 8; i < 60; i++) {
        u8 t[4] = { rk[4 * i - 4], rk[4 * i - 3], rk[4 * i - 2], rk[4 * i - 1] };
        if (i % 8 == 0) {
            u8 first = t[0];
            t[0] = (u8)(sbox[t[1]] ^ rcon[i / 8 - 1]);
            t[1] = sbox[t[2]];
            t[2] = sbox[t[3]];
            t[3] = sbox[first];
        } else if (i % 8 == 4) {
            for (int k = 0; k < 4; k++)
                t[k] = sbox[t[k]];
        }
        for (int k = 0; k < 4; k++)
            rk[4 * i + k] = (u8)(rk[4 * (i - 8) + k] ^ t[k]);
    }
}

static void encrypt_block(const u8 rk[240], const u8 in[16], u8 out[16])
{
    u8 s[16];
    for (int i = 0; i < 16; i++)
        s[i] = (u8)(in[i] ^ rk[i]);
    for (int round = 1; round <= 14; round++) {
        u8 t[16];
        /* SubBytes and ShiftRows: row r of column c comes from column c + r. */
        for (int c = 0; c < 4; c++)
            for (int r = 0; r < 4; r++)
                t[4 * c + r] = sbox[s[4 * ((c + r) % 4) + r]];
        if (round < 14) {
            for (int c = 0; c < 4; c++) {
                u8 a0 = t[4 * c], a1 = t[4 * c + 1], a2 = t[4 * c + 2], a3 = t[4 * c + 3];
                t[4 * c] = (u8)(gmul(a0, 2) ^ gmul(a1, 3) ^ a2 ^ a3);
                t[4 * c + 1] = (u8)(a0 ^ gmul(a1, 2) ^ gmul(a2, 3) ^ a3);
                t[4 * c + 2] = (u8)(a0 ^ a1 ^ gmul(a2, 2) ^ gmul(a3, 3));
                t[4 * c + 3] = (u8)(gmul(a0, 3) ^ a1 ^ a2 ^ gmul(a3, 2));
            }
        }
        for (int i = 0; i < 16; i++)
            s[i] = (u8)(t[i] ^ rk[16 * round + i]);
    }
    for (int i = 0; i < 16; i++)
        out[i] = s[i];
}

/* X = X · H in GF(2^128), GCM's bit order (SP 800-38D §6.3). */
static void gf_mul(u8 x[16], const u8 h[16])
{
    u8 z[16] = { 0 }, v[16];
    for (int i = 0; i < 16; i++)
        v[i] = h[i];
    for (int i = 0; i < 128; i++) {
        if ((x[i / 8] >> (7 - i % 8)) & 1)
            for (int k = 0; k < 16; k++)
                z[k] ^= v[k];
        int lsb = v[15] & 1;
        for (int k = 15; k > 0; k--)
            v[k] = (u8)((v[k] >> 1) | (v[k - 1] << 7));
        v[0] >>= 1;
        if (lsb)
            v[0] ^= 0xE1;
    }
    for (int i = 0; i < 16; i++)
        x[i] = z[i];
}

static void ghash_update(u8 y[16], const u8 h[16], const u8 *p, u32 n)
{
    for (u32 at = 0; at < n; at += 16) {
        for (u32 k = 0; k < 16 && at + k < n; k++)
            y[k] ^= p[at + k];
        gf_mul(y, h);
    }
}

static void ctr(const u8 rk[240], const u8 j0[16], u8 *data, u32 n)
{
    u8 counter[16], stream[16];
    for (int i = 0; i < 16; i++)
        counter[i] = j0[i];
    for (u32 at = 0; at < n; at += 16) {
        for (int i = 15; i >= 12; i--)
            if (++counter[i])
                break;
        encrypt_block(rk, counter, stream);
        for (u32 k = 0; k < 16 && at + k < n; k++)
            data[at + k] ^= stream[k];
    }
}

static void tag_of(const u8 rk[240], const u8 j0[16], const u8 *aad, u32 aad_len, const u8 *c, u32 n, u8 tag[16])
{
    u8 h[16] = { 0 }, y[16] = { 0 }, lengths[16], s[16];
    encrypt_block(rk, h, h);
    ghash_update(y, h, aad, aad_len);
    ghash_update(y, h, c, n);
    u64 abits = (u64)aad_len * 8, cbits = (u64)n * 8;
    for (int i = 0; i < 8; i++) {
        lengths[i] = (u8)(abits >> (56 - 8 * i));
        lengths[8 + i] = (u8)(cbits >> (56 - 8 * i));
    }
    ghash_update(y, h, lengths, 16);
    encrypt_block(rk, j0, s);
    for (int i = 0; i < 16; i++)
        tag[i] = (u8)(s[i] ^ y[i]);
}

static void j0_of(const u8 iv[12], u8 j0[16])
{
    for (int i = 0; i < 12; i++)
        j0[i] = iv[i];
    j0[12] = j0[13] = j0[14] = 0;
    j0[15] = 1;
}

void aes256_gcm_encrypt(const u8 key[32], const u8 iv[12], const u8 *aad, u32 aad_len, u8 *data, u32 n, u8 tag[16])
{
    u8 rk[240], j0[16];
    expand(key, rk);
    j0_of(iv, j0);
    ctr(rk, j0, data, n);
    tag_of(rk, j0, aad, aad_len, data, n, tag);
}

int aes256_gcm_decrypt(const u8 key[32], const u8 iv[12], const u8 *aad, u32 aad_len, u8 *data, u32 n, const u8 tag[16])
{
    u8 rk[240], j0[16], expected[16];
    expand(key, rk);
    j0_of(iv, j0);
    tag_of(rk, j0, aad, aad_len, data, n, expected);
    int diff = 0;
    for (int i = 0; i < 16; i++)
        diff |= expected[i] ^ tag[i];
    if (diff)
        return -1;
    ctr(rk, j0, data, n);
    return 0;
}
