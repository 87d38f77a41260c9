/*
 * The Linux SNP firmware (samples/linux-snp/README.md): starts from its measured VMSA, validates RAM, reads the
 * kernel, initrd and command line from fw_cfg into private memory, refuses them unless their SHA-256 hashes are the
 * ones in the measured SNP_KERNEL_HASHES page (as OVMF's BlobVerifierLibSevHashes does), and enters the kernel's
 * 64-bit entry with boot_params, the e820 map and the CC blob (secrets and CPUID pages) as setup_data.
 */
#include "boot.h"
#include "sha256.h"

#define PORT_COM1           0x3F8
#define FW_CFG_KERNEL_SIZE  0x0008
#define FW_CFG_INITRD_SIZE  0x000B
#define FW_CFG_KERNEL_DATA  0x0011
#define FW_CFG_INITRD_DATA  0x0012
#define FW_CFG_CMDLINE_SIZE 0x0014
#define FW_CFG_CMDLINE_DATA 0x0015
#define FW_CFG_SETUP_SIZE   0x0017
#define FW_CFG_SETUP_DATA   0x0018
#define E820_FILE           "etc/e820"
#define ACPI_FILE           "etc/cocolaunch/acpi"
#define VMM_E820_MAX        32
#define LEGACY_HOLE         0xA0000     /* [0xA0000, 1 MiB): VGA and ROM space, reserved but validated: Linux scans it */
#define LOW_MEGABYTE        0x100000

static int console_ready;

static void putc_(char c) { ghcb_out(PORT_COM1, 1, (u8)c); }

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

void hex(u64 v, int digits)
{
    for (int i = digits - 1; i >= 0; i--)
        putc_("0123456789abcdef"[(v >> (4 * i)) & 0xF]);
}

void dec(u64 v)
{
    char buf[21];
    int n = 0;
    do
        buf[n++] = (char)('0' + v % 10);
    while (v /= 10);
    while (n)
        putc_(buf[--n]);
}

void refuse(enum refusal code, const char *what)
{
    if (console_ready) {
        puts_("linux-snp: REFUSED (termination reason ");
        dec(TERM_SET);
        putc_('/');
        dec(code);
        puts_("): ");
        puts_(what);
        putc_('\n');
    }
    msr_protocol(((u64)code << 16) | ((u64)TERM_SET << 12) | 0x100);
    for (;;)
        __asm__ volatile("hlt");
}

/* ---- the measured hashes table (OVMF's SEV hashes table: {GUID, u16 length, data}, entries alike) ---- */

static const u8 table_guid[16] = { 0x06, 0xd6, 0x38, 0x94, 0x22, 0x4f, 0xc9, 0x4c, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21 };
static const u8 kernel_guid[16] = { 0x37, 0x94, 0xe7, 0x4d, 0xd2, 0xab, 0x7f, 0x42, 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b };
static const u8 initrd_guid[16] = { 0x31, 0xf7, 0xba, 0x44, 0x2f, 0x3a, 0xd7, 0x4b, 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d };
static const u8 cmdline_guid[16] = { 0xd8, 0x2d, 0xd0, 0x97, 0x20, 0xbd, 0x94, 0x4c, 0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a };

#define GUID_SIZE   16
#define HEADER_SIZE 18      /* GUID and u16 length */
#define HASH_SIZE   32

static int same(const u8 *a, const u8 *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

static u16 le16(const u8 *p) { return (u16)(p[0] | (p[1] << 8)); }

/*
 * BlobVerifierLibSevHashes' rule: the table must be there (its GUID, a length that fits the area); the blob's entry
 * must be found by GUID walking the entries while they fit; the entry must hold a 32-byte hash, equal to the blob's
 * SHA-256. A missing table, a missing entry and a different hash all refuse the boot.
 */
static void verify(const u8 *guid, const void *blob, u64 size, enum refusal code, const char *name)
{
    const u8 *table = (const u8 *)HASH_TABLE;
    u16 length = le16(table + GUID_SIZE);
    if (!same(table, table_guid, GUID_SIZE) || length < HEADER_SIZE || length > HASH_TABLE_SIZE)
        refuse(REFUSE_NO_HASHES, "the measured SNP_KERNEL_HASHES page holds no hashes table");
    const u8 *entry = table + HEADER_SIZE;
    for (int remaining = length - HEADER_SIZE; remaining >= HEADER_SIZE && remaining >= le16(entry + GUID_SIZE);
         remaining -= le16(entry + GUID_SIZE), entry += le16(entry + GUID_SIZE)) {
        if (le16(entry + GUID_SIZE) == 0)
            break;
        if (!same(entry, guid, GUID_SIZE))
            continue;
        u8 digest[HASH_SIZE];
        sha256((const u8 *)blob, size, digest);
        if (le16(entry + GUID_SIZE) - HEADER_SIZE == HASH_SIZE && same(entry + HEADER_SIZE, digest, HASH_SIZE))
            return;
        refuse(code, name);
    }
    refuse(code, name);
}

/* ---- the e820 map: the VMM's RAM ranges with the firmware's own areas carved out ---- */

struct vmm_e820 {
    u64 addr, size;
    u32 type;
} __attribute__((packed));

static struct e820_entry *const e820 = (struct e820_entry *)(ZERO_PAGE + BP_E820_TABLE);
static u32 e820_count;

static void add(u64 start, u64 end, u32 type)
{
    if (start >= end)
        return;
    if (e820_count == E820_MAX)
        refuse(REFUSE_LAYOUT, "more RAM ranges than e820 entries");
    e820[e820_count].addr = start;
    e820[e820_count].size = end - start;
    e820[e820_count].type = type;
    e820_count++;
}

/*
 * One VMM RAM range: the legacy hole and the secrets, CPUID and hashes pages reserved, the ACPI tables ACPI data.
 * SNP_SEC_MEM stays RAM: it holds the zero page, the command line and the setup_data, which Linux reserves itself,
 * and which it must map encrypted (an SEV guest maps e820-reserved ranges it ioremaps decrypted, setup_data too).
 */
static void add_ram(u64 start, u64 end)
{
    static const struct { u64 start, end; u32 type; } carve[] = {
        { LEGACY_HOLE, LOW_MEGABYTE, E820_RESERVED },
        { SECRETS, FIRMWARE_END, E820_RESERVED },
        { ACPI_TABLES, ACPI_TABLES + ACPI_SIZE, E820_ACPI },
    };
    u64 at = start;
    for (unsigned i = 0; i < sizeof carve / sizeof carve[0]; i++) {
        u64 s = carve[i].start > at ? carve[i].start : at, e = carve[i].end < end ? carve[i].end : end;
        if (s >= e)
            continue;
        add(at, s, E820_RAM);
        add(s, e, carve[i].type);
        at = e;
    }
    add(at, end, E820_RAM);
}

/* The RAM range holding gpa, from the map just built; refuses when gpa is not RAM. */
static u64 ram_end(u64 gpa)
{
    for (u32 i = 0; i < e820_count; i++)
        if (e820[i].type == E820_RAM && gpa >= e820[i].addr && gpa < e820[i].addr + e820[i].size)
            return e820[i].addr + e820[i].size;
    refuse(REFUSE_LAYOUT, "the kernel's load address is not RAM");
}

/* Validates every entry of the map but the shared window, which is validated when it is private again. */
static void validate_ram(struct validation *v)
{
    for (u32 i = 0; i < e820_count; i++) {
        u64 s = e820[i].addr, e = s + e820[i].size;
        if (s < SHARED_WINDOW + SHARED_WINDOW_SIZE && SHARED_WINDOW < e) {
            validate(s, SHARED_WINDOW, v);
            validate(SHARED_WINDOW + SHARED_WINDOW_SIZE, e, v);
        } else {
            validate(s, e, v);
        }
    }
}

static void print_validation(const char *what, const struct validation *v)
{
    puts_(what);
    dec(v->pages_2m);
    puts_(" x 2M + ");
    dec(v->pages_4k);
    puts_(" x 4K pages (");
    dec(v->already);
    puts_(" already valid from the launch)\n");
}

/* ---- handing over to Linux ---- */

/* The shared window back to private and validated, the GHCB last: no output after this. */
static void close_shared_window(struct validation *v)
{
    psc(BOUNCE_GPA, 1, 1, 0);
    psc(DMA_GPA, 1, 0, 0);
    console_ready = 0;
    ghcb_release();
    volatile u32 *pd = (volatile u32 *)PT_PD0;
    for (u64 at = SHARED_WINDOW; at < SHARED_WINDOW + SHARED_WINDOW_SIZE; at += PAGE_2M)
        pd[(at >> 21) * 2 + 1] = CBIT_HI;
    u64 cr3;
    __asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
    validate(SHARED_WINDOW, SHARED_WINDOW + SHARED_WINDOW_SIZE, v);
}

__attribute__((noreturn)) void main(void)
{
    ghcb_init();
    console_ready = 1;
    puts_("linux-snp: SNP firmware started from its measured VMSA: GHCB protocol 2, C-bit 51\n");
    fw_cfg_init();

    /* RAM from the VMM's map, validated before anything is copied into it. */
    struct vmm_e820 ranges[VMM_E820_MAX];
    u32 size;
    u16 key = fw_cfg_file(E820_FILE, &size);
    if (!key || size == 0 || size % sizeof ranges[0] != 0 || size > sizeof ranges)
        refuse(REFUSE_FW_CFG, "fw_cfg has no usable " E820_FILE);
    fw_cfg_read(key, ranges, size);
    int covered = 0;
    for (u32 i = 0; i < size / sizeof ranges[0]; i++) {
        if (ranges[i].type != E820_RAM)
            continue;
        add_ram(ranges[i].addr & ~(PAGE - 1), (ranges[i].addr + ranges[i].size) & ~(PAGE - 1));
        covered |= ranges[i].addr <= SHARED_WINDOW && ranges[i].addr + ranges[i].size >= ACPI_TABLES + ACPI_SIZE;
    }
    if (!covered)
        refuse(REFUSE_LAYOUT, "RAM does not cover the firmware's pages");
    struct validation v = { 0, 0, 0 };
    validate_ram(&v);
    print_validation("linux-snp: validated ", &v);

    /* The blobs, as QEMU's fw_cfg serves them: the kernel as its setup part and the rest, the command line with its NUL. */
    u32 setup_size = fw_cfg_u32(FW_CFG_SETUP_SIZE), kernel_size = fw_cfg_u32(FW_CFG_KERNEL_SIZE);
    u32 initrd_size = fw_cfg_u32(FW_CFG_INITRD_SIZE), cmdline_size = fw_cfg_u32(FW_CFG_CMDLINE_SIZE);
    u8 *setup = (u8 *)((u64)KERNEL_PM - setup_size);
    if (setup_size < 0x400 || setup_size > 0x10000 || kernel_size == 0 || cmdline_size == 0 || cmdline_size > CMDLINE_MAX)
        refuse(REFUSE_LAYOUT, "fw_cfg offers no kernel, or a setup part or command line of an impossible size");
    fw_cfg_read(FW_CFG_SETUP_DATA, setup, setup_size);
    u32 init_size = bp32(setup, BP_INIT_SIZE);
    if (bp16(setup, BP_BOOT_FLAG) != 0xAA55 || bp32(setup, BP_HEADER) != 0x53726448 || bp16(setup, BP_VERSION) < 0x020C
        || !(bp16(setup, BP_XLOADFLAGS) & XLF_KERNEL_64) || ((u32)bp8(setup, BP_SETUP_SECTS) + 1) * 512 != setup_size)
        refuse(REFUSE_LAYOUT, "the kernel is not a bzImage with a 64-bit entry (boot protocol 2.12 or later)");
    u64 low_end = ram_end(KERNEL_PM);
    u64 initrd_top = low_end < (u64)bp32(setup, BP_INITRD_ADDR_MAX) + 1 ? low_end : (u64)bp32(setup, BP_INITRD_ADDR_MAX) + 1;
    u64 initrd = (initrd_top - initrd_size) & ~(PAGE - 1);
    if (KERNEL_PM + (u64)(kernel_size > init_size ? kernel_size : init_size) > initrd || initrd_size > initrd_top)
        refuse(REFUSE_LAYOUT, "the kernel's init_size and the initrd do not fit in RAM");
    fw_cfg_read(FW_CFG_KERNEL_DATA, (void *)KERNEL_PM, kernel_size);
    fw_cfg_read(FW_CFG_INITRD_DATA, (void *)initrd, initrd_size);
    fw_cfg_read(FW_CFG_CMDLINE_DATA, (void *)CMDLINE, cmdline_size);
    puts_("linux-snp: read the kernel (");
    dec(setup_size + kernel_size);
    puts_(" bytes), the initrd (");
    dec(initrd_size);
    puts_(" bytes) and the command line (");
    dec(cmdline_size);
    puts_(" bytes) from fw_cfg into private memory\n");

    /* The setup part and the rest are contiguous, so the kernel is hashed as one blob, as QEMU hashed its file. */
    verify(kernel_guid, setup, (u64)setup_size + kernel_size, REFUSE_KERNEL, "the kernel's SHA-256 is not the one in the measured hashes table");
    verify(initrd_guid, (const void *)initrd, initrd_size, REFUSE_INITRD, "the initrd's SHA-256 is not the one in the measured hashes table");
    verify(cmdline_guid, (const void *)CMDLINE, cmdline_size, REFUSE_CMDLINE, "the command line's SHA-256 is not the one in the measured hashes table");
    puts_("linux-snp: kernel, initrd and command line match the measured hashes table\n");

    u32 acpi_size;
    key = fw_cfg_file(ACPI_FILE, &acpi_size);
    if (!key || acpi_size < 8 || acpi_size > ACPI_SIZE)
        refuse(REFUSE_FW_CFG, "fw_cfg has no usable " ACPI_FILE);
    fw_cfg_read(key, (void *)ACPI_TABLES, acpi_size);

    /* boot_params: the setup header as the kernel has it (boot.rst: 0x1F1 up to 0x202 + byte 0x201), then ours. */
    u8 *bp = (u8 *)ZERO_PAGE;
    struct e820_entry map[E820_MAX];
    copy(map, e820, e820_count * sizeof map[0]);
    zero(bp, PAGE);
    copy(e820, map, e820_count * sizeof map[0]);
    copy(bp + BP_SETUP_SECTS, setup + BP_SETUP_SECTS, BP_HEADER + bp8(setup, BP_JUMP + 1) - BP_SETUP_SECTS);
    set8(bp, BP_E820_ENTRIES, (u8)e820_count);
    set8(bp, BP_TYPE_OF_LOADER, LOADER_UNDEFINED);
    set32(bp, BP_RAMDISK_IMAGE, (u32)initrd);
    set32(bp, BP_RAMDISK_SIZE, initrd_size);
    set32(bp, BP_CMD_LINE_PTR, CMDLINE);
    set64(bp, BP_ACPI_RSDP, ACPI_TABLES);

    /* SETUP_CC_BLOB: a setup_data node whose data is the 32-bit address of the CC blob just behind it. */
    u8 *node = (u8 *)SETUP_DATA, *blob = node + 0x20;
    zero(node, 0x100);
    set32(node, 8, SETUP_CC_BLOB);
    set32(node, 12, 4);
    set32(node, 16, (u32)(u64)blob);
    set32(blob, 0, CC_BLOB_MAGIC);
    *(u16 *)(blob + 4) = 1;
    set64(blob, 8, SECRETS);
    set32(blob, 16, (u32)PAGE);
    set64(blob, 24, CPUID_PAGE);
    set32(blob, 32, (u32)PAGE);
    set64(bp, BP_SETUP_DATA, SETUP_DATA);

    puts_("linux-snp: ");
    dec(e820_count);
    puts_(" e820 entries, CC blob at 0x");
    hex((u64)blob, 6);
    puts_("; entering Linux at 0x");
    hex(KERNEL_PM + ENTRY_64, 7);
    putc_('\n');

    struct validation window = { 0, 0, 0 };
    close_shared_window(&window);
    __asm__ volatile("cli\n\tmov %0, %%rsi\n\txor %%ebp, %%ebp\n\tjmp *%1"
                     :
                     : "r"((u64)ZERO_PAGE), "r"((u64)KERNEL_PM + ENTRY_64)
                     : "rsi", "memory");
    for (;;)
        ;
}
