/*
 * Memory map of the Linux SNP firmware (read by gas, ld and the C code; plain literals only).
 *
 *   0xFFFF0000..0xFFFFFFFF  the image: measured as firmware pages (NORMAL)
 *   0x00400000..0x005FFFFF  mapped without the C-bit while the firmware runs: the GHCB (0x400000) and the fw_cfg DMA
 *                           descriptor (0x401000), the only pages of it made shared
 *   0x00600000..0x007FFFFF  mapped without the C-bit: the fw_cfg bounce buffer, made shared as one 2M page
 *   0x00800000..0x0080FFFF  SNP_SEC_MEM: ZERO pages validated at launch: page tables, the zero page, the command
 *                           line, the CC blob behind its setup_data header, then the stack
 *   0x00810000              SNP_SECRETS: the firmware's secrets page (VMPCK0..3), handed to Linux in the CC blob
 *   0x00811000              CPUID: the CPUID page the VMM wrote and the PSP checked, handed to Linux in the CC blob
 *   0x00812000              SNP_KERNEL_HASHES: the hashes table the VMM wrote at 0x812C00, measured
 *   0x00820000..0x0082FFFF  the ACPI tables (from fw_cfg), e820 ACPI data
 *   everything else         RAM the firmware validates, then the kernel and the initrd copied out of fw_cfg
 *
 * Every shared window goes back to private (page-state change, then PVALIDATE) before Linux runs: Linux takes all
 * e820 RAM as validated.
 */
#ifndef LINUX_SNP_LAYOUT_H
#define LINUX_SNP_LAYOUT_H

#define ROM_SIZE            0x10000
#define ROM_PHYS            0xFFFF0000
#define STUB_PHYS           0xFFFFF000
#define ROM_VIRT_OFFSET     0xFFFFFFFF00000000

#define GHCB_GPA            0x400000
#define DMA_GPA             0x401000
#define BOUNCE_GPA          0x600000
#define BOUNCE_SIZE         0x200000
#define SHARED_WINDOW       0x400000                /* the two 2M pages mapped without the C-bit */
#define SHARED_WINDOW_SIZE  0x400000

#define SEC_MEM             0x800000
#define SEC_MEM_SIZE        0x10000
#define SECRETS             0x810000
#define CPUID_PAGE          0x811000
#define HASHES_PAGE         0x812000
#define HASH_TABLE          0x812C00
#define HASH_TABLE_SIZE     0x400
#define FIRMWARE_END        0x820000                /* [SECRETS, FIRMWARE_END) is e820 reserved */
#define ACPI_TABLES         0x820000
#define ACPI_SIZE           0x10000

#define PT_PML4             (SEC_MEM + 0x0000)
#define PT_PDPT_LO          (SEC_MEM + 0x1000)      /* PML4[0]: identity 0..4 GiB */
#define PT_PDPT_HI          (SEC_MEM + 0x2000)      /* PML4[511]: the image's alias, where the code is linked */
#define PT_PD0              (SEC_MEM + 0x3000)      /* four PDs of 2M pages: 0..4 GiB; the last also serves the alias */
#define ZERO_PAGE           (SEC_MEM + 0x7000)
#define CMDLINE             (SEC_MEM + 0x8000)
#define CMDLINE_MAX         0x1000
#define SETUP_DATA          (SEC_MEM + 0x9000)      /* setup_data {next, type, len} then the CC blob */
#define STACK_TOP           (SEC_MEM + SEC_MEM_SIZE)

#define CBIT_HI             0x80000                 /* bit 51, as the high dword of an entry */

/* Where the kernel's protected-mode part lands: its preferred address (boot.rst), the setup sectors just below. */
#define KERNEL_PM           0x1000000

#endif
