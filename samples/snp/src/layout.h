/*
 * Memory map of the SEV-SNP sample (read by gas, ld and the C code; plain literals only).
 *
 *   0xFFFF0000..0xFFFFFFFF  the image: measured as firmware pages (NORMAL), so validated private memory
 *   0x00800000..0x00807FFF  SNP_SEC_MEM: ZERO pages, validated at launch: page tables, then the stack
 *   0x00808000              SNP_SECRETS: the firmware's secrets page (VMPCK0..3)
 *   0x00809000              CPUID: the CPUID page (not used by this guest)
 *   everything else         RAM the guest must PVALIDATE before use, or convert to shared
 *
 * Page-table entries for private memory carry the C-bit (51). Linear 0x100000000 + p is GPA p without it: the
 * shared view of the first GiB.
 */
#ifndef SNP_SAMPLE_LAYOUT_H
#define SNP_SAMPLE_LAYOUT_H

#define ROM_SIZE            0x10000
#define ROM_PHYS            0xFFFF0000
#define STUB_PHYS           0xFFFFF000
#define ROM_VIRT_OFFSET     0xFFFFFFFF00000000

#define SEC_MEM             0x800000
#define SEC_MEM_SIZE        0x8000
#define SECRETS             0x808000
#define CPUID_PAGE          0x809000

#define PT_PML4             (SEC_MEM + 0x0000)
#define PT_PDPT_LO          (SEC_MEM + 0x1000)
#define PT_PDPT_HI          (SEC_MEM + 0x2000)
#define PT_PD_LO            (SEC_MEM + 0x3000)
#define PT_PD_TOP           (SEC_MEM + 0x4000)
#define STACK_TOP           (SEC_MEM + SEC_MEM_SIZE)

#define CBIT_HI             0x80000                 /* bit 51, as the high dword of an entry */
#define SHARED_ALIAS        0x100000000

#endif
