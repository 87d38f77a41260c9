/* The GHCB MSR protocol, the GHCB page, PVALIDATE and RMPADJUST as our SNP guests use them (guest-abi.md §4–§6). */
#ifndef SNP_COMMON_GHCB_H
#define SNP_COMMON_GHCB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define MSR_GHCB        0xC0010130
#define GHCB_RAX        0x1F8
#define GHCB_RBX        0x318
#define GHCB_RCX        0x308
#define GHCB_RDX        0x310
#define GHCB_EXITCODE   0x390
#define GHCB_EXITINFO1  0x398
#define GHCB_EXITINFO2  0x3A0
#define GHCB_SCRATCH    0x3A8
#define GHCB_VALID      0x3F0
#define GHCB_BUFFER     0x800
#define GHCB_VERSION    0xFFA
#define GHCB_USAGE      0xFFC

static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static inline void vmgexit(void) { __asm__ volatile(".byte 0xf3, 0x0f, 0x01, 0xd9" : : : "memory"); }

/* One MSR-protocol request: returns the response value. */
static inline u64 msr_protocol(u64 request)
{
    wrmsr(MSR_GHCB, request);
    vmgexit();
    return rdmsr(MSR_GHCB);
}

/* PVALIDATE: returns EAX; *unchanged = CF (the Validated bit was already as asked). */
static inline u32 pvalidate(u64 va, int size2m, int validate, int *unchanged)
{
    u32 rc;
    u8 cf;
    __asm__ volatile(".byte 0xf2, 0x0f, 0x01, 0xff\n\tsetc %1"
                     : "=a"(rc), "=qm"(cf)
                     : "a"(va), "c"((u64)size2m), "d"((u64)validate)
                     : "memory", "cc");
    *unchanged = cf;
    return rc;
}

/* RMPADJUST: RAX = the page's virtual address, RCX = page size, RDX = attributes (bit 16: VMSA page). Returns EAX. */
static inline u32 rmpadjust(u64 va, int size2m, u64 attrs)
{
    u32 rc;
    __asm__ volatile(".byte 0xf3, 0x0f, 0x01, 0xfe" : "=a"(rc) : "a"(va), "c"((u64)size2m), "d"(attrs) : "memory", "cc");
    return rc;
}

#endif
