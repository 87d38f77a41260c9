/* AES-256-GCM for the SNP sample's guest messages (freestanding; also built for the host to check it). */
#ifndef SNP_SAMPLE_AES_GCM_H
#define SNP_SAMPLE_AES_GCM_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* Encrypts n bytes in place and writes the 16-byte tag; aad is authenticated only. */
void aes256_gcm_encrypt(const u8 key[32], const u8 iv[12], const u8 *aad, u32 aad_len, u8 *data, u32 n, u8 tag[16]);

/* Decrypts in place; returns 0 when the tag matches (else the data must not be used). */
int aes256_gcm_decrypt(const u8 key[32], const u8 iv[12], const u8 *aad, u32 aad_len, u8 *data, u32 n, const u8 tag[16]);

#endif
