/*
 * QEMU's fw_cfg through its DMA interface (QEMU docs/specs/fw_cfg.rst), as OVMF's QemuFwCfgLib uses it under SEV:
 * the access descriptor and the data both live in shared memory, since the device cannot reach private pages. The
 * firmware copies every chunk out of the bounce buffer into private memory before it looks at it, so what it
 * verifies is what it runs.
 */
#include "firmware.h"

#define FW_CFG_DMA_HI       0x514       /* the descriptor's GPA, big-endian: high half, then low half (which starts it) */
#define FW_CFG_DMA_LO       0x518
#define FW_CFG_SIGNATURE    0x0000
#define FW_CFG_ID           0x0001
#define FW_CFG_FILE_DIR     0x0019
#define FW_CFG_ID_DMA       (1u << 1)
#define DMA_ERROR           0x01
#define DMA_READ            0x02
#define DMA_SELECT          0x08
#define FILE_ENTRY_SIZE     64          /* {be32 size, be16 select, be16 reserved, char name[56]} */
#define FILE_NAME_MAX       56

struct dma_access {
    u32 control;    /* big-endian, like every field */
    u32 length;
    u64 address;
};

static volatile struct dma_access *const access_ = (volatile struct dma_access *)DMA_GPA;
static const volatile u8 *const bounce = (const volatile u8 *)BOUNCE_GPA;

static u32 be32(u32 v) { return __builtin_bswap32(v); }

/* One DMA read of n bytes (at most the bounce buffer) into the bounce buffer; select names the item first, if set. */
static void dma_read(int select, u16 key, u32 n)
{
    access_->control = be32(((u32)key << 16) | (select ? DMA_SELECT : 0) | DMA_READ);
    access_->length = be32(n);
    access_->address = __builtin_bswap64(BOUNCE_GPA);
    ghcb_out(FW_CFG_DMA_HI, 4, be32((u32)((u64)DMA_GPA >> 32)));
    ghcb_out(FW_CFG_DMA_LO, 4, be32((u32)DMA_GPA));
    if (access_->control != 0)
        refuse(REFUSE_FW_CFG, "an fw_cfg DMA transfer failed");
}

void fw_cfg_read(u16 key, void *dst, u64 n)
{
    u8 *out = (u8 *)dst;
    int first = 1;
    do {
        u32 chunk = n < BOUNCE_SIZE ? (u32)n : BOUNCE_SIZE;
        dma_read(first, key, chunk);
        copy(out, (const void *)bounce, chunk);
        out += chunk;
        n -= chunk;
        first = 0;
    } while (n);
}

u32 fw_cfg_u32(u16 key)
{
    u32 v;
    fw_cfg_read(key, &v, 4);
    return v;
}

void fw_cfg_init(void)
{
    /* The bounce buffer (one 2M page) and the descriptor's page become shared; they were never validated. */
    psc(DMA_GPA, 1, 0, 1);
    psc(BOUNCE_GPA, 1, 1, 1);
    u32 signature;
    fw_cfg_read(FW_CFG_SIGNATURE, &signature, 4);
    if (signature != 0x554D4551 || !(fw_cfg_u32(FW_CFG_ID) & FW_CFG_ID_DMA)) /* "QEMU" */
        refuse(REFUSE_FW_CFG, "no fw_cfg device with the DMA interface");
}

static int name_is(const volatile u8 *name, const char *want)
{
    for (int i = 0; i < FILE_NAME_MAX; i++) {
        if (name[i] != (u8)want[i])
            return 0;
        if (want[i] == 0)
            return 1;
    }
    return 0;
}

u16 fw_cfg_file(const char *name, u32 *size)
{
    u32 count = be32(fw_cfg_u32(FW_CFG_FILE_DIR));
    if (4 + (u64)count * FILE_ENTRY_SIZE > BOUNCE_SIZE)
        refuse(REFUSE_FW_CFG, "the fw_cfg file directory is too large");
    dma_read(1, FW_CFG_FILE_DIR, 4 + count * FILE_ENTRY_SIZE);
    for (u32 i = 0; i < count; i++) {
        const volatile u8 *e = bounce + 4 + i * FILE_ENTRY_SIZE;
        if (name_is(e + 8, name)) {
            *size = be32(*(const volatile u32 *)e);
            return (u16)((e[4] << 8) | e[5]);
        }
    }
    return 0;
}
