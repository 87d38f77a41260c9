/* TDCALL and TDG.VP.VMCALL as the guest issues them (guest-abi.md §2, §3); shared by the TD samples. */
#ifndef TDX_COMMON_TDX_H
#define TDX_COMMON_TDX_H

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

#define TDG_VP_VMCALL       0
#define TDG_VP_INFO         1
#define TDG_MR_RTMR_EXTEND  2
#define TDG_MR_REPORT       4
#define TDG_MEM_PAGE_ACCEPT 6

#define TDVMCALL_IO         30
#define TDVMCALL_MAP_GPA    0x10001

#define TDX_PAGE_ALREADY_ACCEPTED 0x00000B0A00000000UL
#define TDX_PAGE_SIZE_MISMATCH    0xC0000B0B00000000UL
#define TDVMCALL_RETRY            1

#define SHARED_BIT (1UL << 47)

struct tdcall_regs {
    u64 rax, rcx, rdx, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* TDCALL (66 0F 01 CC) with every register the leaves in this sample use. */
static inline void tdcall(struct tdcall_regs *r)
{
    register u64 r8 __asm__("r8") = r->r8;
    register u64 r9 __asm__("r9") = r->r9;
    register u64 r10 __asm__("r10") = r->r10;
    register u64 r11 __asm__("r11") = r->r11;
    register u64 r12 __asm__("r12") = r->r12;
    register u64 r13 __asm__("r13") = r->r13;
    register u64 r14 __asm__("r14") = r->r14;
    register u64 r15 __asm__("r15") = r->r15;
    __asm__ volatile(".byte 0x66, 0x0f, 0x01, 0xcc"
                     : "+a"(r->rax), "+c"(r->rcx), "+d"(r->rdx), "+r"(r8), "+r"(r9), "+r"(r10), "+r"(r11),
                       "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15)
                     :
                     : "memory");
    r->r8 = r8; r->r9 = r9; r->r10 = r10; r->r11 = r11;
    r->r12 = r12; r->r13 = r13; r->r14 = r14; r->r15 = r15;
}

/* TDG.VP.VMCALL exposing R10–R15 to the VMM (RCX bits 10–15). */
static inline struct tdcall_regs tdvmcall(u64 subfunction, u64 a12, u64 a13, u64 a14, u64 a15)
{
    struct tdcall_regs r = { .rax = TDG_VP_VMCALL, .rcx = 0xFC00, .r10 = 0, .r11 = subfunction,
                             .r12 = a12, .r13 = a13, .r14 = a14, .r15 = a15 };
    tdcall(&r);
    return r;
}

#endif
