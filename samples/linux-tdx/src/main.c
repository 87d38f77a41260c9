/*
 * The Linux TD firmware (samples/linux-tdx/README.md): accepts the RAM the TD HOB describes as unaccepted, measures
 * the TD HOB into RTMR0 with an event in the CCEL log, writes the e820 map into the zero page the VMM measured into
 * the PayloadParam section, and enters the protected-mode kernel the VMM measured into the Payload section, through
 * the 64-bit boot protocol (RSI = the zero page).
 */
#include "eventlog.h"
#include "layout.h"
#include "tdx.h"

#define PORT_COM1       0x3F8
#define PAGE            0x1000UL

/* The TD HOB (PI spec vol. 3): a resource descriptor is type 3, length 48; the list ends at type 0xFFFF. */
#define HOB_RESOURCE    0x0003
#define HOB_END         0xFFFF
#define RESOURCE_SYSTEM_MEMORY  0x00
#define RESOURCE_UNACCEPTED     0x07

/* boot_params (Documentation/arch/x86/zero-page.rst). */
#define BP_E820_ENTRIES 0x1E8
#define BP_E820_TABLE   0x2D0
#define E820_MAX        128
#define E820_RAM        1
#define E820_RESERVED   2
#define E820_ACPI       3

/* The 64-bit entry of a bzImage's protected-mode kernel (boot.rst: load address + 0x200). */
#define ENTRY_64        0x200

/* The event data TDVF logs with the TD HOB (tdx-mrtd.md §6.4): "TdxTable" handoff pointers naming the HOB list. */
struct handoff_tables {
    u8 description_size;
    char description[9];
    u64 count;
    u8 guid[16];
    u64 table;
} __attribute__((packed));

struct e820_entry {
    u64 addr;
    u64 size;
    u32 type;
} __attribute__((packed));

static void putc_(char c)
{
    tdvmcall(TDVMCALL_IO, 1, 1, PORT_COM1, (u8)c);
}

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
    puts_("linux-tdx: FAIL: ");
    puts_(what);
    puts_(" 0x");
    hex(status, 16);
    putc_('\n');
    for (;;)
        ;
}

/* TDG.MEM.PAGE.ACCEPT at 4K: KVM maps TDX private memory at 4K only, so a 2M accept would only fail first. */
static void accept_range(u64 start, u64 length)
{
    for (u64 gpa = start; gpa < start + length; gpa += PAGE) {
        struct tdcall_regs r = { .rax = TDG_MEM_PAGE_ACCEPT, .rcx = gpa };
        tdcall(&r);
        if (r.rax != 0 && r.rax != TDX_PAGE_ALREADY_ACCEPTED)
            fail("TDG.MEM.PAGE.ACCEPT", r.rax);
    }
}

/* The e820 type of a RAM range: the firmware's own TempMem and HOB stay reserved, the PayloadParam (zero page,
 * command line, ACPI tables) is ACPI data; everything else, the kernel and initrd included, is RAM. */
static u32 e820_type(u64 start)
{
    if (start >= TEMP_MEM && start < TD_HOB + TD_HOB_SIZE)
        return E820_RESERVED;
    if (start >= PAYLOAD_PARAM && start < PAYLOAD_PARAM + PAYLOAD_PARAM_SIZE)
        return E820_ACPI;
    return E820_RAM;
}

void main(u32 vcpu)
{
    (void)vcpu;
    puts_("linux-tdx: TD started\n");
    const u8 *hob = (const u8 *)TD_HOB;
    u8 *zero_page = (u8 *)ZERO_PAGE;
    struct e820_entry *e820 = (struct e820_entry *)(zero_page + BP_E820_TABLE);
    u32 entries = 0;
    u64 accepted = 0;
    for (;;) {
        u16 type = *(const u16 *)hob, length = *(const u16 *)(hob + 2);
        if (type == HOB_END)
            break;
        if (length < 8 || hob + length > (const u8 *)(TD_HOB + TD_HOB_SIZE))
            fail("malformed TD HOB at", (u64)hob);
        if (type == HOB_RESOURCE) {
            u32 kind = *(const u32 *)(hob + 24);
            u64 start = *(const u64 *)(hob + 32), size = *(const u64 *)(hob + 40);
            if (kind == RESOURCE_UNACCEPTED) {
                accept_range(start, size);
                accepted += size;
            }
            if (kind == RESOURCE_UNACCEPTED || kind == RESOURCE_SYSTEM_MEMORY) {
                if (entries == E820_MAX)
                    fail("more RAM ranges than e820 entries", entries);
                e820[entries].addr = start;
                e820[entries].size = size;
                e820[entries].type = e820_type(start);
                entries++;
            }
        }
        hob += length;
    }

    /* The TD HOB is the VMM's description of memory, outside MRTD: measured into RTMR0 as TDVF measures it. */
    static const struct handoff_tables hob_list = {
        9, "TdxTable", 1,
        { 0xaf, 0x96, 0xbb, 0x93, 0xf2, 0xb9, 0xb8, 0x4e, 0x94, 0x62, 0xe0, 0xba, 0x74, 0x56, 0x42, 0x36 }, /* TDVF's TD HOB GUID, 93bb96af-b9f2-4eb8-9462-e0ba74564236 */
        TD_HOB,
    };
    event_log_start();
    u64 status = measure_event(MR_INDEX_RTMR0, EV_EFI_HANDOFF_TABLES2, (const void *)TD_HOB, (u64)hob - TD_HOB, &hob_list, sizeof hob_list);
    if (status != 0)
        fail("measuring the TD HOB", status);

    zero_page[BP_E820_ENTRIES] = (u8)entries;
    puts_("linux-tdx: accepted 0x");
    hex(accepted, 8);
    puts_(" bytes, ");
    hex(entries, 2);
    puts_(" e820 entries; entering Linux\n");
    __asm__ volatile("cli\n\tmov %0, %%rsi\n\txor %%ebp, %%ebp\n\tjmp *%1"
                     :
                     : "r"((u64)ZERO_PAGE), "r"((u64)PAYLOAD + ENTRY_64)
                     : "rsi", "memory");
    for (;;)
        ;
}
