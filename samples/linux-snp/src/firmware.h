/* What the parts of the Linux SNP firmware share: console output, refusal, the GHCB events, fw_cfg, validation. */
#ifndef LINUX_SNP_FIRMWARE_H
#define LINUX_SNP_FIRMWARE_H

#include "ghcb.h"
#include "layout.h"

#define PAGE            0x1000ULL
#define PAGE_2M         0x200000ULL
#define CBIT            (1ULL << 51)

/*
 * Why the firmware refuses to go on: the reason code of its GHCB termination request, in reason set 2 (sets 0 and 1
 * are the GHCB specification's general set and Linux's). README.md lists them.
 */
#define TERM_SET                2
enum refusal {
    REFUSE_GHCB = 1,            /* no GHCB protocol 2, SNP not active, or the GHCB page could not be made shared */
    REFUSE_PAGE_STATE = 2,      /* a page-state change failed */
    REFUSE_PVALIDATE = 3,       /* PVALIDATE failed */
    REFUSE_FW_CFG = 4,          /* no fw_cfg DMA interface, a missing item, or a DMA error */
    REFUSE_NO_HASHES = 5,       /* the measured SNP_KERNEL_HASHES page holds no hashes table */
    REFUSE_KERNEL = 6,          /* the kernel's SHA-256 is not the table's */
    REFUSE_INITRD = 7,          /* the initrd's SHA-256 is not the table's */
    REFUSE_CMDLINE = 8,         /* the command line's SHA-256 is not the table's */
    REFUSE_LAYOUT = 9,          /* the RAM map, kernel, initrd, command line or ACPI tables do not fit */
};

void puts_(const char *s);
void hex(u64 v, int digits);
void dec(u64 v);
/* Prints "linux-snp: REFUSED: what" and asks the hypervisor to terminate the guest with the reason code. */
__attribute__((noreturn)) void refuse(enum refusal code, const char *what);

/* ghcb.c: the GHCB page and the NAE events the firmware issues. */
void ghcb_init(void);
void ghcb_out(u16 port, int size, u32 value);
void psc(u64 gpa, u32 count, int large, int shared);
void ghcb_release(void);

/* fwcfg.c: QEMU's fw_cfg DMA interface (docs/specs/fw_cfg.rst), through the shared bounce buffer. */
void fw_cfg_init(void);
u32 fw_cfg_u32(u16 key);
/* Reads n bytes of item key into private memory at dst, chunk by chunk through the bounce buffer. */
void fw_cfg_read(u16 key, void *dst, u64 n);
/* Finds a file in the directory (key 0x19): its key and size; 0 when there is none. */
u16 fw_cfg_file(const char *name, u32 *size);

/* validate.c: PVALIDATE over a range, 2M where the range and the RMP allow it. */
struct validation {
    u64 pages_2m, pages_4k, already;
};
void validate(u64 start, u64 end, struct validation *v);

static inline void copy(void *dst, const void *src, u64 n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static inline void zero(void *dst, u64 n)
{
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}

#endif
