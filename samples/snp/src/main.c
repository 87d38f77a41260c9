/*
 * The SEV-SNP sample guest (samples/snp/README.md): talks to the hypervisor through the GHCB, validates its
 * memory with PVALIDATE, converts pages with page-state changes, and asks the firmware for an attestation report
 * in an AES-256-GCM guest message under VMPCK0, whose MEASUREMENT it prints. Every byte of output is a GHCB IOIO
 * event: the guest cannot execute OUT (it would be a #VC).
 */
#include "layout.h"
#include "ghcb.h"
#include "aes_gcm.h"

#define PAGE            0x1000UL
#define CBIT            (1UL << 51)
#define GHCB_GPA        0x400000UL
#define REQUEST_GPA     0x401000UL
#define RESPONSE_GPA    0x402000UL
#define VALIDATED       0x200000UL      /* 2 MiB the guest validates */
#define MESSAGE         (VALIDATED + 0x1000) /* private copies of the guest messages */
#define AP_VMSA         (VALIDATED + 0x3000) /* the AP's save area: validated, 4K, not 2 MiB aligned */
#define AP_STACK_TOP    (VALIDATED + 0x5000)
#define AP_MAILBOX      (VALIDATED + 0x5000) /* [0] = RDI + 1 when the AP ran, [1] its APIC ID, [2] its RDI */
#define AP_ARG          0x5EEDUL
#define MSR_SEV_STATUS  0xC0010131
#define PORT_DEBUGCON   0xE9
#define PORT_DEBUG_EXIT 0xF4
#define PORT_ACPI_PM1A  0x604

static volatile u8 *shared_(u64 gpa) { return (volatile u8 *)(SHARED_ALIAS + gpa); }
static volatile u8 *private_(u64 gpa) { return (volatile u8 *)gpa; }

static u64 rd64(volatile u8 *p) { return *(volatile u64 *)p; }
static void wr64(volatile u8 *p, u64 v) { *(volatile u64 *)p = v; }

static void ghcb_valid(u32 offset)
{
    u32 bit = offset / 8;
    shared_(GHCB_GPA)[GHCB_VALID + bit / 8] |= (u8)(1u << (bit % 8));
}

/* One NAE event through the GHCB; returns SW_EXITINFO1 (0 = success). */
static u64 ghcb_call(u64 exit_code, u64 info1, u64 info2)
{
    volatile u8 *g = shared_(GHCB_GPA);
    for (int i = 0; i < 16; i++)
        g[GHCB_VALID + i] = 0;
    wr64(g + GHCB_EXITCODE, exit_code);
    wr64(g + GHCB_EXITINFO1, info1);
    wr64(g + GHCB_EXITINFO2, info2);
    ghcb_valid(GHCB_EXITCODE);
    ghcb_valid(GHCB_EXITINFO1);
    ghcb_valid(GHCB_EXITINFO2);
    *(volatile unsigned short *)(g + GHCB_VERSION) = 2;
    *(volatile u32 *)(g + GHCB_USAGE) = 0;
    wrmsr(MSR_GHCB, GHCB_GPA);
    vmgexit();
    return rd64(g + GHCB_EXITINFO1);
}

/* IOIO (NAE 0x7B) OUT: EXITINFO1 has no IN or string bit, the size one-hot at bits 4-6, the port at [31:16]. */
static void out(u32 port, u32 size, u64 value)
{
    volatile u8 *g = shared_(GHCB_GPA);
    for (int i = 0; i < 16; i++)
        g[GHCB_VALID + i] = 0;
    wr64(g + GHCB_RAX, value);
    ghcb_valid(GHCB_RAX);
    wr64(g + GHCB_EXITCODE, 0x7B);
    wr64(g + GHCB_EXITINFO1, ((u64)port << 16) | ((u64)size << 4));
    wr64(g + GHCB_EXITINFO2, 0);
    ghcb_valid(GHCB_EXITCODE);
    ghcb_valid(GHCB_EXITINFO1);
    ghcb_valid(GHCB_EXITINFO2);
    *(volatile unsigned short *)(g + GHCB_VERSION) = 2;
    wrmsr(MSR_GHCB, GHCB_GPA);
    vmgexit();
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

static void terminate(u64 reason)
{
    msr_protocol((reason << 16) | (1UL << 12) | 0x100); /* set 1 */
    for (;;)
        ;
}

static void fail(const char *what, u64 value)
{
    puts_("FAIL: ");
    puts_(what);
    puts_(" 0x");
    hex(value, 16);
    putc_('\n');
    out(PORT_DEBUG_EXIT, 4, 1);
    for (;;)
        ;
}

/*
 * Validates [gpa, gpa + size): 2M first, falling back to 512 x 4K on FAIL_SIZEMISMATCH, as Linux does. Counts the
 * 2M successes, the 4K pages and the size mismatches.
 */
static u64 validate_range(u64 gpa, u64 size, u64 *pages2m, u64 *mismatches)
{
    u64 pages4k = 0;
    for (u64 p = gpa; p < gpa + size;) {
        int unchanged;
        if ((p & 0x1FFFFF) == 0 && p + 0x200000 <= gpa + size) {
            u32 rc = pvalidate(p, 1, 1, &unchanged);
            if (rc == 0 && !unchanged) {
                ++*pages2m;
                p += 0x200000;
                continue;
            }
            if (rc != 6)
                fail("PVALIDATE 2M", rc | ((u64)unchanged << 32));
            ++*mismatches;
        }
        u32 rc = pvalidate(p, 0, 1, &unchanged);
        if (rc != 0 || unchanged)
            fail("PVALIDATE 4K", rc | ((u64)unchanged << 32));
        pages4k++;
        p += PAGE;
    }
    return pages4k;
}

/* Page-state change through the GHCB (NAE 0x80000010): one descriptor, 4K entries, op 1 private / 2 shared. */
static void psc(u64 gpa, u32 pages, int shared)
{
    volatile u8 *b = shared_(GHCB_GPA) + GHCB_BUFFER;
    *(volatile unsigned short *)(b + 0) = 0;
    *(volatile unsigned short *)(b + 2) = (unsigned short)(pages - 1);
    *(volatile u32 *)(b + 4) = 0;
    for (u32 i = 0; i < pages; i++)
        wr64(b + 8 + 8 * i, (((gpa >> 12) + i) << 12) | ((u64)(shared ? 2 : 1) << 52));
    wr64(shared_(GHCB_GPA) + GHCB_SCRATCH, GHCB_GPA + GHCB_BUFFER);
    u64 info1 = ghcb_call(0x80000010, 0, 0);
    ghcb_valid(GHCB_SCRATCH);
    u64 info2 = rd64(shared_(GHCB_GPA) + GHCB_EXITINFO2);
    if (info1 != 0 || info2 != 0)
        fail("page-state change", info2);
}

#ifdef SCENARIO
/* The misbehaving variants (build.sh builds one image per scenario), for the tests. */
static void misbehave(void)
{
#if SCENARIO == 1
    /* PVALIDATE of a shared page (the GHCB): the RMP #NPF is an implicit conversion back to private, after
     * which the GHCB is no longer shared and the next VMGEXIT cannot be served. */
    int unchanged;
    puts_("snp: PVALIDATE of the shared GHCB page\n");
    pvalidate(GHCB_GPA, 0, 1, &unchanged);
    puts_("snp: still talking (wrong)\n");
#elif SCENARIO == 2
    /* A private page that was never validated: #VC 0x404, and with no IDT a triple fault. */
    puts_("snp: reading an unvalidated page\n");
    (void)private_(0x600000)[0];
    puts_("snp: read it (wrong)\n");
#endif
}
#endif

/* VMSA fields (Linux struct sev_es_save_area) the AP needs; segments are selector u16, attrib u16, limit u32, base u64. */
static void vmsa_seg(volatile u8 *v, u32 at, u16 sel, u16 attrib, u32 limit, u64 base)
{
    *(volatile u16 *)(v + at) = sel;
    *(volatile u16 *)(v + at + 2) = attrib;
    *(volatile u32 *)(v + at + 4) = limit;
    wr64(v + at + 8, base);
}

static inline u64 read_cr(int n)
{
    u64 v = 0;
    if (n == 0)
        __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    else if (n == 3)
        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    else
        __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

/* The AP, started by KVM from the VMSA the BSP wrote. It has no GHCB of its own, so it asks for its APIC ID with the
 * GHCB MSR protocol (CPUID leaf 1, EBX), posts it in the mailbox and halts. */
__attribute__((noreturn, used)) static void ap_main(u64 arg)
{
    u64 ebx = msr_protocol((1UL << 32) | (1UL << 30) | 0x004) >> 32;
    volatile u64 *mailbox = (volatile u64 *)private_(AP_MAILBOX);
    mailbox[1] = ebx >> 24;
    mailbox[2] = arg;
    __atomic_store_n(&mailbox[0], arg + 1, __ATOMIC_RELEASE);
    for (;;)
        __asm__ volatile("hlt");
}

/* 7. AP creation (NAE 0x80000013): a 64-bit VMSA for APIC ID 1 on the BSP's page tables, made a VMSA page with
 * RMPADJUST. With one vCPU KVM refuses it (no vCPU has APIC ID 1). */
static void start_ap(void)
{
    volatile u8 *v = private_(AP_VMSA);
    for (int i = 0; i < 4096; i++)
        v[i] = 0;
    struct __attribute__((packed)) { u16 limit; u64 base; } gdtr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    vmsa_seg(v, 0x000, 0x10, 0xC93, 0xFFFFFFFF, 0);      /* ES */
    vmsa_seg(v, 0x010, 0x18, 0xA9B, 0xFFFFFFFF, 0);      /* CS: 64-bit code */
    vmsa_seg(v, 0x020, 0x10, 0xC93, 0xFFFFFFFF, 0);      /* SS */
    vmsa_seg(v, 0x030, 0x10, 0xC93, 0xFFFFFFFF, 0);      /* DS */
    vmsa_seg(v, 0x040, 0x10, 0xC93, 0xFFFFFFFF, 0);      /* FS */
    vmsa_seg(v, 0x050, 0x10, 0xC93, 0xFFFFFFFF, 0);      /* GS */
    vmsa_seg(v, 0x060, 0, 0, gdtr.limit, gdtr.base);     /* GDTR */
    vmsa_seg(v, 0x070, 0, 0x82, 0xFFFF, 0);              /* LDTR */
    vmsa_seg(v, 0x090, 0, 0x8B, 0xFFFF, 0);              /* TR */
    wr64(v + 0x0D0, 0x1500);                             /* EFER: LME, LMA, SVME */
    wr64(v + 0x148, read_cr(4));
    wr64(v + 0x150, read_cr(3));
    wr64(v + 0x158, read_cr(0));
    wr64(v + 0x160, 0x400);                              /* DR7 */
    wr64(v + 0x168, 0xFFFF0FF0);                         /* DR6 */
    wr64(v + 0x170, 0x2);                                /* RFLAGS */
    wr64(v + 0x178, (u64)ap_main);                       /* RIP */
    wr64(v + 0x1D8, AP_STACK_TOP);                       /* RSP */
    wr64(v + 0x268, 0x0007040600070406UL);               /* G_PAT */
    wr64(v + 0x338, AP_ARG);                             /* RDI: ap_main's argument */
    u64 features = rdmsr(MSR_SEV_STATUS) >> 2;           /* SEV_FEATURES as the VM has them: SNP active */
    wr64(v + 0x3B0, features);
    wr64(v + 0x3E8, 1);                                  /* XCR0 */
    *(volatile u32 *)(v + 0x408) = 0x1F80;               /* MXCSR */
    *(volatile u16 *)(v + 0x410) = 0x037F;               /* x87 FCW */
    for (int i = 0; i < 3; i++)
        ((volatile u64 *)private_(AP_MAILBOX))[i] = 0;

    u32 rc = rmpadjust(AP_VMSA, 0, (1UL << 16) | 1);
    if (rc != 0)
        fail("RMPADJUST of the VMSA page", rc);
    volatile u8 *g = shared_(GHCB_GPA);
    wr64(g + GHCB_RAX, features);
    for (int i = 0; i < 16; i++)
        g[GHCB_VALID + i] = 0;
    ghcb_valid(GHCB_RAX);
    wr64(g + GHCB_EXITCODE, 0x80000013);
    wr64(g + GHCB_EXITINFO1, (1UL << 32) | 1);           /* APIC ID 1, create */
    wr64(g + GHCB_EXITINFO2, AP_VMSA);
    ghcb_valid(GHCB_EXITCODE);
    ghcb_valid(GHCB_EXITINFO1);
    ghcb_valid(GHCB_EXITINFO2);
    *(volatile unsigned short *)(g + GHCB_VERSION) = 2;
    *(volatile u32 *)(g + GHCB_USAGE) = 0;
    wrmsr(MSR_GHCB, GHCB_GPA);
    vmgexit();
    u64 info1 = rd64(g + GHCB_EXITINFO1), info2 = rd64(g + GHCB_EXITINFO2);
    if (info1 != 0) {
        puts_("snp: AP creation of APIC ID 0x01 refused: exitinfo 0x");
        hex(info1, 1);
        puts_("/0x");
        hex(info2, 1);
        puts_(" (no such vCPU)\n");
        return;
    }

    volatile u64 *mailbox = (volatile u64 *)private_(AP_MAILBOX);
    for (u64 spins = 0; __atomic_load_n(&mailbox[0], __ATOMIC_ACQUIRE) != AP_ARG + 1; spins++)
        if (spins == 100000000UL)
            fail("the AP never ran", 0);
    puts_("snp: AP 0x01 ran from its VMSA: APIC ID 0x");
    hex(mailbox[1], 2);
    puts_(", RDI 0x");
    hex(mailbox[2], 4);
    putc_('\n');
}

__attribute__((noreturn)) void main(void)
{
    /* 1. The GHCB MSR protocol: SEV information, then the GHCB page made shared and registered. */
    u64 info = msr_protocol(0x002);
    if ((info & 0xFFF) != 0x001)
        terminate(1);
    int unchanged;
    pvalidate(GHCB_GPA, 0, 0, &unchanged); /* rescind first: shared pages must not stay validated */
    u64 r = msr_protocol((2UL << 52) | ((GHCB_GPA >> 12) << 12) | 0x014);
    if (r != 0x015)
        terminate(2);
    r = msr_protocol(((GHCB_GPA >> 12) << 12) | 0x012);
    if (r != (((GHCB_GPA >> 12) << 12) | 0x013))
        terminate(3);

    puts_("snp: guest started, GHCB protocol 0x");
    hex(info >> 48, 1);
    puts_(", C-bit 0x");
    hex((info >> 24) & 0xFF, 2);
    putc_('\n');

    /* 2. CPUID through the GHCB (NAE 0x72): leaf 0x8000001F. */
    volatile u8 *g = shared_(GHCB_GPA);
    wr64(g + GHCB_RAX, 0x8000001F);
    wr64(g + GHCB_RCX, 0);
    ghcb_valid(GHCB_RAX);
    ghcb_valid(GHCB_RCX);
    ghcb_call(0x72, 0, 0);
    u64 eax = rd64(g + GHCB_RAX), ebx = rd64(g + GHCB_RBX); /* before printing reuses the GHCB */
    puts_("snp: CPUID 0x8000001f: eax 0x");
    hex(eax & 0xFFFFFFFF, 8);
    puts_(" (SEV, SEV-ES, SNP), ebx 0x");
    hex(ebx & 0xFFFFFFFF, 8);
    puts_(" (C-bit 51)\n");

    /* 3. Validate 2 MiB of private memory. */
    u64 pages2m = 0, mismatches = 0;
    u64 n = validate_range(VALIDATED, 0x200000, &pages2m, &mismatches);
    puts_("snp: validated 2 MiB: 0x");
    hex(pages2m, 4);
    puts_(" x 2M, 0x");
    hex(n, 4);
    puts_(" x 4K");
    puts_(mismatches ? " (2M PVALIDATE: size mismatch)\n" : "\n");

#ifdef SCENARIO
    misbehave();
#endif

    /* 4. The request and response pages go shared with one page-state change of two entries. */
    pvalidate(REQUEST_GPA, 0, 0, &unchanged);
    pvalidate(RESPONSE_GPA, 0, 0, &unchanged);
    psc(REQUEST_GPA, 2, 1);

    /* 5. MSG_REPORT_REQ under VMPCK0, from the secrets page; sequence number = the OS area's counter + 1. */
    volatile u8 *secrets = private_(SECRETS);
    u8 key[32];
    for (int i = 0; i < 32; i++)
        key[i] = secrets[0x20 + i];
    u64 seqno = *(volatile u32 *)(secrets + 0xA0) + 1;
    u8 *msg = (u8 *)MESSAGE;
    for (int i = 0; i < 4096; i++)
        msg[i] = 0;
    for (int i = 0; i < 8; i++)
        msg[0x20 + i] = (u8)(seqno >> (8 * i));
    msg[0x30] = 1;      /* AES-256-GCM */
    msg[0x31] = 1;      /* header version */
    msg[0x32] = 96;     /* header size */
    msg[0x34] = 5;      /* MSG_REPORT_REQ */
    msg[0x35] = 1;      /* message version */
    msg[0x36] = 96;     /* payload size */
    for (int i = 0; i < 64; i++)
        msg[96 + i] = (u8)(0xC0 + i); /* REPORT_DATA; vmpl 0 and the reserved bytes stay zero */
    u8 iv[12] = { 0 };
    for (int i = 0; i < 8; i++)
        iv[i] = (u8)(seqno >> (8 * i));
    aes256_gcm_encrypt(key, iv, msg + 0x30, 0x30, msg + 96, 96, msg);
    for (int i = 0; i < 4096; i++) {
        shared_(REQUEST_GPA)[i] = msg[i];
        shared_(RESPONSE_GPA)[i] = 0;
    }
    if (ghcb_call(0x80000011, REQUEST_GPA, RESPONSE_GPA) != 0 || rd64(g + GHCB_EXITINFO2) != 0)
        fail("guest request", rd64(g + GHCB_EXITINFO2));

    u8 *rsp = (u8 *)(MESSAGE + 0x1000);
    for (int i = 0; i < 4096; i++)
        rsp[i] = shared_(RESPONSE_GPA)[i];
    u32 size = (u32)rsp[0x36] | ((u32)rsp[0x37] << 8);
    u64 rseq = 0;
    for (int i = 0; i < 8; i++)
        rseq |= (u64)rsp[0x20 + i] << (8 * i);
    if (rsp[0x34] != 6 || rseq != seqno + 1 || size > 4000)
        fail("response header", rseq);
    for (int i = 0; i < 8; i++)
        iv[i] = (u8)(rseq >> (8 * i));
    if (aes256_gcm_decrypt(key, iv, rsp + 0x30, 0x30, rsp + 96, size, rsp) != 0)
        fail("response tag", 0);
    u8 *payload = rsp + 96;
    if (payload[0] | payload[1] | payload[2] | payload[3])
        fail("report status", payload[0]);
    u8 *report = payload + 0x20;
    puts_("snp: report version 0x");
    hex(report[0], 2);
    puts_(", policy 0x");
    hex(*(u64 *)(report + 0x08), 16);
    puts_(", vmpl ");
    hex(report[0x30], 1);
    putc_('\n');
    for (int i = 0; i < 64; i++)
        if (report[0x50 + i] != (u8)(0xC0 + i))
            fail("REPORT_DATA", i);
    puts_("snp: MEASUREMENT ");
    for (int i = 0; i < 48; i++)
        hex(report[0x90 + i], 2);
    putc_('\n');

    /* 6. Back to private: a page-state change, then PVALIDATE. What the page holds now is undefined (on hardware
     * the host's bytes decrypted with the guest's key), so the guest writes it before it reads it. */
    psc(REQUEST_GPA, 1, 0);
    if (pvalidate(REQUEST_GPA, 0, 1, &unchanged) != 0 || unchanged)
        fail("PVALIDATE after PSC", 0);
    for (int i = 0; i < 4096; i++)
        private_(REQUEST_GPA)[i] = (u8)i;
    for (int i = 0; i < 4096; i++)
        if (private_(REQUEST_GPA)[i] != (u8)i)
            fail("private page read back", i);
    puts_("snp: request page private again, validated, written and read back\n");

    start_ap();
    puts_("snp: power off\n");
    out(PORT_ACPI_PM1A, 2, 0x2000);
    for (;;)
        ;
}
