/* The 64-bit boot protocol's zero page (Documentation/arch/x86/boot.rst, zero-page.rst) as the firmware fills it. */
#ifndef LINUX_SNP_BOOT_H
#define LINUX_SNP_BOOT_H

#include "firmware.h"

#define BP_ACPI_RSDP        0x070
#define BP_EXT_RAMDISK_IMAGE 0x0C0
#define BP_EXT_RAMDISK_SIZE 0x0C4
#define BP_EXT_CMD_LINE_PTR 0x0C8
#define BP_E820_ENTRIES     0x1E8
#define BP_SENTINEL         0x1EF
#define BP_SETUP_SECTS      0x1F1
#define BP_BOOT_FLAG        0x1FE
#define BP_JUMP             0x200
#define BP_HEADER           0x202
#define BP_VERSION          0x206
#define BP_TYPE_OF_LOADER   0x210
#define BP_LOADFLAGS        0x211
#define BP_RAMDISK_IMAGE    0x218
#define BP_RAMDISK_SIZE     0x21C
#define BP_CMD_LINE_PTR     0x228
#define BP_INITRD_ADDR_MAX  0x22C
#define BP_XLOADFLAGS       0x236
#define BP_CMDLINE_SIZE     0x238
#define BP_SETUP_DATA       0x250
#define BP_INIT_SIZE        0x260
#define BP_E820_TABLE       0x2D0

#define E820_MAX            128
#define E820_RAM            1
#define E820_RESERVED       2
#define E820_ACPI           3

#define XLF_KERNEL_64       (1u << 0)
#define LOADER_UNDEFINED    0xFF        /* a non-zero type_of_loader: with 0 Linux ignores the initrd */
#define ENTRY_64            0x200       /* the 64-bit entry, from the protected-mode kernel's start */

#define SETUP_CC_BLOB       7
#define CC_BLOB_MAGIC       0x45444D41  /* "AMDE" */

struct e820_entry {
    u64 addr;
    u64 size;
    u32 type;
} __attribute__((packed));

static inline u8 bp8(const u8 *bp, u32 at) { return bp[at]; }
static inline u16 bp16(const u8 *bp, u32 at) { return *(const u16 *)(bp + at); }
static inline u32 bp32(const u8 *bp, u32 at) { return *(const u32 *)(bp + at); }
static inline void set8(u8 *bp, u32 at, u8 v) { bp[at] = v; }
static inline void set32(u8 *bp, u32 at, u32 v) { *(u32 *)(bp + at) = v; }
static inline void set64(u8 *bp, u32 at, u64 v) { *(u64 *)(bp + at) = v; }

#endif
