/*
 * The GHCB (guest-abi.md §4–§5): the MSR protocol makes the page shared and registers it, then each NAE event is
 * the exit code and its inputs in the page, their valid bits, and VMGEXIT with the page's GPA in the GHCB MSR.
 */
#include "firmware.h"

#define MSR_SEV_STATUS  0xC0010131
#define SEV_STATUS_SNP  (1ULL << 2)
#define NAE_IOIO        0x7B
#define NAE_PSC         0x80000010ULL
#define PSC_PRIVATE     1ULL
#define PSC_SHARED      2ULL
#define PSC_MAX         253             /* entries one descriptor holds in the GHCB's shared buffer */

static volatile u8 *const ghcb = (volatile u8 *)GHCB_GPA; /* mapped without the C-bit */

static void wr64(u32 at, u64 v) { *(volatile u64 *)(ghcb + at) = v; }
static u64 rd64(u32 at) { return *(volatile u64 *)(ghcb + at); }

static void mark_valid(u32 offset)
{
    u32 qword = offset / 8;
    ghcb[GHCB_VALID + qword / 8] |= (u8)(1u << (qword % 8));
}

static void begin(u64 exit_code, u64 info1, u64 info2)
{
    for (int i = 0; i < 16; i++)
        ghcb[GHCB_VALID + i] = 0;
    wr64(GHCB_EXITCODE, exit_code);
    wr64(GHCB_EXITINFO1, info1);
    wr64(GHCB_EXITINFO2, info2);
    mark_valid(GHCB_EXITCODE);
    mark_valid(GHCB_EXITINFO1);
    mark_valid(GHCB_EXITINFO2);
    *(volatile u16 *)(ghcb + GHCB_VERSION) = 2;
    *(volatile u32 *)(ghcb + GHCB_USAGE) = 0;
}

/* VMGEXIT with the GHCB; SW_EXITINFO1 is 0 on success. */
static u64 finish(void)
{
    wrmsr(MSR_GHCB, GHCB_GPA);
    vmgexit();
    return rd64(GHCB_EXITINFO1);
}

void ghcb_init(void)
{
    u64 info = msr_protocol(0x002);
    if ((info & 0xFFF) != 0x001 || (info >> 48) < 2 || !(rdmsr(MSR_SEV_STATUS) & SEV_STATUS_SNP))
        refuse(REFUSE_GHCB, "GHCB protocol 2 and SEV-SNP are required");
    /* The page was never validated, so there is nothing to rescind: straight to shared, then registered. */
    if (msr_protocol((PSC_SHARED << 52) | GHCB_GPA | 0x014) != 0x015)
        refuse(REFUSE_GHCB, "the hypervisor did not make the GHCB page shared");
    if (msr_protocol(GHCB_GPA | 0x012) != (GHCB_GPA | 0x013))
        refuse(REFUSE_GHCB, "the hypervisor did not register the GHCB");
}

/* Port output (NAE IOIO): EXITINFO1 has the port in [31:16] and the one-hot size in [6:4]; IN and string stay 0. */
void ghcb_out(u16 port, int size, u32 value)
{
    begin(NAE_IOIO, ((u64)port << 16) | ((u64)size << 4), 0);
    wr64(GHCB_RAX, value);
    mark_valid(GHCB_RAX);
    finish();
}

/*
 * Page-state change (NAE 0x80000010) of count consecutive pages of one size: descriptor entries {cur_page [11:0],
 * GFN [51:12], operation [55:52], 2M bit 56} in the shared buffer, at most PSC_MAX at a time. The hypervisor may
 * stop part way (cur_entry says where); the firmware then issues the rest again.
 */
void psc(u64 gpa, u32 count, int large, int shared)
{
    u64 step = large ? PAGE_2M : PAGE;
    volatile u8 *d = ghcb + GHCB_BUFFER;
    while (count) {
        u32 n = count < PSC_MAX ? count : PSC_MAX;
        *(volatile u16 *)(d + 0) = 0;
        *(volatile u16 *)(d + 2) = (u16)(n - 1);
        *(volatile u32 *)(d + 4) = 0;
        for (u32 i = 0; i < n; i++)
            *(volatile u64 *)(d + 8 + 8 * i) = (gpa + i * step) | ((shared ? PSC_SHARED : PSC_PRIVATE) << 52) | ((u64)large << 56);
        u32 done = 0;
        while (done < n) {
            begin(NAE_PSC, 0, 0);
            wr64(GHCB_SCRATCH, GHCB_GPA + GHCB_BUFFER);
            mark_valid(GHCB_SCRATCH);
            if (finish() != 0 || rd64(GHCB_EXITINFO2) != 0)
                refuse(REFUSE_PAGE_STATE, "the hypervisor failed a page-state change");
            done = *(volatile u16 *)d;
        }
        gpa += n * step;
        count -= n;
    }
}

/* The GHCB page back to private with the MSR protocol: after this the firmware can no longer talk to the hypervisor. */
void ghcb_release(void)
{
    if (msr_protocol((PSC_PRIVATE << 52) | GHCB_GPA | 0x014) != 0x015)
        refuse(REFUSE_PAGE_STATE, "the hypervisor did not make the GHCB page private again");
}
