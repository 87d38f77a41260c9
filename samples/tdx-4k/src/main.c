/*
 * The TDX-only-4K sample guest (samples/tdx-4k/README.md): accepts its memory at 4K, converts a buffer to
 * shared and back, crosses into the wrong view on purpose, reads its own TDREPORT and prints its MRTD, then
 * powers off. Every byte of output goes through TDG.VP.VMCALL Instruction.IO: a TD cannot execute OUT.
 */
#include "layout.h"
#include "tdx.h"

#define PORT_DEBUGCON   0xE9
#define PORT_DEBUG_EXIT 0xF4
#define PORT_ACPI_PM1A  0x604

#define PAGE            0x1000UL
#define ACCEPTED        0x200000UL      /* 2 MiB accepted at 4K: the sample's private memory */
#define ACCEPTED_SIZE   0x200000UL
#define REPORT          (ACCEPTED + 0x1000)
#define REPORT_DATA     (ACCEPTED + 0x2000)
#define RTMR_DATA       (ACCEPTED + 0x3000)
#define BUFFER          (ACCEPTED + 0x10000) /* converted to shared and back */
#define BUFFER_SIZE     0x4000UL
#define WRONG_VIEW      (ACCEPTED + 0x20000) /* a private page read through the shared alias */
#define IMPLICIT        0x500000UL           /* converted to shared explicitly, then accepted: implicitly private */
#define QUOTE           (ACCEPTED + 0x30000) /* the GetQuote buffer */
#define TDVMCALL_GET_QUOTE 0x10002

static void out(u32 port, u32 size, u64 value)
{
    tdvmcall(TDVMCALL_IO, size, 1, port, value);
}

static void putc_(char c) { out(PORT_DEBUGCON, 1, (u8)c); }

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void hex(u64 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 0xF]);
}

static void fail(const char *what, u64 status)
{
    puts_("FAIL: ");
    puts_(what);
    puts_(" status 0x");
    hex(status, 16);
    putc_('\n');
    out(PORT_DEBUG_EXIT, 4, 1); /* exit status 3 */
    for (;;)
        ;
}

static u64 accept(u64 gpa, int level)
{
    struct tdcall_regs r = { .rax = TDG_MEM_PAGE_ACCEPT, .rcx = gpa | (u64)level };
    tdcall(&r);
    return r.rax;
}

/* Accepts [gpa, gpa + size) as Linux does: try 2M, fall back to 4K on any failure. Returns the 4K accepts. */
static u64 accept_range(u64 gpa, u64 size)
{
    u64 accepted4k = 0;
    for (u64 p = gpa; p < gpa + size;) {
        if ((p & 0x1FFFFF) == 0 && p + 0x200000 <= gpa + size) {
            u64 st = accept(p, 1);
            if (st == 0) {
                p += 0x200000;
                continue;
            }
            if ((st & ~7UL) != TDX_PAGE_SIZE_MISMATCH)
                fail("2M accept", st);
        }
        u64 st = accept(p, 0);
        if (st != 0 && (st & ~7UL) != TDX_PAGE_ALREADY_ACCEPTED)
            fail("4K accept", st);
        accepted4k++;
        p += PAGE;
    }
    return accepted4k;
}

/* MapGPA with Linux's retry loop: resume from R11 on RETRY. */
static void map_gpa(u64 gpa, u64 size, int shared)
{
    u64 start = gpa, end = gpa + size;
    while (start < end) {
        struct tdcall_regs r = tdvmcall(TDVMCALL_MAP_GPA, start | (shared ? SHARED_BIT : 0), end - start, 0, 0);
        if (r.r10 == 0)
            return;
        if (r.r10 != TDVMCALL_RETRY)
            fail("MapGPA", r.r10);
        start = r.r11 & ~SHARED_BIT;
    }
}

static volatile u8 *private_(u64 gpa) { return (volatile u8 *)gpa; }
static volatile u8 *shared_(u64 gpa) { return (volatile u8 *)(SHARED_ALIAS + gpa); }

static u64 sum(volatile u8 *p, u64 n)
{
    u64 s = 0;
    for (u64 i = 0; i < n; i++)
        s += p[i];
    return s;
}

#ifdef SCENARIO
/*
 * The misbehaving variants (build.sh builds one image per scenario): what a guest can do wrong, and what the
 * platform must do about it without a host exception.
 */
static void misbehave(void)
{
#if SCENARIO == 1
    /* MapGPA of a range outside guest memory: the VMM refuses, the guest gets INVALID_OPERAND and R11. */
    struct tdcall_regs r = tdvmcall(TDVMCALL_MAP_GPA, 0x40000000UL | SHARED_BIT, 0x200000, 0, 0);
    puts_("tdx-4k: MapGPA outside memory: R10 0x");
    hex(r.r10, 16);
    puts_(", R11 0x");
    hex(r.r11, 16);
    putc_('\n');
#elif SCENARIO == 2
    /* A half-accepted 2M region: the first 4K page is accepted, the second is touched without accepting. */
    if (accept(0x600000, 0) != 0)
        fail("accept", 0);
    private_(0x600000)[0] = 1;
    puts_("tdx-4k: touching an unaccepted page\n");
    private_(0x601000)[0] = 1;
    puts_("tdx-4k: still alive (wrong)\n");
#elif SCENARIO == 3
    /* A conversion storm: 100,000 conversions of one page, each accepted again on its way back. */
    for (u64 i = 0; i < 50000; i++) {
        map_gpa(BUFFER, PAGE, 1);
        shared_(BUFFER)[0] = (u8)i;
        map_gpa(BUFFER, PAGE, 0);
        if (accept(BUFFER, 0) != 0)
            fail("storm accept", i);
        if (private_(BUFFER)[0] != 0)
            fail("storm: a page back from shared is not zero", i);
    }
    puts_("tdx-4k: 100000 conversions done\n");
#elif SCENARIO == 4
    /* A triple fault: #UD with no IDT. */
    puts_("tdx-4k: ud2 without an IDT\n");
    __asm__ volatile("ud2");
#elif SCENARIO == 5
    /* An infinite loop: only --max-instructions or --timeout ends it. */
    puts_("tdx-4k: spinning\n");
    for (;;)
        __asm__ volatile("pause");
#endif
}
#endif

__attribute__((noreturn)) void main(u32 vcpu_index)
{
    if (vcpu_index != 0) {
        for (;;)
            tdvmcall(12, 1, 0, 0, 0); /* an AP parks: Instruction.HLT with interrupts off */
    }

    puts_("tdx-4k: TD started\n");
    struct tdcall_regs info = { .rax = TDG_VP_INFO };
    tdcall(&info);
    puts_("tdx-4k: GPAW 0x");
    hex(info.rcx & 0x3F, 2);
    puts_(", attributes 0x");
    hex(info.rdx, 16);
    puts_(", vcpus 0x");
    hex(info.r8 & 0xFFFFFFFF, 2);
    putc_('\n');

    /* 1. Accept private memory: TDX maps private memory at 4K only, so every 2M accept is a size mismatch. */
    u64 n = accept_range(ACCEPTED, ACCEPTED_SIZE);
    puts_("tdx-4k: accepted 0x");
    hex(n, 4);
    puts_(" pages at 4K (2M accepts: size mismatch)\n");
    for (u64 i = 0; i < BUFFER_SIZE; i++)
        private_(BUFFER)[i] = 0xA5;

#ifdef SCENARIO
    misbehave();
#endif

    /* 2. Explicit conversion to shared (MapGPA): the private contents are gone; the VMM sees what is written. */
    map_gpa(BUFFER, BUFFER_SIZE, 1);
    if (sum(shared_(BUFFER), BUFFER_SIZE) != 0)
        fail("shared buffer not zero after MapGPA", 0);
    const char *msg = "hello from shared memory\n";
    for (u64 i = 0; msg[i]; i++)
        shared_(BUFFER)[i] = (u8)msg[i];
    puts_("tdx-4k: MapGPA to shared: ");
    for (volatile u8 *p = shared_(BUFFER); *p; p++)
        putc_((char)*p);

    /* 3. The wrong view on purpose: reading a private page through the shared alias is an implicit conversion. */
    private_(WRONG_VIEW)[0] = 0x5A;
    u8 seen = shared_(WRONG_VIEW)[0];
    puts_("tdx-4k: implicit to-shared: read 0x");
    hex(seen, 2);
    putc_('\n');

    /* ... and accepting a page the VMM holds as shared converts it implicitly to private. */
    map_gpa(IMPLICIT, PAGE, 1);
    if (accept(IMPLICIT, 0) != 0)
        fail("implicit to-private accept", 0);
    puts_("tdx-4k: implicit to-private: accepted a shared page, reads 0x");
    hex(private_(IMPLICIT)[0], 2);
    putc_('\n');

    /* 4. Back to private: the pages must be accepted again, and read as zeros. */
    map_gpa(BUFFER, BUFFER_SIZE, 0);
    n = accept_range(BUFFER, BUFFER_SIZE);
    puts_("tdx-4k: MapGPA to private, accepted 0x");
    hex(n, 4);
    puts_(" pages, sum 0x");
    hex(sum(private_(BUFFER), BUFFER_SIZE), 4);
    putc_('\n');

    /* 5. RTMR[2] extend, then TDG.MR.REPORT: MRTD and RTMR[2] from the TD's own TDREPORT. */
    for (int i = 0; i < 48; i++)
        private_(RTMR_DATA)[i] = (u8)i;
    struct tdcall_regs ext = { .rax = TDG_MR_RTMR_EXTEND, .rcx = RTMR_DATA, .rdx = 2 };
    tdcall(&ext);
    if (ext.rax != 0)
        fail("RTMR extend", ext.rax);
    for (int i = 0; i < 64; i++)
        private_(REPORT_DATA)[i] = (u8)(0xC0 + i);
    struct tdcall_regs rep = { .rax = TDG_MR_REPORT, .rcx = REPORT, .rdx = REPORT_DATA, .r8 = 0 };
    tdcall(&rep);
    if (rep.rax != 0)
        fail("TDG.MR.REPORT", rep.rax);
    puts_("tdx-4k: MRTD ");
    for (int i = 0; i < 48; i++)
        hex(private_(REPORT + 0x210)[i], 2);
    puts_("\ntdx-4k: RTMR2 ");
    for (int i = 0; i < 48; i++)
        hex(private_(REPORT + 0x200 + 0xD0 + 2 * 48)[i], 2);
    putc_('\n');

    /* 6. GetQuote with a shared buffer holding the TDREPORT. The VMM holds the buffer while the quote is in
     * flight; converting it back to private then meets the VMM's reference (EAGAIN, in place), and the VMM
     * finishes its work on the buffer before the conversion completes. */
    map_gpa(QUOTE, PAGE, 1);
    volatile u8 *q = shared_(QUOTE);
    *(volatile u64 *)(q + 0) = 1;       /* version */
    *(volatile u64 *)(q + 8) = 0;       /* status */
    *(volatile u32 *)(q + 16) = 1024;   /* in_len */
    *(volatile u32 *)(q + 20) = 0;      /* out_len */
    for (int i = 0; i < 1024; i++)
        q[24 + i] = private_(REPORT)[i];
    struct tdcall_regs gq = tdvmcall(TDVMCALL_GET_QUOTE, QUOTE | SHARED_BIT, PAGE, 0, 0);
    if (gq.r10 != 0)
        fail("GetQuote", gq.r10);
    puts_("tdx-4k: GetQuote: status 0x");
    hex(*(volatile u64 *)(q + 8), 16);
    puts_(" (in flight)\n");
    map_gpa(QUOTE, PAGE, 0);
    if (accept(QUOTE, 0) != 0)
        fail("accept the quote buffer", 0);
    puts_("tdx-4k: the quote buffer is private again\n");

    puts_("tdx-4k: power off\n");
    out(PORT_ACPI_PM1A, 2, 0x2000); /* SLP_EN, S5 */
    for (;;)
        ;
}
